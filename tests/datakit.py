"""Data sources the data-layer tests write: an LMDB of records, as Caffe's convert tools key them."""

from __future__ import annotations

from pathlib import Path

import lmdb


def write_lmdb(folder: Path, values: list[bytes]) -> Path:
    """An LMDB folder holding ``values`` under keys ``00000000``, ``00000001``... (returned)."""
    env = lmdb.open(str(folder), map_size=1 << 22)
    with env.begin(write=True) as txn:
        for k, value in enumerate(values):
            txn.put(f"{k:08d}".encode(), value)
    env.close()
    return folder
