"""Property-based fuzzing of the report family's output writing (issue 11): ``report -o``, ``audit -o``
and ``compare --plot`` pointed at targets that cannot be written, and report folders failing at any
point of their writing.

Invariant: exit 2 with one ``caffecx: ...`` line, never a traceback, and the folder exactly as it was.
"""

from __future__ import annotations

import contextlib
import io

from hypothesis import given, settings
from hypothesis import strategies as st
from outputkit import playground, snapshot
from paths import REPO

from caffecx.cli import main
from caffecx.errors import CaffecxError
from caffecx.report.write import staged_folder

NET = str(REPO / "prototxt" / "lenet.prototxt")
SEEDS = str(REPO / "prototxt" / "seeds")
FUZZ = settings(max_examples=50, deadline=None, derandomize=True, database=None)

BAD_FOLDERS = ["afile", "afile/sub", "afile/a/b/c", "x\0y", "adir/afile2", "adir/afile2/q", ".", "", "/"]
BAD_PLOTS = ["x.xyz", "x", "adir", "adir/", "adir.png", "afile/x.png", "missing/x.png", "x\0y.png", "x.PNG.bak",
             "adir/afile2/x.svg", ""]
NAMES = st.text(st.characters(codec="utf-8", exclude_characters="\0/"), min_size=1, max_size=12)






def _run(argv: list[str]) -> tuple[int, str]:
    err = io.StringIO()
    with contextlib.redirect_stderr(err), contextlib.redirect_stdout(io.StringIO()):
        status = main(argv)
    return status, err.getvalue()


@FUZZ
@given(command=st.sampled_from(["report", "audit", "compare"]), fixed=st.sampled_from(BAD_FOLDERS + BAD_PLOTS),
       name=NAMES, use_name=st.booleans())
def test_targets_that_cannot_be_written_are_refused_and_leave_nothing(command: str, fixed: str, name: str,
                                                                      use_name: bool) -> None:
    if command == "compare":
        target = f"afile/{name}.png" if use_name else (fixed if fixed in BAD_PLOTS else f"{fixed}.xyz")
        argv = ["compare", NET, NET, "--plot", target]
    else:
        target = f"afile/{name}" if use_name else (fixed if fixed in BAD_FOLDERS else "afile/" + fixed)
        argv = [command, NET if command == "report" else SEEDS, "-o", target]
    with playground("adir.png") as root:
        before = snapshot(root)
        status, err = _run(argv)
        assert status == 2, (argv, err)
        assert err.startswith("caffecx: ") and err.count("\n") == 1 and "Traceback" not in err
        assert snapshot(root) == before


@FUZZ
@given(parts=st.lists(NAMES, min_size=1, max_size=3), files=st.lists(NAMES, min_size=0, max_size=4),
       fail_after=st.integers(0, 5), existing=st.booleans(), interrupt=st.booleans())
def test_a_report_folder_failing_at_any_point_leaves_nothing(parts: list[str], files: list[str], fail_after: int,
                                                             existing: bool, interrupt: bool) -> None:
    with playground("adir.png") as root:
        out = root / "adir" if existing else root.joinpath("new", *parts)
        before = snapshot(root)
        error = KeyboardInterrupt if interrupt else CaffecxError
        try:
            with staged_folder(out) as tmp:
                for k, name in enumerate(files):
                    if k == fail_after:
                        raise error("injected")
                    (tmp / f"{k}-{name}").write_bytes(b"x")
                raise error("injected")
        except (CaffecxError, KeyboardInterrupt) as err:
            assert "injected" in str(err)
        assert snapshot(root) == before
