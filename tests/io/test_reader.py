"""The reader on real files: every prototxt loads, errors are located, weights decode."""

from __future__ import annotations

import numpy as np
import pytest
from google.protobuf import text_format
from paths import CORPUS, FIXTURES, LENET, NETS, files

from caffecx.errors import CaffecxError, ParseError, UnknownFieldWarning
from caffecx.io import (
    array_to_blob,
    blob_to_array,
    is_solver_text,
    read_blobproto,
    read_caffemodel,
    read_net_text,
    read_solver,
    read_solverstate,
    to_text,
    write_caffemodel,
)
from caffecx.proto import caffe_pb2

ALL_PROTOTXT = files(CORPUS, ".prototxt") + files(FIXTURES, ".prototxt")


def test_the_walk_finds_the_corpus() -> None:
    assert len(ALL_PROTOTXT) >= 45


@pytest.mark.parametrize("path", ALL_PROTOTXT, ids=lambda p: p.name)
def test_every_prototxt_loads_without_unknown_fields(path, recwarn) -> None:
    text = path.read_text()
    if is_solver_text(text):
        solver = read_solver(path)
        assert solver.param.type or solver.param.solver_type or solver.param.base_lr
        if solver.net is not None:
            assert len(solver.net.param.layer) > 0
    else:
        net = read_net_text(path)
        assert len(net.param.layer) > 0
        assert not len(net.param.layers), "V1 layers must be upgraded away"
        assert all(layer.type for layer in net.param.layer)
    assert not [w for w in recwarn if issubclass(w.category, UnknownFieldWarning)]


def test_solvers_are_recognised_by_fields_not_names() -> None:
    bench = CORPUS / "prototxt" / "caffenet-benchmark__caffenet128_lsuv_bs1024__train_val.prototxt"
    assert is_solver_text(bench.read_text())
    solver = read_solver(bench)
    assert solver.param.type == "SGD"  # upgraded from the deprecated solver_type enum
    assert solver.net is not None and solver.net.param.layer[0].type == "Data"
    assert not is_solver_text((LENET / "lenet_train_test.prototxt").read_text())


def test_solver_net_resolves_against_the_solver_folder(monkeypatch, tmp_path) -> None:
    monkeypatch.chdir(tmp_path)  # the solver says net: "examples/mnist/lenet_train_test.prototxt"
    solver_text = (LENET / "lenet_solver.prototxt").read_text()
    folder = tmp_path / "run"
    (folder / "examples" / "mnist").mkdir(parents=True)
    (folder / "examples" / "mnist" / "lenet_train_test.prototxt").write_text(
        (LENET / "lenet_train_test.prototxt").read_text())
    (folder / "solver.prototxt").write_text(solver_text)
    solver = read_solver(folder / "solver.prototxt")
    assert solver.param.max_iter == 1000 and solver.param.test_interval == 250
    assert solver.net_path and solver.net_path.endswith("lenet_train_test.prototxt")
    assert [layer.name for layer in solver.net.param.layer][:3] == ["mnist", "mnist", "conv1"]


def test_a_solver_with_separate_train_and_test_nets(tmp_path) -> None:
    # the old solver form: train_net + test_net files (Caffe builds test net #0 from test_net[0])
    from caffecx.graph import load_net

    deploy = (LENET / "lenet.prototxt").read_text()
    (tmp_path / "train.prototxt").write_text(deploy)
    (tmp_path / "test.prototxt").write_text(deploy.replace("dim: 64", "dim: 100", 1))
    solver = tmp_path / "solver.prototxt"
    solver.write_text('train_net: "train.prototxt"\ntest_net: "test.prototxt"\ntest_iter: 1\nbase_lr: 0.01\n')
    shape = {ph: load_net(solver, phase=ph).layer("data").param.input_param.shape[0].dim[0] for ph in ("TRAIN", "TEST")}
    assert shape == {"TRAIN": 64, "TEST": 100}
    inline = tmp_path / "inline.prototxt"
    inline.write_text("base_lr: 0.01\ntrain_net_param {\n" + deploy + "}\ntest_net_param {\n"
                      + deploy.replace("dim: 64", "dim: 7", 1) + "}\n")
    test = load_net(inline, phase="TEST")
    assert test.layer("data").param.input_param.shape[0].dim[0] == 7
    opening = inline.read_text().splitlines().index("test_net_param {") + 1  # its 1-based line
    assert (test.layer("data").line, test.layer("data").column) == (opening + 2, 1)  # after name: "LeNet"
    assert load_net(inline, phase="TRAIN").layer("data").param.input_param.shape[0].dim[0] == 64
    missing = tmp_path / "missing_test.prototxt"
    missing.write_text('train_net: "train.prototxt"\ntest_net: "nowhere.prototxt"\nbase_lr: 0.01\n')
    assert "the solver's test net file 'nowhere.prototxt' was not found" in read_solver(missing).notes[-1]


def test_text_source_and_path_source_agree() -> None:
    path = LENET / "lenet.prototxt"
    assert read_net_text(path.read_text()).param == read_net_text(path).param


@pytest.mark.parametrize(
    "text, line, col, words",
    [
        ('name: "x"\nlayer {\n  name: "a"\n  type: "ReLU"\n  bottom: "d"\n', 5, 11, "}"),
        ('name: "x"\nlayer { name: "a" type: ReLU }\n', 2, 25, "string"),
        ('layer {\n  name: "c"\n  convolution_param { num_output: -3x }\n}\n', 3, None, ""),
        ('layer { name: "p" type: "Pooling" pooling_param { pool: MEDIAN } }', 1, None, "MEDIAN"),
    ],
)
def test_malformed_text_is_located(tmp_path, text, line, col, words) -> None:
    path = tmp_path / "bad.prototxt"
    path.write_text(text)
    with pytest.raises(ParseError) as info:
        read_net_text(path)
    err = info.value
    assert err.location.path == str(path)
    assert err.location.line == line
    if col is not None:
        assert err.location.column == col
    assert words in err.message
    assert str(err).startswith(f"{path}:{line}:")


def test_unknown_field_is_skipped_with_a_located_warning(tmp_path) -> None:
    path = tmp_path / "fork.prototxt"
    path.write_text('name: "n"\nlayer {\n  name: "a"\n  type: "ReLU"\n  my_fork_param { knob: 3 deep { x: 1 } }\n'
                    '  bottom: "d"\n  top: "a"\n}\n')
    with pytest.warns(UnknownFieldWarning, match=r"fork.prototxt:5:3: unknown field 'my_fork_param'"):
        net = read_net_text(path)
    assert net.param.layer[0].bottom == ["d"] and net.param.layer[0].top == ["a"]
    assert len(net.warnings) == 1
    with pytest.raises(ParseError) as info:
        read_net_text(path, strict=True)
    assert (info.value.location.line, info.value.location.column) == (5, 3)


def test_missing_file_and_directory(tmp_path) -> None:
    with pytest.raises(ParseError, match="no such file"):
        read_net_text(tmp_path / "nope.prototxt")
    with pytest.raises(ParseError, match="directory"):
        read_net_text(tmp_path)
    with pytest.raises(ParseError, match="no such file"):
        read_caffemodel(tmp_path / "nope.caffemodel")


def test_caffemodel_decodes_real_weights() -> None:
    model = read_caffemodel(LENET / "lenet_iter_1000.caffemodel")
    by_name = {layer.name: layer for layer in model.layer}
    conv1 = [blob_to_array(b) for b in by_name["conv1"].blobs]
    assert conv1[0].shape == (20, 1, 5, 5) and conv1[1].shape == (20,)
    assert [blob_to_array(b).shape for b in by_name["ip1"].blobs] == [(500, 800), (500,)]
    npz = np.load(LENET / "lenet_deploy_b4.npz")
    np.testing.assert_array_equal(conv1[0], npz["param/conv1/0"])


@pytest.mark.parametrize("cut", [0.5, 0.9, 0.999])
def test_truncated_caffemodel_is_an_error(tmp_path, cut) -> None:
    data = (LENET / "lenet_iter_1000.caffemodel").read_bytes()
    bad = tmp_path / "cut.caffemodel"
    bad.write_bytes(data[: int(len(data) * cut)])
    with pytest.raises(CaffecxError) as info:
        read_caffemodel(bad)
    assert info.value.location.path == str(bad)


def test_garbage_caffemodel_is_an_error(tmp_path) -> None:
    bad = tmp_path / "junk.caffemodel"
    bad.write_bytes(b"\xff\xfe this is not protobuf \x00\x01" * 10)
    with pytest.raises(ParseError, match="caffemodel"):
        read_caffemodel(bad)


def test_v1_caffemodel_upgrades() -> None:
    model = read_caffemodel(NETS / "layers_3_v1.caffemodel")
    assert not len(model.layers)
    conv1 = next(layer for layer in model.layer if layer.name == "conv1")
    assert conv1.type == "Convolution"
    assert blob_to_array(conv1.blobs[0]).shape == (6, 1, 3, 3)


def test_writer_round_trips(tmp_path) -> None:
    for path in [LENET / "lenet_train_test.prototxt", NETS / "layers_1.prototxt", NETS / "layers_2.prototxt"]:
        net = read_net_text(path).param
        again = caffe_pb2.NetParameter()
        text_format.Parse(to_text(net), again)
        assert again == net
    model = read_caffemodel(LENET / "lenet_iter_1000.caffemodel")
    out = tmp_path / "copy.caffemodel"
    write_caffemodel(model, out)
    assert read_caffemodel(out) == model


def test_written_files_get_ordinary_permissions(tmp_path) -> None:
    import os

    from caffecx.io import write_atomic

    old = os.umask(0o022)
    try:
        write_atomic(tmp_path / "a.txt", b"x")
        assert (tmp_path / "a.txt").stat().st_mode & 0o777 == 0o644  # not mkstemp's 0600
        (tmp_path / "b.txt").write_bytes(b"old")
        os.chmod(tmp_path / "b.txt", 0o640)
        write_atomic(tmp_path / "b.txt", b"new")  # an existing file keeps its mode
        assert (tmp_path / "b.txt").stat().st_mode & 0o777 == 0o640
        assert (tmp_path / "b.txt").read_bytes() == b"new"
        assert [p.name for p in tmp_path.iterdir() if p.name.startswith(".")] == []
    finally:
        os.umask(old)


def test_blob_conversion_round_trips() -> None:
    a = np.arange(24, dtype=np.float32).reshape(2, 3, 4)
    np.testing.assert_array_equal(blob_to_array(array_to_blob(a)), a)
    legacy = array_to_blob(a[0], legacy=True)
    assert (legacy.num, legacy.channels, legacy.height, legacy.width) == (1, 1, 3, 4)
    d = np.linspace(0, 1, 5)
    assert blob_to_array(array_to_blob(d)).dtype == np.float64


def _varint(x: int) -> bytes:
    out = bytearray()
    while True:
        b, x = x & 0x7F, x >> 7
        out.append(b | 0x80 if x else b)
        if not x:
            return bytes(out)


def _field(number: int, payload: bytes) -> bytes:
    return _varint(number << 3 | 2) + _varint(len(payload)) + payload


def test_caffemodel_over_protobufs_64mb_default_limit(tmp_path) -> None:
    """VGG-16's caffemodel is ~550 MB: files past protobuf's classic 64 MB limit must load."""
    values = np.arange(18_000_000, dtype=np.float32)  # 72 MB of weights
    shape = _field(1, b"".join(_varint(d) for d in (3000, 6000)))
    blob = _field(7, shape) + _field(5, values.tobytes())
    layer = _field(1, b"fc6") + _field(2, b"InnerProduct") + _field(7, blob)
    path = tmp_path / "big.caffemodel"
    path.write_bytes(_field(100, layer))
    model = read_caffemodel(path)
    arr = blob_to_array(model.layer[0].blobs[0])
    assert arr.shape == (3000, 6000) and arr[-1, -1] == 17_999_999


def test_binaryproto_and_solverstate(tmp_path) -> None:
    mean = np.linspace(0, 1, 3 * 4 * 5, dtype=np.float32).reshape(1, 3, 4, 5)
    p = tmp_path / "mean.binaryproto"
    p.write_bytes(array_to_blob(mean[0], legacy=True).SerializeToString())
    np.testing.assert_array_equal(read_blobproto(p), mean)  # legacy 4-D: (1, 3, 4, 5)
    state = caffe_pb2.SolverState(iter=500, learned_net="lenet_iter_500.caffemodel", current_step=1)
    state.history.add().CopyFrom(array_to_blob(np.ones((20,), np.float32)))
    s = tmp_path / "lenet_iter_500.solverstate"
    s.write_bytes(state.SerializeToString())
    back = read_solverstate(s)
    assert back.iter == 500 and back.learned_net == "lenet_iter_500.caffemodel" and len(back.history) == 1
    s.write_bytes(state.SerializeToString()[:-3])
    with pytest.raises(ParseError, match="solverstate"):
        read_solverstate(s)
