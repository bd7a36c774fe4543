"""Pooling: MAX, AVE and STOCHASTIC over the two spatial axes of a 4-D blob.

Caffe rule (PoolingLayer): ``pooled = ceil((in + 2*pad - kernel) / stride) + 1`` (``round_mode: FLOOR``
rounds down instead), then, when any padding is set, the clip rule drops a last window that would start
inside the bottom/right padding: ``if (pooled-1)*stride >= in+pad: pooled -= 1``. So GoogLeNet's
112x112 with k3 s2 gives 56 (floor-mode tools say 55), and 20 with k4 s2 p1 gives 10 (the 11th window
would start in the padding). ``global_pooling`` uses the whole input as kernel and needs pad 0,
stride 1. CHECKs: kernel given as ``kernel_size`` xor ``kernel_h``+``kernel_w``; ``pad < kernel``;
padding only with MAX/AVE. A MAX pooling may have a second top (the argmax mask, same shape).

Counts (whole batch): no MACs. FLOPs = N*C*prod(out)*prod(kernel) for MAX (one comparison per window
element) and AVE (one add per window element) plus, for AVE, one division per output. STOCHASTIC is
counted as its TEST-phase weighted average: 2 per window element (square-sum and sum) plus 1 division.
Windows clipped at the border are counted at full size.

Forward (Caffe's Forward_cpu): MAX starts every output at -FLT_MAX and takes a value only when it is
strictly greater, scanning the window row by row — so padding never wins, ties keep the first
position, NaN never wins; the optional second top is that position as ``h*W + w`` within the channel
(float; -1 if nothing beat -FLT_MAX). AVE sums the real pixels and divides by the window clipped to the
PADDED extent (``min(start+k, in+pad) - start``), so border windows count their padding cells
(unlike count_include_pad=False tools) but not cells past the padding that ceil mode adds.
STOCHASTIC has no CPU forward in Caffe (NOT_IMPLEMENTED): refused.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from caffecx.layers._threads import parallel_for
from caffecx.layers._windows import (
    avg_correction,
    border_divisor,
    onnx_window_pads,
    pad_for_windows,
    taps,
    window_reduce,
)
from caffecx.layers.base import GLOBAL, Context, Counts, Layer, RunContext, Shape, Window, register
from caffecx.layers.spatial import Geometry, enum_name, pool_geometry, pool_out_hw, require_4d, round_ceil


def pooling_flops(method: str, num: int, channels: int, out_hw: tuple[int, int], kernel: int) -> int:
    """FLOPs of one pooling over a batch under the convention of the module docstring."""
    outputs = num * channels * out_hw[0] * out_hw[1]
    if method == "AVE":
        return outputs * (kernel + 1)
    if method == "STOCHASTIC":
        return outputs * (2 * kernel + 1)
    return outputs * kernel


@register("Pooling")
class Pooling(Layer):
    """Caffe's ``Pooling``; see the module docstring for the shape rule and counts."""

    num_tops = (1, 2)
    closes_stage = True

    def declared_pad(self) -> tuple[int, ...] | None:
        pp = self.lp.pooling_param
        return (int(pp.pad_h), int(pp.pad_w)) if pp.pad_h or pp.pad_w else (int(pp.pad),)

    def method(self) -> str:
        return enum_name(self.lp.pooling_param, "pool")

    def geometry(self, bottom: Shape) -> tuple[Geometry, bool]:
        require_4d(bottom, self.check)
        return pool_geometry(self.lp.pooling_param, bottom[2:], self.check)

    def setup(self, bottom_shapes: list[Shape], ctx: Context) -> list[Shape]:
        bottom = tuple(bottom_shapes[0])
        max_tops = 2 if self.method() == "MAX" else 1
        self.check(
            len(self.lp.top) <= max_tops,
            f"Pooling Layer produces at most {max_tops} top blob(s) as output.",
        )
        geo, _ = self.geometry(bottom)
        out = pool_out_hw(bottom[2:], geo, self.check, round_ceil(self.lp.pooling_param))
        self.parsed = geo
        top = (bottom[0], bottom[1], *out)
        return [top for _ in self.lp.top]

    def forward_refusal(self) -> str | None:
        return stochastic_refusal(self.method())

    def to_onnx(self, ctx: Any, bottoms: list[str], tops: list[str], blobs: list[np.ndarray]) -> None:
        """MAX/AVE by `pool_onnx`; the MAX mask top is refused (ONNX's indices count over the whole tensor)."""
        self.check(len(tops) == 1, "the MAX pooling mask top has no ONNX mapping")
        self.check(self.method() in ("MAX", "AVE"), f"{self.method()} pooling has no ONNX mapping")
        pool_onnx(ctx, bottoms[0], self.method(), self.parsed, self.bottom_shapes[0][2:], self.top_shapes[0][2:],
                  tops[0])

    def forward(self, bottoms: list[np.ndarray], blobs: list[np.ndarray], run: RunContext) -> list[np.ndarray]:
        x = np.asarray(bottoms[0], dtype=run.dtype)
        out = self.top_shapes[0][2:]
        top, mask = pool2d(x, self.method(), self.parsed, out, with_mask=len(self.lp.top) > 1)
        return [top] if mask is None else [top, mask.astype(run.dtype)]

    def counts(self, bottom_shapes: list[Shape], top_shapes: list[Shape]) -> Counts:
        bottom, top = bottom_shapes[0], top_shapes[0]
        geo, _ = self.geometry(tuple(bottom))
        kernel = math.prod(geo.kernel)
        return Counts(0, pooling_flops(self.method(), top[0], top[1], (top[2], top[3]), kernel))

    def window(self, bottom_shapes: list[Shape]) -> Window | None:
        geo, is_global = self.geometry(tuple(bottom_shapes[0]))
        return GLOBAL if is_global else geo.window()


# -- the pooling itself (shared with SPP and LRN WITHIN_CHANNEL) ------------------------------------


def pool_onnx(ctx: Any, x: str, method: str, geo: Geometry, size: Shape, out: Shape, top: str | None = None) -> str:
    """Caffe's MAX/AVE pooling of ONNX value `x` (N, C, *size) as ONNX nodes, never with ONNX's
    ``ceil_mode``: explicit (asymmetric) end pads give Caffe's output size (`onnx_window_pads`). MAX is a
    MaxPool (its pads never win); AVE an AveragePool over an explicitly zero-padded input (every window
    in bounds: divides by the full kernel) times `avg_correction`, so border windows divide by the
    window clipped to the padded extent as Caffe does. A window over the whole input is a global pool."""
    if tuple(geo.kernel) == tuple(size) and not any(geo.pad) and tuple(out) == (1, 1):
        return ctx.op("GlobalMaxPool" if method == "MAX" else "GlobalAveragePool", [x], top)
    pads = onnx_window_pads(size, out, geo.kernel, geo.stride, geo.pad)
    attrs = {"kernel_shape": list(geo.kernel), "strides": list(geo.stride)}
    if method == "MAX":
        return ctx.op("MaxPool", [x], top, pads=pads, **attrs)
    if any(pads):
        x = ctx.op("Pad", [x, ctx.ints([0, 0, pads[0], pads[1], 0, 0, pads[2], pads[3]], "pads")])
    corr = avg_correction(size, out, geo.kernel, geo.stride, geo.pad)
    y = ctx.op("AveragePool", [x], top if corr is None else None, **attrs)
    return y if corr is None else ctx.op("Mul", [y, ctx.const(corr, "divisor")], top)


def stochastic_refusal(method: str) -> str | None:
    """STOCHASTIC pooling cannot run: Caffe's CPU forward for it is NOT_IMPLEMENTED."""
    if method == "STOCHASTIC":
        return "Caffe has no CPU forward for STOCHASTIC pooling (Forward_cpu is NOT_IMPLEMENTED)"
    return None

#: Caffe starts MAX outputs at -FLT_MAX (for double nets too).
_MAX_START = float(np.finfo(np.float32).max)


def pool2d(x: np.ndarray, method: str, geo: Geometry, out: Shape,
           with_mask: bool = False) -> tuple[np.ndarray, np.ndarray | None]:
    """Caffe's MAX/AVE pooling of ``x (N, C, H, W)`` to ``(N, C, *out)`` (see the module docstring);
    the mask (int64 flat index, -1 where nothing won) only for MAX with `with_mask`."""
    n, c, h, w = x.shape
    if 0 in (n, c, out[0], out[1]):
        empty = np.zeros((n, c, *out), dtype=x.dtype)
        return empty, (empty.astype(np.int64) if with_mask and method == "MAX" else None)
    if tuple(out) == (1, 1):
        return _pool_single(x, method, geo, with_mask)
    if method == "MAX" and with_mask:
        return _max_pool(x, geo, out, with_mask)
    # MAX starts at -FLT_MAX as Caffe does; fmax keeps it against -inf and NaN (never strictly greater)
    op, init = (np.fmax, -_MAX_START) if method == "MAX" else (np.add, 0.0)
    acc = np.empty((n, c, *out), dtype=x.dtype)

    def sample(i: int) -> None:  # a sample at a time: the row-reduced intermediate stays a sample's size
        rows = window_reduce(x[i], 1, out[0], geo.kernel[0], geo.stride[0], geo.pad[0], op, init)
        acc[i] = window_reduce(rows, 2, out[1], geo.kernel[1], geo.stride[1], geo.pad[1], op, init)

    parallel_for(sample, n, x.size * (geo.kernel[0] + geo.kernel[1]))
    if method == "MAX":
        return acc, None
    div = np.multiply.outer(*(border_divisor(size, o, k, s, p) for size, o, k, s, p
                              in zip((h, w), out, geo.kernel, geo.stride, geo.pad, strict=True)))
    acc /= div.astype(x.dtype)
    return acc, None


def _max_pool(x: np.ndarray, geo: Geometry, out: Shape,
              with_mask: bool) -> tuple[np.ndarray, np.ndarray | None]:
    """MAX with its argmax mask: the kernel taps in Caffe's scan order, a tap winning only when strictly
    greater (padding is -inf: it never beats -FLT_MAX; the first of equal values keeps the mask)."""
    n, c, h, w = x.shape
    xp = pad_for_windows(x, out, geo.kernel, geo.stride, geo.pad, value=-np.inf)
    best = np.full((n, c, *out), -_MAX_START, dtype=x.dtype)
    mask = np.full(best.shape, -1, dtype=np.int64)
    rows = np.arange(out[0]) * geo.stride[0] - geo.pad[0]
    cols = np.arange(out[1]) * geo.stride[1] - geo.pad[1]
    better = np.empty(best.shape, dtype=bool)
    for flat, view in taps(xp, out, geo.kernel, geo.stride):
        ti, tj = divmod(flat, geo.kernel[1])
        np.greater(view, best, out=better)
        np.copyto(best, view, where=better)
        np.copyto(mask, np.add.outer((rows + ti) * w, cols + tj), where=better)
    return best, mask


def _pool_single(x: np.ndarray, method: str, geo: Geometry,
                 with_mask: bool) -> tuple[np.ndarray, np.ndarray | None]:
    """One output per channel (global pooling and the like): a reduction over the clipped window."""
    n, c, h, w = x.shape
    hend, wend = min(geo.kernel[0] - geo.pad[0], h), min(geo.kernel[1] - geo.pad[1], w)
    region = x[:, :, :hend, :wend].reshape(n, c, -1)
    if method == "AVE":
        pool_size = int(border_divisor(h, 1, geo.kernel[0], geo.stride[0], geo.pad[0])[0]
                        * border_divisor(w, 1, geo.kernel[1], geo.stride[1], geo.pad[1])[0])
        total = region.sum(axis=2, dtype=x.dtype)
        return (total / x.dtype.type(pool_size)).reshape(n, c, 1, 1).astype(x.dtype), None
    best = np.fmax(np.fmax.reduce(region, axis=2), -_MAX_START).astype(x.dtype)
    mask = None
    if with_mask:
        pos = np.argmax(np.where(np.isnan(region), -np.inf, region), axis=2)
        mask = np.where(best > -_MAX_START, (pos // wend) * w + pos % wend, -1)
        mask = mask.reshape(n, c, 1, 1)
    return best.reshape(n, c, 1, 1), mask
