"""Issue 11 for reports, audits and compare plots: targets are checked before any work, an output that
cannot be written is a located error (exit 2), and a failing command leaves nothing behind."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from outputkit import snapshot
from paths import REPO

from caffecx.cli import main
from caffecx.errors import CaffecxError
from caffecx.report.write import check_report_folder, staged_folder, write_folder

NET = str(REPO / "prototxt" / "lenet.prototxt")
SEEDS = REPO / "prototxt" / "seeds"




@pytest.fixture
def playground(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.chdir(tmp_path)
    (tmp_path / "afile").write_text("keep")
    (tmp_path / "adir").mkdir()
    (tmp_path / "adir" / "inside.txt").write_text("keep too")
    (tmp_path / "adir.png").mkdir()
    return tmp_path


@pytest.mark.parametrize(("argv", "where"), [
    (["report", NET, "-o", "afile"], "afile"),
    (["report", NET, "-o", "afile/sub"], "afile"),
    (["report", NET, "-o", "afile/a/b"], "afile"),
    (["report", NET, "-o", "."], "."),
    (["report", NET, "-o", ""], "current folder"),
    (["audit", str(SEEDS), "-o", "afile"], "afile"),
    (["audit", str(SEEDS), "-o", "afile/x"], "afile"),
    (["compare", NET, NET, "--plot", "x.xyz"], "x.xyz"),
    (["compare", NET, NET, "--plot", "x"], "x"),
    (["compare", NET, NET, "--plot", "adir"], "adir"),
    (["compare", NET, NET, "--plot", "adir.png"], "adir.png"),
    (["compare", NET, NET, "--plot", "afile/x.png"], "afile"),
    (["compare", NET, NET, "--plot", "missing/x.png"], "missing"),
])
def test_unwritable_targets_are_refused_before_any_work(playground, capsys, monkeypatch, argv, where) -> None:
    import caffecx.analysis
    import caffecx.report

    def no_work(*args: object, **kwargs: object) -> None:
        raise AssertionError("the work started before the target was checked")

    monkeypatch.setattr(caffecx.report, "build_report", no_work)
    monkeypatch.setattr(caffecx.analysis, "plan_net", no_work)
    monkeypatch.setattr("caffecx.report.audit.audit_folder", no_work)
    before = snapshot(playground)
    status = main(argv)
    out, err = capsys.readouterr()
    assert status == 2, err
    assert err.startswith("caffecx: ") and err.count("\n") == 1 and "Traceback" not in err
    assert where in err
    assert snapshot(playground) == before


def test_a_failing_report_leaves_no_folder_it_made(playground, monkeypatch) -> None:
    import caffecx.report.write as write

    def boom(folder: Path, files: dict[str, bytes]) -> None:
        (folder / "report.md").write_text("half")
        raise CaffecxError("injected", path="report.md")

    monkeypatch.setattr(write, "write_files", boom)
    before = snapshot(playground)
    with pytest.raises(CaffecxError, match="injected"):
        write_folder({"report.md": b"x"}, playground / "new" / "deeper" / "out")
    with pytest.raises(CaffecxError, match="injected"):
        write_folder({"report.md": b"x"}, playground / "adir")
    assert snapshot(playground) == before


def test_an_interrupted_report_leaves_nothing(playground) -> None:
    before = snapshot(playground)
    with pytest.raises(KeyboardInterrupt), staged_folder(playground / "n1" / "n2" / "out") as tmp:
        (tmp / "report.md").write_text("half")
        raise KeyboardInterrupt
    assert snapshot(playground) == before


def test_a_report_replaces_an_earlier_folder_whole(playground) -> None:
    write_folder({"report.md": b"new", "figures/a.svg": b"<svg/>"}, playground / "adir")
    assert snapshot(playground / "adir") == {"figures": None, "figures/a.svg": b"<svg/>", "report.md": b"new"}
    write_folder({"report.md": b"in a new folder"}, playground / "made" / "here")
    assert (playground / "made" / "here" / "report.md").read_bytes() == b"in a new folder"
    assert not [p for p in playground.rglob(".*") if p.name.endswith((".tmp", ".old"))]


def test_read_only_parent_is_refused(playground, capsys) -> None:
    if os.geteuid() == 0:
        pytest.skip("root writes in a read-only folder")
    ro = playground / "ro"
    ro.mkdir()
    ro.chmod(0o555)
    try:
        with pytest.raises(CaffecxError, match="permission denied"):
            check_report_folder(ro / "out")
        assert main(["report", NET, "-o", str(ro / "out")]) == 2
        assert list(ro.iterdir()) == []
    finally:
        ro.chmod(0o755)


def test_python_api_refuses_a_non_path_folder() -> None:
    with pytest.raises(TypeError, match="must be a path"):
        check_report_folder(None)  # type: ignore[arg-type]


@pytest.mark.parametrize("suffix", [".png", ".svg"])
def test_compare_plot_is_written_whole(playground, capsys, suffix) -> None:
    assert main(["compare", NET, NET, "--plot", f"plots{suffix}"]) == 0
    data = (playground / f"plots{suffix}").read_bytes()
    assert data.startswith(b"\x89PNG") if suffix == ".png" else b"<svg" in data[:400]
    assert not [p for p in playground.rglob(".caffecx-*")]


@pytest.mark.parametrize("option", ["--machine", "--caffe-time"])
@pytest.mark.parametrize("machine", ["fifo", "/dev/zero", "adir", "afile"])
def test_report_inputs_are_read_only_when_regular_files(playground, capsys, machine, option) -> None:
    if machine == "fifo":
        os.mkfifo(playground / "fifo")
    before = snapshot(playground)
    assert main(["report", NET, "-o", "out", option, machine]) == 2
    err = capsys.readouterr().err
    assert err.startswith(f"caffecx: {machine}: ") and "keep" not in err
    assert snapshot(playground) == before
