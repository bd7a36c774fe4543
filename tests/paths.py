"""Where the tests find real data: the repo's bundled files and ../shared (override with CAFFECX_SHARED)."""

from __future__ import annotations

import os
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
SHARED = Path(os.environ.get("CAFFECX_SHARED", REPO.parent / "shared")).resolve()
CORPUS = SHARED / "corpus"
FIXTURES = SHARED / "fixtures" / "caffe-ref"
LENET = FIXTURES / "lenet"
NETS = FIXTURES / "nets"


def files(folder: Path, *suffixes: str) -> list[Path]:
    """Every file below `folder` with one of the suffixes, sorted (tests walk folders, not lists)."""
    return sorted(p for p in folder.rglob("*") if p.is_file() and p.suffix in suffixes)
