"""Test helpers for "nothing left behind": a folder with things in the way of outputs, and its contents."""

from __future__ import annotations

import contextlib
import os
import tempfile
from collections.abc import Iterator
from pathlib import Path


def snapshot(folder: Path) -> dict[str, bytes | None]:
    """Every path below `folder` with its bytes (None for a folder): equal before and after a failure."""
    return {str(p.relative_to(folder)): (p.read_bytes() if p.is_file() else None) for p in sorted(folder.rglob("*"))}


@contextlib.contextmanager
def playground(*folders: str) -> Iterator[Path]:
    """A temporary cwd holding a file ``afile``, a folder ``adir`` with ``adir/afile2``, and `folders`
    (e.g. ``adir.png``, a folder named like an output file). Usable inside hypothesis tests, where
    pytest's function-scoped fixtures are not."""
    cwd = os.getcwd()
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        (root / "afile").write_text("keep me")
        (root / "adir").mkdir()
        (root / "adir" / "afile2").write_text("keep me too")
        for name in folders:
            (root / name).mkdir()
        os.chdir(root)
        try:
            yield root
        finally:
            os.chdir(cwd)
