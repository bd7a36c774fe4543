"""Property-based fuzzing of output writing (issue 11): every command of the io/lenet/run/init family
pointed at targets that cannot be written, and the all-or-nothing mechanism under injected failures.

Invariant: exit 2 with a ``caffecx: ...`` message (a `CaffecxError`), never a traceback, and the
folder exactly as it was: nothing written, nothing made, nothing left behind.
"""

from __future__ import annotations

import contextlib
import io
import os

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from outputkit import playground, snapshot
from paths import REPO

from caffecx.cli import main
from caffecx.errors import CaffecxError
from caffecx.io.outputs import Outputs

LENET_NET = str(REPO / "prototxt" / "lenet.prototxt")
FUZZ = settings(max_examples=50, deadline=None, derandomize=True,
                suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture])

#: Targets that cannot be written, relative to a folder holding the file ``afile`` and the folder ``adir``.
BAD_FILE_TARGETS = ["afile/x{s}", "afile/sub/x{s}", "adir", "adir/", "missing/x{s}", "", "adir/.",
                    "afile/..", "x\0y{s}", "adir/deeper/more/x{s}"]
BAD_FOLDER_TARGETS = ["afile", "afile/sub", "afile/a/b/c", "x\0y", "adir/afile2/q"]




def _run(argv: list[str]) -> tuple[int, str]:
    err = io.StringIO()
    with contextlib.redirect_stderr(err), contextlib.redirect_stdout(io.StringIO()):
        status = main(argv)
    return status, err.getvalue()




COMMANDS = {
    "upgrade": (lambda t: ["upgrade", LENET_NET, "-o", t], ".prototxt"),
    "run": (lambda t: ["run", LENET_NET, "--out", t], ".npz"),
    "init": (lambda t: ["init", LENET_NET, "-o", t], ".caffemodel"),
    "export": (lambda t: ["export", LENET_NET, "-o", t], ".onnx"),
}


@FUZZ
@given(command=st.sampled_from(sorted(COMMANDS)), template=st.sampled_from(BAD_FILE_TARGETS),
       suffix=st.sampled_from(["", ".xyz", None]))
def test_a_file_output_that_cannot_be_written_is_refused_and_leaves_nothing(command: str, template: str,
                                                                            suffix: str | None) -> None:
    argv, good = COMMANDS[command]
    target = template.format(s=good if suffix is None else suffix)
    with playground() as root:
        before = snapshot(root)
        status, err = _run(argv(target))
        assert status == 2, (target, err)
        assert err.startswith("caffecx: ") and "Traceback" not in err
        assert snapshot(root) == before


@FUZZ
@given(target=st.sampled_from(BAD_FOLDER_TARGETS))
def test_lenet_out_dir_that_cannot_be_made_is_refused_and_leaves_nothing(target: str) -> None:
    with playground() as root:
        before = snapshot(root)
        status, err = _run(["lenet", "--out-dir", target])
        assert status == 2, (target, err)
        assert err.startswith("caffecx: ") and "Traceback" not in err
        assert snapshot(root) == before


class Injected(Exception):
    """A failure in the middle of producing the outputs."""


@settings(max_examples=80, deadline=None, derandomize=True)
@given(names=st.lists(st.sampled_from(["a.txt", "b.png", "sub/c.md", "sub/deep/d.bin", "afile", "adir/e"]),
                      min_size=1, max_size=5, unique=True),
       fail_at=st.integers(0, 6), obstacle=st.sampled_from([None, "dir-at-target"]))
def test_outputs_are_all_or_nothing(names: list[str], fail_at: int, obstacle: str | None) -> None:
    with playground() as root:
        before = snapshot(root)
        wrote = False
        try:
            with Outputs() as out:
                for i, name in enumerate(names):
                    if i == fail_at:
                        raise Injected
                    out.add(root / name, f"content of {name}".encode(), make_parents=True)
                if obstacle == "dir-at-target" and "/" not in names[-1]:  # a folder that existed before
                    target = root / names[-1]
                    if not target.exists():
                        target.mkdir(parents=True)
                        before = {**before, names[-1]: None}
            wrote = True
        except (Injected, CaffecxError):
            pass
        after = dict(sorted(snapshot(root).items()))
        before = dict(sorted(before.items()))
        if wrote:
            for name in names:
                assert after[name] == f"content of {name}".encode()
            assert not [k for k in after if ".caffecx-" in k]
        else:
            assert after == before


@pytest.mark.skipif(os.geteuid() == 0, reason="root writes in read-only folders")
def test_read_only_folders_are_refused_for_every_command() -> None:  # pragma: no cover - non-root CI
    with playground() as root:
        ro = root / "ro"
        ro.mkdir()
        ro.chmod(0o555)
        try:
            for argv, good in COMMANDS.values():
                status, err = _run(argv(f"ro/x{good}"))
                assert status == 2 and "permission denied" in err
            status, err = _run(["lenet", "--out-dir", "ro/sub"])
            assert status == 2
            assert list(ro.iterdir()) == []
        finally:
            ro.chmod(0o755)
