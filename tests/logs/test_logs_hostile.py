"""Issue 11's reproductions for ``caffecx log`` and `parse_log`: outputs checked before any log is read and
written all or nothing, logs sharing a file name, plots of huge logs, files that are not logs, wrong types."""

from __future__ import annotations

import os
import re
import time
from pathlib import Path

import numpy as np
import pytest
from outputkit import snapshot
from paths import CORPUS, LENET

from caffecx.cli import main
from caffecx.errors import CaffecxError
from caffecx.logs import parse_log
from caffecx.report.curves import MAX_POINTS, decimate

LENET_LOG = LENET / "lenet_train.log"
OTHER_LOG = CORPUS / "logs" / "bvlc-caffe-docs__mnist_2014.log"


def run_cli(capsys: pytest.CaptureFixture[str], *argv: object) -> tuple[int, str, str]:
    status = main([str(a) for a in argv])
    out, err = capsys.readouterr()
    return status, out, err




@pytest.fixture
def playground(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.chdir(tmp_path)
    (tmp_path / "afile").write_text("keep")
    (tmp_path / "adir").mkdir()
    return tmp_path


# -- outputs -----------------------------------------------------------------------------------------

@pytest.mark.parametrize(("args", "named"), [
    (["--csv", "afile"], "afile"),
    (["--csv", "afile/sub"], "afile"),
    (["--plot", "x.xyz"], "x.xyz"),
    (["--plot", "adir"], "adir"),
    (["--plot", "adir/"], "adir/"),
    (["--plot", "afile/x.png"], "afile"),
    (["--plot", "new/x.xyz"], "new/x.xyz"),
    (["--csv", "out", "--plot", "x.xyz"], "x.xyz"),
    (["--csv", "afile", "--plot", "p.png"], "afile"),
])
def test_an_output_that_cannot_be_written_is_refused_before_reading(playground, capsys, monkeypatch, args,
                                                                    named) -> None:
    def no_parse(*a: object, **k: object) -> None:
        raise AssertionError("a log was read before the outputs were checked")

    monkeypatch.setattr("caffecx.cli.cmd_log.parse_log", no_parse)
    before = snapshot(playground)
    status, out, err = run_cli(capsys, "log", LENET_LOG, *args)
    assert status == 2 and out == "" and err.startswith(f"caffecx: {named}: ") and "Traceback" not in err
    assert snapshot(playground) == before


def test_a_read_only_folder_is_refused(playground, capsys, monkeypatch) -> None:
    ro = playground / "ro"
    ro.mkdir()
    real_access = os.access
    # (root writes in a 0555 folder: the permission check is emulated, as the writers see it)
    monkeypatch.setattr("caffecx.io.outputs.os.access",
                        lambda p, mode: False if Path(p).resolve() == ro.resolve() else real_access(p, mode))
    for args in (["--csv", "ro"], ["--csv", "ro/sub"], ["--plot", "ro/p.png"]):
        status, _, err = run_cli(capsys, "log", LENET_LOG, *args)
        assert status == 2 and err.startswith("caffecx: ro: cannot write in this folder (permission denied")
    assert list(ro.iterdir()) == []


class Boom(Exception):
    pass


@pytest.mark.parametrize("failure", [CaffecxError("the plot failed", path="p.png"), Boom(), KeyboardInterrupt()])
def test_a_later_output_failing_leaves_no_earlier_one(playground, capsys, monkeypatch, failure) -> None:
    def fail(*a: object, **k: object) -> bytes:
        raise failure

    monkeypatch.setattr("caffecx.report.figures.figure_bytes", fail)
    (playground / "old").mkdir()
    (playground / "old" / "lenet_train.log.train").write_text("the old table")
    before = snapshot(playground)
    for csv_dir in ("new/deeper", "old"):
        if isinstance(failure, CaffecxError):
            status, _, err = run_cli(capsys, "log", LENET_LOG, "--csv", csv_dir, "--plot", "plots/p.png")
            assert status == 2 and err == "caffecx: p.png: the plot failed\n"
        else:
            with pytest.raises(type(failure)):
                main(["log", str(LENET_LOG), "--csv", csv_dir, "--plot", "plots/p.png"])
        assert snapshot(playground) == before  # no CSV, no folder made for --csv or --plot, old table kept


def test_test_table_that_cannot_be_written_leaves_no_train_table(playground, capsys) -> None:
    (playground / "out" / "lenet_train.log.test").mkdir(parents=True)  # a folder where .test goes
    before = snapshot(playground)
    status, _, err = run_cli(capsys, "log", LENET_LOG, "--csv", "out")
    assert status == 2 and err.startswith("caffecx: out/lenet_train.log.test: is a folder")
    assert snapshot(playground) == before


def test_write_csv_and_plot_logs_refuse_bad_targets(playground, monkeypatch) -> None:
    from caffecx.report import curves as plot

    log = parse_log(LENET_LOG)
    with pytest.raises(CaffecxError, match="afile: is a file, not a folder"):
        log.write_csv("afile")
    monkeypatch.setattr(plot, "curves_figure", lambda *a, **k: pytest.fail("drawn before the target was checked"))
    with pytest.raises(CaffecxError, match=r"x\.xyz: unknown suffix '\.xyz'"):
        plot.plot_logs([log], "x.xyz")
    assert sorted(os.listdir(playground)) == ["adir", "afile"]


def test_logs_sharing_a_file_name_keep_their_own_tables(playground, capsys) -> None:
    for folder, src in (("a", LENET_LOG), ("b", OTHER_LOG), ("p/a", OTHER_LOG), ("q/a", LENET_LOG)):
        (playground / folder).mkdir(parents=True, exist_ok=True)
        (playground / folder / "x.log").write_bytes(src.read_bytes())
    status, _, _ = run_cli(capsys, "log", "a/x.log", "b/x.log", "--csv", "out")
    assert status == 0 and sorted(os.listdir("out")) == ["a__x.log.test", "a__x.log.train", "b__x.log.test",
                                                          "b__x.log.train"]
    assert Path("out/a__x.log.train").read_bytes() != Path("out/b__x.log.train").read_bytes()
    assert Path("out/a__x.log.train").read_text().count("\n") == 22  # lenet: 21 rows
    # the same folder name too: told apart by their place among the logs given; reruns write the same names
    for _ in range(2):
        status, _, _ = run_cli(capsys, "log", "p/a/x.log", "q/a/x.log", "b/x.log", "--csv", "out2")
        assert status == 0 and sorted(os.listdir("out2")) == [
            "1__x.log.test", "1__x.log.train", "2__x.log.test", "2__x.log.train", "b__x.log.test", "b__x.log.train"]
    assert Path("out2/2__x.log.train").read_bytes() == Path("out/a__x.log.train").read_bytes()
    # one log: its file name as before
    status, _, _ = run_cli(capsys, "log", "a/x.log", "--csv", "out3")
    assert status == 0 and sorted(os.listdir("out3")) == ["x.log.test", "x.log.train"]


# -- plots of huge logs ------------------------------------------------------------------------------

def test_decimation_of_600k_points_keeps_spikes_and_is_fast() -> None:
    rng = np.random.default_rng(0)
    n = 600_000
    x = np.arange(n, dtype=float) * 20
    y = 2.0 * np.exp(-x / 4e6) + rng.normal(0, 0.01, n)
    y[123_457], y[400_001] = 50.0, -3.0  # one-point spikes
    start = time.perf_counter()
    dx, dy = decimate(x, y)
    assert time.perf_counter() - start < 1.0
    assert len(dx) <= MAX_POINTS and len(dx) >= MAX_POINTS // 2
    assert 50.0 in dy and -3.0 in dy and dx[0] == x[0] and dx[-1] == x[-1]
    assert np.all(np.diff(dx) > 0)  # the points keep their order
    # every bucket's extremes are kept: the envelope of the curve is the same
    assert dy.max() == y.max() and dy.min() == y.min()
    short_x, short_y = decimate(x[:100], y[:100])
    assert np.array_equal(short_x, x[:100]) and np.array_equal(short_y, y[:100])  # short curves as they are


def big_log(path: Path, rows: int) -> Path:
    """The LeNet log with its train lines repeated for `rows` display iterations (increasing)."""
    lines = LENET_LOG.read_text().splitlines(keepends=True)
    first = next(i for i, line in enumerate(lines) if re.search(r"\] Iteration 50 ", line))
    head = lines[:first]
    block = lines[first:first + 3]
    assert "Iteration 50 " in block[0] and "Iteration 50," in block[2], block
    with open(path, "w") as f:
        f.writelines(head)
        for k in range(rows):
            it = str(50 * (k + 1))
            f.writelines(line.replace("Iteration 50 ", f"Iteration {it} ").replace("Iteration 50,", f"Iteration {it},")
                         for line in block)
    return path


def test_plot_of_a_big_log_draws_a_few_thousand_points(tmp_path, capsys, monkeypatch) -> None:
    from caffecx.report import curves as plot

    log = big_log(tmp_path / "big.log", 30_000)
    drawn: list[int] = []
    real = plot._train_curves

    def spy(column, *args, **kw):  # noqa: ANN001, ANN202
        real(column, *args, **kw)
        drawn.extend(len(line.get_xdata()) for ax in column for line in ax.get_lines())

    monkeypatch.setattr(plot, "_train_curves", spy)
    start = time.perf_counter()
    status, _, err = run_cli(capsys, "log", log, "--plot", tmp_path / "big.png")
    assert status == 0, err
    assert time.perf_counter() - start < 10
    assert len(parse_log(log).train) == 30_001  # (iteration 0, then the 30000 repeated)
    assert drawn and max(drawn) <= MAX_POINTS
    assert (tmp_path / "big.png").read_bytes()[:4] == b"\x89PNG"


# -- files that are not logs; wrong types ------------------------------------------------------------

@pytest.mark.parametrize(("content", "says"), [
    (bytes(range(256)) * 40, "binary data, not a Caffe log"),
    (b"\x00" * 10, "binary data, not a Caffe log"),
    (b"", "empty: not a Caffe log"),
    (b"hello\nworld\n", "not a Caffe log: none of its 2 line(s) is a glog line"),
    (b"/bin/sh: 1: caffe: not found\n", "not a Caffe log"),
])
def test_a_file_that_is_not_a_log_says_so(tmp_path, capsys, content, says) -> None:
    path = tmp_path / "x.log"
    path.write_bytes(content)
    status, out, err = run_cli(capsys, "log", path)
    assert status == 2 and out == "" and err.startswith(f"caffecx: {path}: {says}")
    with pytest.raises(CaffecxError, match=re.escape(says)):
        parse_log(path)
    with pytest.raises(CaffecxError, match=re.escape(says)):
        parse_log(content)
    assert parse_log(content, require_glog=False).glog_lines == 0  # the lenient parse stays


@pytest.mark.parametrize("call", [
    lambda: parse_log(None),
    lambda: parse_log(3),
    lambda: parse_log(3.5),
    lambda: parse_log({"a": 1}),
    lambda: parse_log([1, 2]),
    lambda: parse_log(LENET_LOG, workers="2"),
    lambda: parse_log(LENET_LOG, path=Path("x")),
])
def test_wrong_argument_types_raise_a_plain_type_error(call) -> None:
    with pytest.raises(TypeError, match=r"^parse_log"):
        call()


def test_right_argument_types_still_parse() -> None:
    data = LENET_LOG.read_bytes()
    for source in (LENET_LOG, str(LENET_LOG), data, bytearray(data), data.decode().splitlines(),
                   data.splitlines()):
        assert len(parse_log(source).train) == 21
    with open(LENET_LOG, "rb") as f:
        assert len(parse_log(f).train) == 21
    with pytest.raises(CaffecxError, match="NUL byte"):
        parse_log("x\0y.log")
