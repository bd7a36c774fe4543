"""Blob-by-blob comparison of a forward pass with a reference (a real Caffe run's ``.npz``).

A reference npz holds ``blob/<name>`` (every blob after the pass; an in-place blob holds its last
value) and optionally ``input/<name>`` (what was fed). A blob agrees when its shape is equal and
``max|ours - ref| <= tolerance * max|ref|`` (relative to the blob's largest magnitude, so a blob of
values near 0 is not judged by a meaningless element-wise ratio; an all-zero reference blob is judged
with an absolute ``tolerance``). NaNs must sit at the same positions.
"""

from __future__ import annotations

import os
import zipfile
from collections.abc import Mapping
from dataclasses import dataclass

import numpy as np

from caffecx.errors import CaffecxError

DEFAULT_TOLERANCE = 1e-4


@dataclass(frozen=True)
class BlobDiff:
    """How one blob of ours compares with the reference."""

    name: str
    shape: tuple[int, ...] | None
    ref_shape: tuple[int, ...] | None
    max_abs: float | None
    max_rel: float | None
    ok: bool

    @property
    def status(self) -> str:
        if self.shape is None:
            return "missing"
        if self.ref_shape is None:
            return "no reference"
        if self.shape != self.ref_shape:
            return "shape differs"
        return "ok" if self.ok else "differs"


def read_reference(path: str | os.PathLike[str]) -> tuple[dict[str, np.ndarray], dict[str, np.ndarray]]:
    """(blobs, inputs) of a reference npz, by blob name (its ``blob/`` and ``input/`` keys)."""
    try:
        with np.load(path, allow_pickle=False) as data:
            blobs = {k[5:]: data[k] for k in data.files if k.startswith("blob/")}
            inputs = {k[6:]: data[k] for k in data.files if k.startswith("input/")}
    except FileNotFoundError:
        raise CaffecxError("reference file not found", path=str(path)) from None
    except (OSError, ValueError, zipfile.BadZipFile, EOFError) as err:
        raise CaffecxError(f"not a readable .npz reference ({err})", path=str(path)) from None
    if not blobs:
        raise CaffecxError("the reference holds no 'blob/<name>' arrays", path=str(path))
    return blobs, inputs


def compare_blob(name: str, ours: np.ndarray | None, ref: np.ndarray | None,
                 tolerance: float = DEFAULT_TOLERANCE) -> BlobDiff:
    """One blob against its reference (see the module docstring for the rule)."""
    shape = None if ours is None else tuple(int(d) for d in np.shape(ours))
    ref_shape = None if ref is None else tuple(int(d) for d in np.shape(ref))
    if ours is None or ref is None or shape != ref_shape:
        return BlobDiff(name, shape, ref_shape, None, None, ours is not None and ref is None)
    a = np.asarray(ours, dtype=np.float64)
    b = np.asarray(ref, dtype=np.float64)
    nan_a, nan_b = np.isnan(a), np.isnan(b)
    if a.size == 0:
        return BlobDiff(name, shape, ref_shape, 0.0, 0.0, True)
    same_nans = bool(np.array_equal(nan_a, nan_b))
    finite = ~(nan_a | nan_b)
    diff = np.abs(a[finite] - b[finite])
    max_abs = float(diff.max()) if diff.size else 0.0
    scale = float(np.abs(b[finite]).max()) if diff.size else 0.0
    max_rel = max_abs / scale if scale > 0 else max_abs
    return BlobDiff(name, shape, ref_shape, max_abs, max_rel, same_nans and max_rel <= tolerance)


def compare_blobs(ours: Mapping[str, np.ndarray], reference: Mapping[str, np.ndarray],
                  tolerance: float = DEFAULT_TOLERANCE) -> list[BlobDiff]:
    """Every reference blob against ours (in the reference's order), then blobs only we have."""
    rows = [compare_blob(name, ours.get(name), ref, tolerance) for name, ref in reference.items()]
    rows += [compare_blob(name, array, None, tolerance) for name, array in ours.items() if name not in reference]
    return rows
