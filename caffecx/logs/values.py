"""Numbers and names as Caffe prints them, from bytes."""

from __future__ import annotations

import io
from collections.abc import Sequence
from itertools import compress

import numpy as np
import pandas as pd


def text(b: bytes | None) -> str | None:
    return None if b is None else b.decode("utf-8", "replace")


def to_float(b: bytes | None) -> float:
    try:
        return float(b) if b else float("nan")
    except ValueError:
        return float("nan")


def parse_floats(values: Sequence[bytes]) -> tuple[np.ndarray, np.ndarray]:
    """Number strings -> (float64, missing): ``b""`` or text that is not a number is missing; ``nan``,
    ``-nan``, ``inf`` and exponents are values (pandas' C parser for large batches, else ``float()``)."""
    n = len(values)
    empty = values.count(b"")
    if empty == n:
        return np.full(n, np.nan), np.ones(n, dtype=bool)
    present = np.fromiter(map(bool, values), bool, count=n) if empty else np.ones(n, dtype=bool)
    given = list(compress(values, present)) if empty else values
    out = np.full(n, np.nan)
    missing = ~present
    parsed = _parse_many(given) if len(given) >= 4096 else None
    if parsed is None:
        parsed = np.fromiter(map(to_float, given), np.float64, count=len(given))
        bad = np.isnan(parsed)
        for i in np.flatnonzero(bad):
            try:
                float(given[i])
                bad[i] = False
            except ValueError:
                pass
        if bad.any():
            missing[np.flatnonzero(present)[bad]] = True
    out[present] = parsed
    return out, missing


def _parse_many(given: Sequence[bytes]) -> np.ndarray | None:
    """pandas' C parser over many number strings (None when it does not read them all as numbers)."""
    try:
        parsed = pd.read_csv(io.BytesIO(b"\n".join(given)), header=None, dtype=np.float64, engine="c", sep="\x01",
                             quoting=3, skip_blank_lines=False, keep_default_na=False,
                             na_values=["nan", "-nan", "NaN", "-NaN"]).iloc[:, 0].to_numpy()
    except (ValueError, TypeError, IndexError, pd.errors.ParserError):
        return None
    return parsed if len(parsed) == len(given) else None


def parse_ints(values: Sequence[bytes]) -> np.ndarray:
    """Digit strings (at most 18 digits) -> int64, -1 for ``b""``."""
    n = len(values)
    empty = values.count(b"")
    if empty == n:
        return np.full(n, -1, dtype=np.int64)
    if not empty:
        return np.fromstring(b" ".join(values), dtype=np.int64, sep=" ", count=n)
    table = {v: int(v) if v else -1 for v in set(values)}  # (values repeat: each distinct one once)
    return np.fromiter(map(table.__getitem__, values), np.int64, count=n)


def thread_of(head: bytes) -> bytes | None:
    """The thread id in a glog prefix (``... 24067 net.cpp:322``), None when there is none."""
    toks = head.split()
    return toks[-2] if len(toks) >= 2 and toks[-2].isdigit() else None
