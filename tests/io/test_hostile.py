"""Issue 11's reproductions in the reader, the writers and the API: each a clean verdict (a located
`CaffecxError`, exit 2) or a result; nothing written when a command fails."""

from __future__ import annotations

import os
import re
import time
import tracemalloc
from pathlib import Path

import numpy as np
import pytest
from paths import LENET, REPO

from caffecx.cli import main
from caffecx.errors import CaffecxError, ParseError, ShapeError, WeightsError
from caffecx.graph import load_net
from caffecx.io import read_caffemodel, read_net_text, read_solver
from caffecx.io.outputs import Outputs, check_folder, check_target
from caffecx.io.textscan import outline
from caffecx.proto import caffe_pb2

LENET_NET = REPO / "prototxt" / "lenet.prototxt"
WEIGHTS = LENET / "lenet_iter_1000.caffemodel"


def run_cli(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    status = main(list(argv))
    out, err = capsys.readouterr()
    return status, out, err


def listing(folder: Path) -> list[str]:
    return sorted(str(p.relative_to(folder)) for p in folder.rglob("*"))


# -- outputs ---------------------------------------------------------------------------------------

@pytest.mark.parametrize("argv", [
    ["lenet", "--out-dir", "afile"],
    ["lenet", "--out-dir", "afile/sub"],
    ["upgrade", str(LENET_NET), "-o", "adir"],
    ["upgrade", str(LENET_NET), "-o", "afile/x.prototxt"],
    ["upgrade", str(LENET_NET), "-o", "missing/x.prototxt"],
    ["run", str(LENET_NET), "--out", "x.xyz"],
    ["run", str(LENET_NET), "--out", "adir"],
    ["run", str(LENET_NET), "--out", "afile/x.npz"],
    ["init", str(LENET_NET), "-o", "adir"],
    ["init", str(LENET_NET), "-o", "afile/w.caffemodel"],
])
def test_an_output_that_cannot_be_written_is_a_located_error(tmp_path, monkeypatch, capsys, argv) -> None:
    monkeypatch.chdir(tmp_path)
    Path("afile").write_text("keep")
    Path("adir").mkdir()
    before = listing(tmp_path)
    status, out, err = run_cli(capsys, *argv)
    assert status == 2, err
    assert err.startswith("caffecx: ") and "Traceback" not in err
    assert any(name in err for name in ("afile", "adir", "x.xyz", "missing"))
    assert listing(tmp_path) == before
    assert Path("afile").read_text() == "keep"


def test_read_only_folder_is_refused(tmp_path, capsys) -> None:
    ro = tmp_path / "ro"
    ro.mkdir()
    ro.chmod(0o555)
    try:
        if os.geteuid() == 0:
            pytest.skip("root writes in a read-only folder (emulated in the other cases)")
        status, _, err = run_cli(capsys, "upgrade", str(LENET_NET), "-o", str(ro / "out.prototxt"))
        assert status == 2 and "permission denied" in err
        assert list(ro.iterdir()) == []
    finally:
        ro.chmod(0o755)


def test_lenet_writes_both_files_or_neither(tmp_path, monkeypatch) -> None:
    from caffecx.lenet import LenetAnalysis, lenet_analysis, write_report

    result = lenet_analysis()
    out = tmp_path / "new" / "deep"

    def broken(self: LenetAnalysis, chart: str | None = None) -> str:
        raise CaffecxError("markdown failed")

    monkeypatch.setattr(LenetAnalysis, "to_markdown", broken)
    with pytest.raises(CaffecxError):
        write_report(result, out)
    assert listing(tmp_path) == []  # no PNG, no folder made for it
    monkeypatch.undo()
    md, png = write_report(result, out)
    assert md.is_file() and png.is_file() and sorted(p.name for p in out.iterdir()) == [md.name, png.name]


def test_outputs_roll_back_when_a_move_fails(tmp_path) -> None:
    first, second = tmp_path / "a.txt", tmp_path / "b.txt"
    first.write_text("old a")
    with pytest.raises(CaffecxError, match="is a folder"):
        with Outputs() as out:
            out.add(first, b"new a")
            out.add(second, b"new b")
            second.mkdir()  # appears after validation: the commit must not leave a half-done set
    assert first.read_text() == "old a" and second.is_dir()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["a.txt", "b.txt"]


def test_outputs_discard_on_any_exception(tmp_path) -> None:
    with pytest.raises(KeyboardInterrupt):
        with Outputs() as out:
            out.add(tmp_path / "made" / "x.bin", b"x", make_parents=True)
            raise KeyboardInterrupt
    assert listing(tmp_path) == []


def test_outputs_keep_mode_and_replace_whole(tmp_path) -> None:
    target = tmp_path / "x.txt"
    target.write_text("old")
    target.chmod(0o640)
    with Outputs() as out:
        out.add(target, b"new")
    assert target.read_text() == "new" and target.stat().st_mode & 0o777 == 0o640
    assert [p.name for p in tmp_path.iterdir()] == ["x.txt"]


def test_targets_are_validated_before_anything(tmp_path) -> None:
    (tmp_path / "f").write_text("")
    with pytest.raises(CaffecxError, match="unknown suffix"):
        check_target(tmp_path / "x.xyz", suffixes=(".png", ".svg"))
    with pytest.raises(CaffecxError, match="is a file, not a folder"):
        check_folder(tmp_path / "f" / "sub")
    with pytest.raises(CaffecxError, match="does not exist"):
        check_target(tmp_path / "no" / "x.png", make_parents=False)
    with pytest.raises(CaffecxError, match="names a folder"):
        check_target(str(tmp_path) + os.sep)
    with pytest.raises(CaffecxError, match="written twice"):
        with Outputs() as out:
            out.add(tmp_path / "x", b"1")
            out.add(tmp_path / "x", b"2")
    with pytest.raises(TypeError):
        check_target(None)  # type: ignore[arg-type]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["f"]


# -- the text/path decision ------------------------------------------------------------------------

@pytest.mark.parametrize("name", ["a: b.prototxt", "a{b}.prototxt", "two\nlines.prototxt"])
def test_a_string_naming_an_existing_file_is_a_path(tmp_path, monkeypatch, capsys, name) -> None:
    monkeypatch.chdir(tmp_path)
    Path(name).write_bytes(LENET_NET.read_bytes())
    status, _, err = run_cli(capsys, "upgrade", name, "-o", "up.prototxt")
    assert status == 0, err
    assert read_net_text("up.prototxt").param == read_net_text(LENET_NET).param
    assert load_net(name).name == "LeNet"


# -- solver cycles ---------------------------------------------------------------------------------

def test_solver_cycles_are_refused_naming_the_files(tmp_path, monkeypatch, capsys) -> None:
    monkeypatch.chdir(tmp_path)
    Path("self.prototxt").write_text('net: "self.prototxt"\nbase_lr: 0.01\n')
    Path("a.prototxt").write_text('net: "b.prototxt"\nbase_lr: 0.01\n')
    Path("b.prototxt").write_text('train_net: "a.prototxt"\nbase_lr: 0.01\n')
    Path("t.prototxt").write_text(f'train_net: "{LENET_NET}"\ntest_net: "t.prototxt"\nbase_lr: 0.01\n')
    with pytest.raises(ParseError, match="cycle: self.prototxt -> self.prototxt"):
        read_solver("self.prototxt")
    with pytest.raises(ParseError, match="a.prototxt -> b.prototxt -> a.prototxt"):
        load_net("a.prototxt")
    with pytest.raises(ParseError, match="cycle"):
        read_solver("t.prototxt")
    for command in ("analyze", "upgrade"):
        status, _, err = run_cli(capsys, command, "a.prototxt")
        assert status == 2 and "cycle" in err and "RecursionError" not in err


# -- bytes that are not UTF-8 ----------------------------------------------------------------------

@pytest.mark.parametrize("comment", ["# réseau de neurones".encode("latin-1"), "# 第一层卷积".encode("gbk")])
def test_non_utf8_comments_are_read_as_caffe_reads_them(tmp_path, capsys, comment) -> None:
    text = LENET_NET.read_bytes()
    path = tmp_path / "commented.prototxt"
    path.write_bytes(comment + b"\n" + text.replace(b'name: "conv1"', b'name: "conv1" ' + comment))
    assert load_net(path).layer("conv1").type == "Convolution"
    status, out, err = run_cli(capsys, "analyze", str(path), "--format", "json")
    assert status == 0, err


def test_a_non_utf8_byte_in_a_string_is_kept_byte_for_byte(tmp_path) -> None:
    path = tmp_path / "named.prototxt"
    path.write_bytes(LENET_NET.read_bytes().replace(b'name: "conv1"', b'name: "conv\xe91"'))
    assert "conv\xe91" in [node.name for node in load_net(path)]


def test_an_invalid_byte_outside_comments_is_located(tmp_path, capsys) -> None:
    text = LENET_NET.read_bytes().replace(b"num_output: 20", b"num_output: 20 \xe9", 1)
    path = tmp_path / "bad.prototxt"
    path.write_bytes(text)
    line = text[: text.index(b"\xe9")].count(b"\n") + 1
    col = text.index(b"\xe9") - text.rfind(b"\n", 0, text.index(b"\xe9"))
    with pytest.raises(ParseError) as info:
        load_net(path)
    assert (info.value.location.line, info.value.location.column) == (line, col)
    status, _, err = run_cli(capsys, "analyze", str(path))
    assert status == 2 and f"bad.prototxt:{line}:{col}:" in err and "caffemodel" not in err.split(":")[-1][:20]


# -- big strings -----------------------------------------------------------------------------------

@pytest.mark.parametrize("body", ["a" * 5_000_000, "\\n" * 1_000_000], ids=["plain", "escapes"])
def test_a_5mb_quoted_string_scans_in_linear_time_and_constant_memory(body) -> None:
    text = f'name: "{body}"\nlayer {{ name: "d" type: "Input" top: "d" input_param {{ shape {{ dim: 1 }} }} }}\n'
    started = time.perf_counter()
    tracemalloc.start()
    try:
        names, blocks = outline(text)
        scan_peak = tracemalloc.get_traced_memory()[1]
        tracemalloc.reset_peak()
        net = read_net_text(text)
        read_peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert names == ["name", "layer"] and blocks[0].name == "d" and len(net.param.layer) == 1
    assert time.perf_counter() - started < 20
    assert scan_peak < 2_000_000  # constant: no regex state per character (was 870 MB for 5 MB)
    assert read_peak < 100 * len(text)  # protobuf's own parse of the string: linear


# -- Caffe's limits --------------------------------------------------------------------------------

def _input_net(tmp_path: Path, dims: list[int]) -> Path:
    path = tmp_path / "shape.prototxt"
    shape = " ".join(f"dim: {d}" for d in dims)
    path.write_text(f'name: "n"\nlayer {{ name: "data" type: "Input" top: "data" '
                    f'input_param {{ shape {{ {shape} }} }} }}\n'
                    'layer { name: "relu" type: "ReLU" bottom: "data" top: "r" }\n')
    return path


@pytest.mark.parametrize(("dims", "reason"), [
    ([1, -3, 4, 4], "Check failed: shape[i] >= 0 (-3 vs. 0)"),
    ([1] * 33, "Check failed: shape.size() <= kMaxBlobAxes (33 vs. 32)"),
    ([65536, 65536], "blob size exceeds INT_MAX"),
    ([2**40], "does not fit Caffe's int"),
])
def test_caffe_blob_limits_are_refused_with_caffes_reason(tmp_path, capsys, dims, reason) -> None:
    path = _input_net(tmp_path, dims)
    with pytest.raises(ShapeError, match=re.escape(reason)):
        from caffecx.plan import plan_net
        plan_net(load_net(path))
    status, out, err = run_cli(capsys, "analyze", str(path))
    assert status == 2 and f"{path}:2:1: layer 'data':" in err and out == ""


def test_int32_options_are_checked(capsys) -> None:
    for option in (["--level", "2147483648"], ["--batch", "2147483648"], ["--input-shape", "data=1,1,-28,28"]):
        status, _, err = run_cli(capsys, "analyze", str(LENET_NET), *option)
        assert status == 2 and "Traceback" not in err, option


def test_a_uint32_field_beyond_int32_is_refused(tmp_path, capsys) -> None:
    path = tmp_path / "big.prototxt"
    path.write_text(LENET_NET.read_text().replace("num_output: 20", "num_output: 4294967295", 1))
    status, _, err = run_cli(capsys, "analyze", str(path))
    assert status == 2 and "layer 'conv1'" in err


# -- binary blob shapes ----------------------------------------------------------------------------

@pytest.mark.parametrize(("dims", "reason"), [
    ([2**32, 2**32], "does not fit Caffe's int"),
    ([-2, -250], "Check failed: shape[i] >= 0 (-2 vs. 0)"),
    ([2**31 - 1, 2], "blob size exceeds INT_MAX"),
    ([1] * 40, "kMaxBlobAxes"),
])
def test_caffemodel_blob_shapes_are_checked_before_numpy(tmp_path, capsys, dims, reason) -> None:
    model = caffe_pb2.NetParameter()
    model.ParseFromString(WEIGHTS.read_bytes())
    blob = model.layer[1].blobs[0]
    blob.shape.ClearField("dim")
    blob.shape.dim.extend(dims)
    blob.ClearField("data")
    path = tmp_path / "w.caffemodel"
    path.write_bytes(model.SerializeToString())
    with pytest.raises(WeightsError) as info:
        read_caffemodel(path)
    assert reason in info.value.message
    assert info.value.location.path == str(path) and info.value.location.layer == model.layer[1].name
    status, _, err = run_cli(capsys, "analyze", str(LENET_NET), "--weights", str(path))
    assert status == 2 and "Traceback" not in err


def test_legacy_negative_dims_are_checked(tmp_path) -> None:
    model = caffe_pb2.NetParameter()
    model.ParseFromString(WEIGHTS.read_bytes())
    blob = model.layer[1].blobs[0]
    blob.ClearField("shape")
    blob.num, blob.channels, blob.height, blob.width = -2, -250, 1, 1
    path = tmp_path / "w.caffemodel"
    path.write_bytes(model.SerializeToString())
    with pytest.raises(WeightsError, match="shape"):
        read_caffemodel(path)


# -- the Python API --------------------------------------------------------------------------------

@pytest.mark.parametrize("call", [
    lambda: load_net(None),
    lambda: load_net(123),
    lambda: load_net(LENET_NET, weights=3.5),
    lambda: load_net(LENET_NET, phase=1),
    lambda: load_net(LENET_NET, level="2"),
    lambda: load_net(LENET_NET, stages="abc"),
    lambda: read_caffemodel(123),
    lambda: read_caffemodel(None),
    lambda: read_net_text(b"bytes"),
    lambda: read_solver(None),
])
def test_wrong_argument_types_raise_a_plain_error(call) -> None:
    with pytest.raises((CaffecxError, TypeError)) as info:
        call()
    assert type(info.value) is TypeError or isinstance(info.value, CaffecxError)
    assert "object has no attribute" not in str(info.value)


@pytest.mark.parametrize("value", ["abc", None, {"a": 1}, object(), [[1, 2], [3]]])
def test_forward_with_a_non_array_is_a_type_error(value) -> None:
    net = load_net(LENET_NET)
    with pytest.raises((TypeError, CaffecxError)):
        net.forward(data=value)
    with pytest.raises(TypeError, match="dict"):
        net.forward("data")  # type: ignore[arg-type]


def test_forward_still_accepts_arrays_and_lists() -> None:
    net = load_net(LENET_NET)
    out = net.forward(data=np.zeros((64, 1, 28, 28), dtype=np.float32))
    assert out["prob"].shape == (64, 10)
