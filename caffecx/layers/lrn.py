"""LRN: local response normalization, ACROSS_CHANNELS (default) or WITHIN_CHANNEL.

Caffe rule (LRNLayer): input must be 4-D; ``local_size`` must be odd; top has the bottom's shape.
``y = x / (k + alpha/n * sum(x^2 over the window))^beta`` with n = local_size (ACROSS: a window of n
channels) or n = local_size^2 (WITHIN: an n-by-n spatial window, zero padded by (local_size-1)/2,
implemented by Caffe as an AVE Pooling, so the padded border divides by the full window size).

Counts (per output element, whole batch; no MACs):
ACROSS_CHANNELS = local_size + 5 FLOPs (1 square, local_size adds of the window, 1 mul by alpha/n,
1 add of k, 1 pow, 1 mul by x); WITHIN_CHANNEL = local_size^2 + 6 (1 square, local_size^2 adds, 1
division of the average, 1 mul + 1 add of the Power layer, 1 pow, 1 mul by x). Caffe's running-sum
implementation across channels does fewer adds; the convention counts the window directly.

Forward: ACROSS_CHANNELS ``scale = k + alpha/size * sum(x^2 over channels c-(size-1)/2 ..
c+(size-1)/2, zeros beyond the ends)``, ``top = x * scale^-beta``. WITHIN_CHANNEL is Caffe's
sub-net: ``x^2`` -> AVE Pooling (kernel size, pad (size-1)/2, stride 1; the Pooling divisor rule) ->
Power ``(1 + alpha*avg)^-beta`` -> product with x. Note that WITHIN_CHANNEL ignores ``k`` (Caffe's
Power shift is fixed at 1).
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from caffecx.layers.base import Context, Counts, Layer, RunContext, Shape, Window, register
from caffecx.layers.pooling import pool2d, pool_onnx
from caffecx.layers.spatial import Geometry, enum_name, require_4d


@register("LRN")
class LRN(Layer):
    """Caffe's ``LRN``; see the module docstring."""

    def _size(self) -> int:
        size = int(self.lp.lrn_param.local_size)
        self.check(size % 2 == 1, f"LRN only supports odd values for local_size (got {size})")
        return size

    def within(self) -> bool:
        return enum_name(self.lp.lrn_param, "norm_region") == "WITHIN_CHANNEL"

    def setup(self, bottom_shapes: list[Shape], ctx: Context) -> list[Shape]:
        self._size()
        bottom = tuple(bottom_shapes[0])
        require_4d(bottom, self.check)
        return [bottom]

    def to_onnx(self, ctx: Any, bottoms: list[str], tops: list[str], blobs: list[np.ndarray]) -> None:
        """ACROSS_CHANNELS: ONNX LRN (the same ``k + alpha/size * sum`` convention). WITHIN_CHANNEL (ONNX has
        none): ``x * (1 + alpha * avgpool(x^2))^-beta`` with Caffe's padded AVE pooling (`pool_onnx`)."""
        lp, x = self.lp.lrn_param, bottoms[0]
        size, alpha, beta = self._size(), float(np.float32(lp.alpha)), float(np.float32(lp.beta))
        if not self.within():
            ctx.op("LRN", [x], tops[0], size=size, alpha=alpha, beta=beta, bias=float(np.float32(lp.k)))
            return
        pad = (size - 1) // 2
        hw = self.bottom_shapes[0][2:]
        geo = Geometry((size, size), (1, 1), (pad, pad), (1, 1))
        mean = pool_onnx(ctx, ctx.op("Mul", [x, x]), "AVE", geo, hw, hw)
        power = ctx.op("Pow", [ctx.mul_add(mean, alpha, 1.0), ctx.scalar(-beta, "power")])
        ctx.op("Mul", [x, power], tops[0])

    def forward(self, bottoms: list[np.ndarray], blobs: list[np.ndarray], run: RunContext) -> list[np.ndarray]:
        x = np.asarray(bottoms[0], dtype=run.dtype)
        lp = self.lp.lrn_param
        size, alpha, beta = self._size(), float(lp.alpha), float(lp.beta)
        dt = x.dtype.type
        if x.size == 0:
            return [x.copy()]
        top = np.empty_like(x)
        for i in range(x.shape[0]):  # a sample at a time: the temporaries stay a sample's size
            sq = np.square(x[i : i + 1])
            if self.within():
                pad = (size - 1) // 2
                geo = Geometry((size, size), (1, 1), (pad, pad), (1, 1))
                scale = pool2d(sq, "AVE", geo, x.shape[2:])[0]
                scale *= dt(alpha)
                scale += dt(1)
            else:  # the channel window c-pre .. c+pre (size is odd), zeros beyond the ends
                scale = sq.copy()
                for d in range(1, (size - 1) // 2 + 1):
                    scale[:, d:] += sq[:, :-d]
                    scale[:, :-d] += sq[:, d:]
                scale *= dt(alpha / size)
                scale += dt(lp.k)
            top[i : i + 1] = _times_power(x[i : i + 1], scale, beta)
        return [top]

    def counts(self, bottom_shapes: list[Shape], top_shapes: list[Shape]) -> Counts:
        size = self._size()
        per = size * size + 6 if self.within() else size + 5
        return Counts(0, per * math.prod(top_shapes[0]))

    def window(self, bottom_shapes: list[Shape]) -> Window | None:
        if not self.within():
            return None
        size = self._size()
        pad = (size - 1) // 2
        return Window((size, size), (1, 1), (pad, pad), (1, 1))


def _times_power(x: np.ndarray, scale: np.ndarray, beta: float) -> np.ndarray:
    """``x * scale^-beta``; the usual ``beta = 0.75`` as ``x / (sqrt(s) * sqrt(sqrt(s)))`` — two square
    roots cost a fraction of a general power and agree with it to a float's last bits."""
    if beta == 0.75:
        root = np.sqrt(scale)
        root *= np.sqrt(root)
        return np.divide(x, root, out=root)
    return x * np.power(scale, x.dtype.type(-beta))
