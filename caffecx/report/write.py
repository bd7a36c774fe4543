"""Writing a report folder whole or not at all: files go to a temp folder beside the target, which is
moved into place only when everything was written."""

from __future__ import annotations

import os
import shutil
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from caffecx.errors import CaffecxError
from caffecx.report.model import Report


@contextmanager
def staged_folder(out_dir: str | os.PathLike[str]) -> Iterator[Path]:
    """A temp folder beside `out_dir` to fill; on success it replaces `out_dir`, on failure it is removed."""
    out = Path(out_dir)
    if out.exists() and not out.is_dir():
        raise CaffecxError("exists and is not a folder", path=str(out))
    parent = out.resolve().parent
    parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{out.name}.", suffix=".tmp", dir=parent))
    try:
        yield tmp
        tmp.chmod(0o755)
        old = None
        if out.exists():
            old = Path(tempfile.mkdtemp(prefix=f".{out.name}.", suffix=".old", dir=parent))
            os.replace(out, old / "dir")
        os.replace(tmp, out)
        if old is not None:
            shutil.rmtree(old, ignore_errors=True)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise


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
    return write_folder(report_files(report), out_dir)
