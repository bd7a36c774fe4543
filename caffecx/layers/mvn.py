"""MVN: mean-variance normalization per sample (and per channel unless ``across_channels``).

Caffe rule (MVNLayer): the top is reshaped with the legacy accessors, ``(num, channels, height,
width)`` — the bottom's shape for a 4-axis bottom, padded with 1s to 4 axes for fewer (a ``(N, C)``
bottom gives a ``(N, C, 1, 1)`` top), and refused for more than 4 axes. Statistics run over
``count(1)`` values per sample with ``across_channels: true``, else over ``count(2)`` per (sample,
channel). ``normalize_variance`` (default true) divides by ``sqrt(var) + eps`` (eps, default 1e-9, is
added to the standard deviation, not to the variance as in BatchNorm) after subtracting the mean;
the variance is the biased one (divided by the group size). No stored blobs.

FLOPs per element: 2 for the mean (sum add, subtract), +3 with ``normalize_variance`` (square, sum add,
divide); the per-group divisions and square roots are not counted. Receptive field: GLOBAL (the
statistics span the spatial axes).
"""

from __future__ import annotations

from typing import Any

import numpy as np

from caffecx.layers._common import check_blob_counts, legacy_dim, onnx_reshape
from caffecx.layers.base import GLOBAL, Context, Counts, Layer, RunContext, Shape, Window, count, register


@register("MVN")
class MVN(Layer):
    """Caffe's ``MVN``; see the module docstring."""

    def setup(self, bottom_shapes: list[Shape], ctx: Context) -> list[Shape]:
        check_blob_counts(self, bottom_shapes)
        bottom = tuple(bottom_shapes[0])
        return [tuple(legacy_dim(self, bottom, i) for i in range(4))]

    def counts(self, bottom_shapes: list[Shape], top_shapes: list[Shape]) -> Counts:
        per = 5 if self.lp.mvn_param.normalize_variance else 2
        return Counts(0, per * count(top_shapes[0]))

    def window(self, bottom_shapes: list[Shape]) -> Window | None:
        """The statistics span the spatial axes."""
        return GLOBAL if len(bottom_shapes[0]) > 2 else None

    def to_onnx(self, ctx: Any, bottoms: list[str], tops: list[str], blobs: list[np.ndarray]) -> None:
        """Mean (and root-mean-square) over each sample (``across_channels``) or each channel's map."""
        x = onnx_reshape(ctx, bottoms[0], self.bottom_shapes[0], self.top_shapes[0])
        axes = [1, 2, 3] if self.lp.mvn_param.across_channels else [2, 3]
        centred = ctx.op("Sub", [x, ctx.reduce("ReduceMean", x, axes)], None if self.lp.mvn_param.normalize_variance
                         else tops[0])
        if self.lp.mvn_param.normalize_variance:
            std = ctx.op("Sqrt", [ctx.reduce("ReduceMean", ctx.op("Mul", [centred, centred]), axes)])
            eps = float(np.float32(self.lp.mvn_param.eps))
            ctx.op("Div", [centred, ctx.mul_add(std, 1.0, eps)], tops[0])

    def forward(self, bottoms: list[np.ndarray], blobs: list[np.ndarray], run: RunContext) -> list[np.ndarray]:
        p = self.lp.mvn_param
        n, c = self.top_shapes[0][:2]
        groups = n if p.across_channels else n * c
        x = bottoms[0].reshape(groups, -1)
        top = x - x.mean(axis=1, keepdims=True, dtype=run.dtype)
        if p.normalize_variance:
            std = np.sqrt(np.square(top).mean(axis=1, keepdims=True, dtype=run.dtype))
            std += np.dtype(run.dtype).type(p.eps)
            top /= std
        return [top.reshape(self.top_shapes[0])]
