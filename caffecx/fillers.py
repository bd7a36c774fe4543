"""Caffe's weight fillers (``include/caffe/filler.hpp``) in NumPy (a whole net's: `caffecx.plan.Plan.init_weights`).

Rules reproduced (a blob of shape ``(s0, s1, ...)`` with ``count`` elements):

* ``constant``: ``value`` (default 0). No ``FillerParameter`` at all means ``constant`` 0, Caffe's default.
* ``uniform``: U[min, max] (defaults 0, 1; Caffe CHECKs min <= max).
* ``gaussian``: N(mean, std) (defaults 0, 1; Caffe CHECKs std > 0). With ``sparse`` >= 0 each element is
  kept with probability ``sparse / s0`` (``s0`` = the blob's first axis, "num outputs"), else zeroed.
* ``xavier``: U[-sqrt(3/n), sqrt(3/n)]; ``msra``: N(0, sqrt(2/n)); ``n`` by ``variance_norm``:
  FAN_IN ``count // s0``, FAN_OUT ``count // s1`` (``count`` for a 1-axis blob), AVERAGE their mean.
  The divisions are integer divisions, as in Caffe.
* ``bilinear``: the upsampling kernel, for a 4-axis blob with a square kernel (K, K):
  ``f = ceil(K/2)``, ``c = (K-1)/(2f)``, ``w(y, x) = (1-|x/f-c|)(1-|y/f-c|)`` for every (n, c) plane.
* ``positive_unitball``: U[0, 1) with each of the ``s0`` rows (``count // s0`` values) divided by its sum.
* ``sparse`` set (not -1) on any filler other than ``gaussian`` is Caffe's "Sparsity not supported".

The random draws are NumPy's, not Boost's mt19937 as in Caffe: the distributions are Caffe's, the
numbers are not (no tool reproduces Caffe's random weights bit for bit without Caffe's generator).
"""

from __future__ import annotations

import math
import zlib
from typing import Any

import numpy as np

from caffecx.errors import CaffecxError

_NORMS = {0: "FAN_IN", 1: "FAN_OUT", 2: "AVERAGE"}


def fill(filler: Any, shape: tuple[int, ...] | list[int], rng: np.random.Generator,
         dtype: Any = np.float32) -> np.ndarray:
    """A new array of `shape` filled as Caffe's ``GetFiller(filler)->Fill(blob)`` would (see the module
    docstring); `filler` is a ``FillerParameter`` or None (constant 0)."""
    shape = tuple(int(d) for d in shape)
    dtype = np.dtype(dtype)
    kind = "constant" if filler is None else str(filler.type)
    size = math.prod(shape)
    if size == 0:
        raise CaffecxError(f"{kind} filler: the blob {list(shape)} is empty (Caffe CHECKs count > 0)")
    sparse = -1 if filler is None else int(filler.sparse)
    if kind != "gaussian" and sparse != -1:
        raise CaffecxError(f"{kind} filler: sparsity not supported by this filler (sparse: {sparse})")
    if kind == "constant":
        return np.full(shape, 0.0 if filler is None else filler.value, dtype=dtype)
    if kind == "uniform":
        return _uniform(rng, shape, float(filler.min), float(filler.max), dtype)
    if kind == "gaussian":
        return _gaussian(filler, shape, rng, dtype)
    if kind in ("xavier", "msra"):
        n = _fan(filler, shape, kind)
        if kind == "xavier":
            scale = math.sqrt(3.0 / n)
            return _uniform(rng, shape, -scale, scale, dtype)
        return _normal(rng, shape, 0.0, math.sqrt(2.0 / n), dtype)
    if kind == "bilinear":
        return _bilinear(shape, dtype)
    if kind == "positive_unitball":
        _need_axes(shape, 1, kind)
        data = _uniform(rng, shape, 0.0, 1.0, dtype).reshape(shape[0], -1)
        data /= data.sum(axis=1, keepdims=True, dtype=dtype)
        return data.reshape(shape)
    raise CaffecxError(f"unknown filler type '{kind}' (Caffe knows constant, gaussian, positive_unitball, "
                       "uniform, xavier, msra, bilinear)")


def _need_axes(shape: tuple[int, ...], axes: int, kind: str) -> None:
    if len(shape) < axes:
        raise CaffecxError(f"{kind} filler needs a blob with at least {axes} axis, got shape {list(shape)}")


def _uniform(rng: np.random.Generator, shape: tuple[int, ...], low: float, high: float,
             dtype: np.dtype) -> np.ndarray:
    if not low <= high:
        raise CaffecxError(f"uniform filler: min {low:g} is greater than max {high:g}")
    draw = rng.random(shape, dtype=dtype if dtype in (np.float32, np.float64) else np.float64)
    draw *= draw.dtype.type(high - low)
    draw += draw.dtype.type(low)
    return draw.astype(dtype, copy=False)


def _normal(rng: np.random.Generator, shape: tuple[int, ...], mean: float, std: float,
            dtype: np.dtype) -> np.ndarray:
    if not std > 0:
        raise CaffecxError(f"gaussian filler: std must be > 0 (Caffe CHECKs sigma > 0), got {std:g}")
    draw = rng.standard_normal(shape, dtype=dtype if dtype in (np.float32, np.float64) else np.float64)
    draw *= draw.dtype.type(std)
    draw += draw.dtype.type(mean)
    return draw.astype(dtype, copy=False)


def _gaussian(filler: Any, shape: tuple[int, ...], rng: np.random.Generator, dtype: np.dtype) -> np.ndarray:
    data = _normal(rng, shape, float(filler.mean), float(filler.std), dtype)
    sparse = int(filler.sparse)
    if sparse < -1:
        raise CaffecxError(f"gaussian filler: sparse must be >= -1, got {sparse}")
    if sparse >= 0:
        _need_axes(shape, 1, "sparse gaussian")
        p = sparse / shape[0]
        if p > 1:
            raise CaffecxError(f"gaussian filler: sparse {sparse} is more than the blob's {shape[0]} outputs "
                               "(Caffe CHECKs the keep probability <= 1)")
        data *= rng.random(shape) < p
    return data


def _fan(filler: Any, shape: tuple[int, ...], kind: str) -> float:
    """Caffe's n for xavier/msra: fan_in = count / shape(0), fan_out = count / shape(1) (integer)."""
    _need_axes(shape, 1, kind)
    size = math.prod(shape)
    fan_in = size // shape[0]
    fan_out = size // shape[1] if len(shape) > 1 else size
    norm = _NORMS.get(int(filler.variance_norm), "FAN_IN")
    if norm == "AVERAGE":
        return (fan_in + fan_out) / 2.0
    return float(fan_out if norm == "FAN_OUT" else fan_in)


def _bilinear(shape: tuple[int, ...], dtype: np.dtype) -> np.ndarray:
    """Caffe's BilinearFiller, computed in the blob's float type as Caffe computes it."""
    if len(shape) != 4:
        raise CaffecxError(f"bilinear filler: the blob must be 4-D, got shape {list(shape)}")
    if shape[2] != shape[3]:
        raise CaffecxError(f"bilinear filler: the filter must be square, got {shape[2]}x{shape[3]}")
    k = shape[3]
    f = math.ceil(k / 2.0)
    t = dtype.type
    c = t((k - 1) / (2.0 * f))
    axis = t(1) - np.abs(np.arange(k, dtype=dtype) / t(f) - c)
    kernel = (axis[:, None] * axis[None, :]).astype(dtype, copy=False)
    return np.ascontiguousarray(np.broadcast_to(kernel, shape))


def layer_rng(seed: int, name: str, occurrence: int = 0, blob: int = 0) -> np.random.Generator:
    """The generator for one blob of one layer: derived from (seed, layer name, which layer of that name,
    blob index), so adding, removing or reordering other layers does not change this blob's values."""
    if seed < 0:
        raise CaffecxError(f"the seed must be a non-negative integer, got {seed}")
    return np.random.default_rng([seed, zlib.crc32(name.encode("utf-8")), occurrence, blob])
