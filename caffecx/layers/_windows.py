"""Sliding-window primitives shared by the window layers' forward passes (conv, deconv, im2col,
pooling, SPP, LRN): padding an array for a set of windows, viewing the windows without copying,
walking kernel taps as strided views, and scattering taps back (col2im).

Conventions: the spatial axes are the LAST ``len(kernel)`` axes of an array; every other axis leads.
A window ``o`` along an axis covers padded positions ``o*stride + t*dilation`` for taps ``t < kernel``,
i.e. unpadded positions ``o*stride - pad + t*dilation`` — Caffe's im2col/pooling indexing. Caffe's
output-size formulas can ask for windows that run past the padded input (conv's C++ truncating
division, pooling's ceil mode); `pad_for_windows` pads that overrun too, with the same value.
"""

from __future__ import annotations

import functools
import itertools
import math
from collections.abc import Iterator, Sequence
from typing import Any

import numpy as np
from numpy.lib.stride_tricks import as_strided

Ints = Sequence[int]


def extents(kernel: Ints, dilation: Ints) -> tuple[int, ...]:
    """Effective window size per axis: ``dilation*(kernel-1)+1``."""
    return tuple(d * (k - 1) + 1 for k, d in zip(kernel, dilation, strict=True))


def pad_for_windows(x: np.ndarray, out: Ints, kernel: Ints, stride: Ints, pad: Ints,
                    dilation: Ints | None = None, value: float = 0.0) -> np.ndarray:
    """`x` padded on its spatial axes so that `out` windows fit: ``pad`` before, and after whatever
    the last window needs (at most ``pad`` unless Caffe's rounding lets the window run further).

    The padded cells hold `value` (0 for conv/AVE, -inf for MAX so that they never win).
    """
    n = len(kernel)
    dilation = dilation or (1,) * n
    spatial = x.shape[x.ndim - n:]
    before = [int(p) for p in pad]
    after = [max(0, (o - 1) * s + e - i - p) if o > 0 else 0
             for o, s, e, i, p in zip(out, stride, extents(kernel, dilation), spatial, pad, strict=True)]
    if not any(before) and not any(after):
        return x
    shape = (*x.shape[: x.ndim - n], *(i + b + a for i, b, a in zip(spatial, before, after, strict=True)))
    xp = np.zeros(shape, dtype=x.dtype) if value == 0 else np.full(shape, value, dtype=x.dtype)
    inner = tuple(slice(b, b + i) for b, i in zip(before, spatial, strict=True))
    xp[(Ellipsis, *inner)] = x
    return xp


def window_view(xp: np.ndarray, out: Ints, kernel: Ints, stride: Ints,
                dilation: Ints | None = None) -> np.ndarray:
    """Read-only view of the windows of padded `xp`: shape ``(*lead, *kernel, *out)`` (im2col's layout:
    taps before output positions). Reshaping it to ``(lead, C*K, P)`` is Caffe's column buffer."""
    n = len(kernel)
    dilation = dilation or (1,) * n
    lead_shape, lead_strides = xp.shape[: xp.ndim - n], xp.strides[: xp.ndim - n]
    sp_strides = xp.strides[xp.ndim - n:]
    shape = (*lead_shape, *kernel, *out)
    strides = (*lead_strides, *(d * st for d, st in zip(dilation, sp_strides, strict=True)),
               *(s * st for s, st in zip(stride, sp_strides, strict=True)))
    return as_strided(xp, shape=shape, strides=strides, writeable=False)


def tap_slices(out: Ints, kernel: Ints, stride: Ints,
               dilation: Ints | None = None) -> Iterator[tuple[int, tuple[slice, ...]]]:
    """(flat tap index in row-major kernel order, slices on the padded spatial axes selecting that tap
    for every output position). The taps come in Caffe's scan order (row by row)."""
    dilation = dilation or (1,) * len(kernel)
    for flat, taps in enumerate(itertools.product(*(range(k) for k in kernel))):
        yield flat, tuple(slice(t * d, t * d + s * (o - 1) + 1, s)
                          for t, d, s, o in zip(taps, dilation, stride, out, strict=True))


def taps(xp: np.ndarray, out: Ints, kernel: Ints, stride: Ints,
         dilation: Ints | None = None) -> Iterator[tuple[int, np.ndarray]]:
    """(flat tap index, strided view ``(*lead, *out)`` of padded `xp` at that tap) for every tap."""
    for flat, sl in tap_slices(out, kernel, stride, dilation):
        yield flat, xp[(Ellipsis, *sl)]


def col2im(cols: np.ndarray, image: Ints, kernel: Ints, stride: Ints, pad: Ints,
           dilation: Ints | None = None) -> np.ndarray:
    """Caffe's col2im: sum every tap of ``cols`` (``(*lead, *kernel, *cols_out)``) back onto an image of
    spatial size `image`; contributions landing in the padding are dropped. One add per kernel tap."""
    n = len(kernel)
    dilation = dilation or (1,) * n
    col_out = cols.shape[cols.ndim - n:]
    lead = cols.shape[: cols.ndim - 2 * n]
    size = [max(i + 2 * p, (o - 1) * s + e) if o > 0 else i + 2 * p
            for i, p, o, s, e in zip(image, pad, col_out, stride, extents(kernel, dilation), strict=True)]
    buf = np.zeros((*lead, *size), dtype=cols.dtype)
    cols_by_tap = cols.reshape(*lead, -1, *col_out)
    for flat, sl in tap_slices(col_out, kernel, stride, dilation):
        buf[(Ellipsis, *sl)] += cols_by_tap[(Ellipsis, flat, *(slice(None),) * n)]
    inner = tuple(slice(p, p + i) for p, i in zip(pad, image, strict=True))
    return buf[(Ellipsis, *inner)]


def phase_shifts(x: np.ndarray, out: Ints, kernel: Ints, stride: Ints, pad: Ints,
                 dilation: Ints | None = None) -> tuple[np.ndarray, list[tuple[int, int]], int, tuple[int, ...]]:
    """Windows as contiguous shifts of flat, zero-padded phase planes (any stride).

    Phase ``ph`` (one residue per axis, ``ph < stride``) is the plane ``plane[i] = padded[i*stride + ph]``.
    Tap ``t`` of output ``o`` reads padded ``o*stride + t*d = (o + t*d // stride)*stride + t*d % stride``:
    phase ``t*d % stride`` shifted by ``t*d // stride``, the same shift for every output. Flattening each
    plane, a tap is then one contiguous slice ``flat[..., phase, off:off+length]`` for all outputs (rows
    carry a few junk columns, cropped by `crop_shifted`), which keeps numpy's inner loops contiguous for
    depthwise-style per-tap multiply-adds. With stride 1 there is one plane: the padded image itself.
    Returns (flat ``(*lead, phases, total)``, (phase, offset) per tap in scan order, length, plane shape).
    """
    n = len(kernel)
    spatial = tuple(x.shape[x.ndim - n:])
    plane, length, total, taps_, copies = _phase_layout(spatial, tuple(out), tuple(kernel), tuple(stride),
                                                        tuple(pad), tuple(dilation or (1,) * n))
    lead = x.shape[: x.ndim - n]
    flat = np.zeros((*lead, math.prod(stride), total), dtype=x.dtype)
    for index, dst, src in copies:
        flat[..., index, : math.prod(plane)].reshape(*lead, *plane)[dst] = x[src]
    return flat, list(taps_), length, plane


@functools.lru_cache(maxsize=256)
def _phase_layout(spatial: tuple[int, ...], out: tuple[int, ...], kernel: tuple[int, ...], stride: tuple[int, ...],
                  pad: tuple[int, ...], dilation: tuple[int, ...]) -> tuple[Any, ...]:
    """`phase_shifts`' index work for one geometry: plane shape, tap length, buffer length, (phase, offset)
    per tap, and (phase, plane slices, image slices) for the copies filling the planes."""
    shifts = [[t * d // s for t in range(k)] for k, d, s in zip(kernel, dilation, stride, strict=True)]
    plane = tuple(o + sh[-1] for o, sh in zip(out, shifts, strict=True))
    rows = [math.prod(plane[a + 1:]) for a in range(len(kernel))]
    length = out[0] * rows[0]
    taps_ = []
    for tap in itertools.product(*(range(k) for k in kernel)):
        phase = tuple(t * d % s for t, d, s in zip(tap, dilation, stride, strict=True))
        offset = sum(shifts[a][t] * rows[a] for a, t in enumerate(tap))
        taps_.append((int(np.ravel_multi_index(phase, stride)), offset))
    total = max(math.prod(plane), max(off for _, off in taps_) + length)
    copies = []
    for index, phase in enumerate(itertools.product(*(range(s) for s in stride))):
        dst, src = [], []
        for ph, s, p, size, extent in zip(phase, stride, pad, spatial, plane, strict=True):
            first = max(0, -((ph - p) // s))  # first plane index reading inside the image
            start = first * s + ph - p
            count = max(0, min(extent - first, -(-(size - start) // s)))
            dst.append(slice(first, first + count))
            src.append(slice(start, start + s * (count - 1) + 1 if count else start, s))
        copies.append((index, (Ellipsis, *dst), (Ellipsis, *src)))
    return plane, length, total, taps_, copies


def crop_shifted(acc: np.ndarray, out: Ints, padded: Ints) -> np.ndarray:
    """The outputs of a `phase_shifts` result ``(*lead, length)``: drop the junk columns of each row."""
    n = len(out)
    full = acc.reshape(*acc.shape[:-1], out[0], *padded[1:])
    return full[(Ellipsis, *(slice(0, o) for o in out[1:]))] if n > 1 else full


def window_reduce(x: np.ndarray, axis: int, out: int, kernel: int, stride: int, pad: int,
                  op: np.ufunc, init: float) -> np.ndarray:
    """Reduce windows along ONE axis without a padded copy: output ``o`` combines (with `op`, e.g.
    ``np.fmax`` or ``np.add``) input positions ``o*stride - pad + t`` for taps ``t < kernel``; positions
    outside the input (padding, ceil-mode overrun) count as `init`. Pooling is separable: reducing the
    rows, then the columns, does a k×k window in 2k passes over shrinking arrays instead of k² passes."""
    size = x.shape[axis]
    shape = list(x.shape)
    shape[axis] = out
    result = np.full(shape, init, dtype=x.dtype)
    lead = (slice(None),) * axis
    for t in range(kernel):
        first = max(0, -((t - pad) // stride))  # smallest o with o*stride - pad + t >= 0
        last = min(out, (size - 1 + pad - t) // stride + 1) if size - 1 + pad - t >= 0 else 0
        if last <= first:
            continue
        start = first * stride - pad + t
        src = x[(*lead, slice(start, start + stride * (last - first - 1) + 1, stride))]
        dst = result[(*lead, slice(first, last))]
        op(dst, src, out=dst)
    return result


def border_divisor(size: int, out: int, kernel: int, stride: int, pad: int) -> np.ndarray:
    """Caffe's AVE pooling divisor along one axis: window ``[o*stride-pad, +kernel)`` clipped to the
    PADDED extent ``size+pad`` (not to the image), so border windows that overlap the padding still
    divide by the padded cells they cover."""
    start = np.arange(out) * stride - pad
    return (np.minimum(start + kernel, size + pad) - start).astype(np.int64)


def onnx_end_pad(size: int, out: int, extent: int, stride: int, pad: int) -> int:
    """The end pad that makes an ONNX window op (floor rounding, begin pad `pad`) give Caffe's `out`
    windows along one axis: `pad` when it already does, else exactly what the last window needs (ceil-mode
    pooling and truncated conv sizes run past the padding). Never less than Caffe keeps: with end pad
    `pad`, floor rounding gives more windows than Caffe's only if ``pad >= kernel``, which Caffe refuses."""
    if (size + 2 * pad - extent) // stride + 1 == out:
        return pad
    return max(0, (out - 1) * stride + extent - size - pad)


def onnx_window_pads(size: Ints, out: Ints, extent: Ints, stride: Ints, pad: Ints) -> list[int]:
    """ONNX ``pads`` (begins + ends) for a window op over the last ``len(size)`` axes to give Caffe's
    `out` windows with ONNX's floor rounding (`onnx_end_pad` per axis)."""
    ends = [onnx_end_pad(*args) for args in zip(size, out, extent, stride, pad, strict=True)]
    return [*(int(p) for p in pad), *ends]


def avg_correction(size: Ints, out: Ints, kernel: Ints, stride: Ints, pad: Ints) -> np.ndarray | None:
    """``prod(kernel) / Caffe's divisor`` per output position (``out`` shaped), or None when every
    window divides by the full kernel: turns an average over a zero-padded full window into Caffe's
    average over the window clipped to the padded extent (`border_divisor`)."""
    div = np.ones((), dtype=np.int64)
    for s, o, k, st, p in zip(size, out, kernel, stride, pad, strict=True):
        div = np.multiply.outer(div, border_divisor(s, o, k, st, p))
    full = int(np.prod(kernel))
    if np.all(div == full):
        return None
    return (full / div.astype(np.float64)).astype(np.float32)


__all__ = ["avg_correction", "onnx_end_pad", "onnx_window_pads", "window_reduce", "border_divisor", "col2im", "crop_shifted", "extents", "phase_shifts", "pad_for_windows", "tap_slices", "taps", "window_view"]
