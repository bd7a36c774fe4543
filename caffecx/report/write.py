"""Writing a report folder whole or not at all: files go to a temp folder beside the target, which is
moved into place only when everything was written. The target is checked first (`check_report_folder`,
`caffecx.io.outputs.check_folder`): a file where the folder is wanted, a folder that cannot be written
or made are located errors before any work. On any failure the temp folder and every folder made for it
are removed, so a failing report leaves nothing behind."""

from __future__ import annotations

import os
import shutil
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from caffecx.errors import CaffecxError
from caffecx.io.outputs import check_folder
from caffecx.report.model import Report


def check_report_folder(out_dir: str | os.PathLike[str], what: str = "report folder") -> Path:
    """`out_dir` as an absolute path when it can be written whole: not a file, not the current folder
    or a root, its parent writable (or makeable). Nothing is created; raises a located `CaffecxError`."""
    if not isinstance(out_dir, (str, os.PathLike)):
        raise TypeError(f"a {what} must be a path, not {type(out_dir).__name__}")
    name = os.fspath(out_dir)
    check_folder(name, make=True, what=what)
    out = Path(os.path.abspath(name))
    if Path(name).name in ("", ".", "..") or out.parent == out or out == Path.cwd():
        raise CaffecxError(f"names the current folder or a root, not a {what} to replace whole", path=name)
    check_folder(out.parent, make=True, what=f"parent of the {what}")
    return out


def _outermost_missing(folder: Path) -> Path | None:
    missing = None
    while not folder.exists() and folder.parent != folder:
        missing, folder = folder, folder.parent
    return missing


@contextmanager
def staged_folder(out_dir: str | os.PathLike[str]) -> Iterator[Path]:
    """A temp folder beside `out_dir` to fill; on success it replaces `out_dir`, on failure it is removed
    with every folder made for it."""
    out = check_report_folder(out_dir)
    made = _outermost_missing(out.parent)
    try:
        out.parent.mkdir(parents=True, exist_ok=True)
        tmp = Path(tempfile.mkdtemp(prefix=f".{out.name}.", suffix=".tmp", dir=out.parent))
    except OSError as err:
        if made is not None:
            shutil.rmtree(made, ignore_errors=True)
        raise CaffecxError(f"cannot write in this folder ({err.strerror})", path=str(out.parent)) from None
    try:
        yield tmp
        tmp.chmod(0o755)
        _replace(tmp, out)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        if made is not None:
            shutil.rmtree(made, ignore_errors=True)
        raise


def _replace(tmp: Path, out: Path) -> None:
    """Move the filled `tmp` to `out`, replacing an earlier folder (put back when the move fails)."""
    old = None
    try:
        if out.exists() or out.is_symlink():
            if not out.is_dir():
                raise CaffecxError("is a file, not a folder (wanted as the report folder)", path=str(out))
            old = Path(tempfile.mkdtemp(prefix=f".{out.name}.", suffix=".old", dir=out.parent))
            os.replace(out, old / "dir")
        os.replace(tmp, out)
    except OSError as err:
        if old is not None and (old / "dir").exists() and not out.exists():
            try:
                os.replace(old / "dir", out)
            except OSError:
                old = None  # keep the earlier folder where it is rather than lose it
        raise CaffecxError(f"cannot write ({err.strerror})", path=str(out)) from None
    finally:
        if old is not None:
            shutil.rmtree(old, ignore_errors=True)


def write_files(folder: Path, files: dict[str, bytes]) -> None:
    for name, data in sorted(files.items()):
        path = folder / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(data)
        path.chmod(0o644)


def write_folder(files: dict[str, bytes], out_dir: str | os.PathLike[str]) -> Path:
    """Write `files` (fixed names, no input text) into `out_dir`, replacing an earlier folder."""
    with staged_folder(out_dir) as tmp:
        write_files(tmp, files)
    return Path(out_dir)


def report_files(report: Report) -> dict[str, bytes]:
    """Every file of a report folder by name: report.md, report.html and the figures report.md shows."""
    from caffecx.report.html import to_html
    from caffecx.report.markdown import to_markdown

    files = dict(report.figures)
    files["report.md"] = to_markdown(report).encode("utf-8")
    files["report.html"] = to_html(report).encode("utf-8")
    return files


def write_report(report: Report, out_dir: str | os.PathLike[str]) -> Path:
    """Write ``report.md``, ``report.html`` and the figures into `out_dir` (whole or not at all)."""
    if not isinstance(report, Report):
        raise TypeError(f"write_report() takes a Report (caffecx.report.build_report), not {type(report).__name__}")
    check_report_folder(out_dir)
    return write_folder(report_files(report), out_dir)
