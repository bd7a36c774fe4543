"""Weight statistics per stored blob: the audit of a legacy caffemodel.

``near_zero`` counts values with ``|w| < NEAR_ZERO · max|w|`` of the same blob (a pruned or dead
filter bank shows up as a large fraction); min/max/mean/std are over the finite values.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any

import numpy as np

from caffecx.graph import Net

NEAR_ZERO = 1e-3


@dataclass
class BlobStats:
    """One stored blob of one layer."""

    layer: str
    type: str
    blob: int
    shape: list[int]
    count: int
    min: float | None
    max: float | None
    mean: float | None
    std: float | None
    zeros: float
    near_zero: float
    nan: int
    inf: int

    def to_json(self) -> dict[str, Any]:
        return asdict(self)


def blob_stats(layer: str, type_: str, index: int, array: np.ndarray) -> BlobStats:
    """Statistics of one blob (float64 sums, so large blobs do not lose precision)."""
    a = np.asarray(array, dtype=np.float64).ravel()
    nan = int(np.isnan(a).sum())
    inf = int(np.isinf(a).sum())
    finite = a[np.isfinite(a)]
    n = int(a.size)
    if finite.size:
        peak = float(np.abs(finite).max())
        lo, hi = float(finite.min()), float(finite.max())
        mean, std = float(finite.mean()), float(finite.std())
        near = float((np.abs(finite) < NEAR_ZERO * peak).sum() / n) if peak > 0 else float(finite.size / n)
    else:
        lo = hi = mean = std = None
        near = 0.0
    zeros = float((a == 0).sum() / n) if n else 0.0
    return BlobStats(layer, type_, index, [int(d) for d in array.shape], n, lo, hi, mean, std, zeros, near, nan, inf)


def weight_stats(net: Net) -> list[BlobStats]:
    """One row per blob the weights file gave, in the net's layer order."""
    return [blob_stats(node.name, node.type, i, blob)
            for node in net.layers for i, blob in enumerate(node.blobs)]
