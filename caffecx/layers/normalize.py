"""Normalize (SSD fork): L2-normalize each sample (``across_spatial``, default) or each position across
channels, then multiply by a learned scale.

Caffe rule (weiliu89/caffe NormalizeLayer): bottom needs at least 2 axes ("Number of axes of bottom blob
must be >=2."); top = bottom shape. Stored blob: the scale, ``(C,)`` with C = ``bottom.channels()``, or a
0-axis scalar ``()`` with ``norm_param.channel_shared`` (converters often write ``(1,)``).

Forward (Caffe's ``Forward_cpu``): the norm is ``sqrt(sum x^2 + eps)`` — ``eps`` (default 1e-10) inside
the root, once per sample (across_spatial) or per position. A sample is multiplied by ``1 / norm`` (the
reciprocal taken in double), a position divided by its norm; then every channel is multiplied by its
scale (or the one shared scale). The scale blob is filled with ``scale_filler``, else a constant 1.

FLOPs: 4 per element (square, add to the norm's sum, divide by the norm, mul by the scale); the square
roots (one per sample or position) are not counted. Receptive field: GLOBAL with ``across_spatial``
(one norm per sample), else pointwise (one norm per position, across channels).
"""

from __future__ import annotations

from typing import Any

import numpy as np

from caffecx.layers._common import check_blob_counts, legacy_dim
from caffecx.layers.base import (
    GLOBAL,
    Context,
    Counts,
    Layer,
    ParamBlob,
    RunContext,
    Shape,
    Window,
    count,
    register,
)


def _scale_filler(p: Any) -> Any:
    """``norm_param.scale_filler``, or the constant 1 Caffe uses when it is absent."""
    if p.HasField("scale_filler"):
        return p.scale_filler
    from caffecx.proto import caffe_pb2

    return caffe_pb2.FillerParameter(type="constant", value=1.0)


@register("Normalize")
class Normalize(Layer):
    """SSD's ``Normalize``; see the module docstring."""

    def setup(self, bottom_shapes: list[Shape], ctx: Context) -> list[Shape]:
        check_blob_counts(self, bottom_shapes)
        bottom = tuple(bottom_shapes[0])
        self.check(len(bottom) >= 2, "Number of axes of bottom blob must be >=2.")
        legacy_dim(self, bottom, 1)
        p = self.lp.norm_param
        self.across_spatial, self.channel_shared, self.eps = bool(p.across_spatial), bool(p.channel_shared), p.eps
        return [bottom]

    def param_shapes(self, bottom_shapes: list[Shape]) -> list[ParamBlob]:
        p = self.lp.norm_param
        if p.channel_shared:
            return [ParamBlob((), "weight", _scale_filler(p))]
        return [ParamBlob((legacy_dim(self, bottom_shapes[0], 1),), "weight", _scale_filler(p))]

    def to_onnx(self, ctx: Any, bottoms: list[str], tops: list[str], blobs: list[np.ndarray]) -> None:
        """x / sqrt(sum of squares + eps) per sample (``across_spatial``) or per position, times the scale."""
        x, ndim = bottoms[0], len(self.bottom_shapes[0])
        axes = list(range(1, ndim)) if self.across_spatial else [1]
        squares = ctx.reduce("ReduceSumSquare", x, axes)
        norm = ctx.op("Sqrt", [ctx.mul_add(squares, 1.0, float(np.float32(self.eps)))])
        unit = ctx.op("Div", [x, norm])
        shape = (1,) if self.channel_shared else (-1, *(1,) * (ndim - 2))
        ctx.op("Mul", [unit, ctx.const(blobs[0].reshape(shape), "scale")], tops[0])

    def forward(self, bottoms: list[np.ndarray], blobs: list[np.ndarray], run: RunContext) -> list[np.ndarray]:
        """L2 norm per sample or per position (eps inside the root), then the per-channel scale."""
        x = np.asarray(bottoms[0], dtype=run.dtype)
        n, c = x.shape[0], legacy_dim(self, x.shape, 1)
        x3 = x.reshape(n, c, -1)
        eps = np.dtype(run.dtype).type(self.eps)
        if self.across_spatial:
            norm = np.sqrt(np.einsum("ncs,ncs->n", x3, x3) + eps)
            inv = (1.0 / norm.astype(np.float64)).astype(run.dtype)  # Caffe: Dtype(1.0 / norm)
            top = x3 * inv[:, None, None]
        else:
            norm = np.sqrt(np.einsum("ncs,ncs->ns", x3, x3) + eps)
            top = x3 / norm[:, None, :]
        scale = np.asarray(blobs[0], dtype=run.dtype)
        top *= scale.reshape(()) if self.channel_shared else scale.reshape(1, c, 1)
        return [top.reshape(x.shape)]

    def counts(self, bottom_shapes: list[Shape], top_shapes: list[Shape]) -> Counts:
        return Counts(0, 4 * count(top_shapes[0]))

    def window(self, bottom_shapes: list[Shape]) -> Window | None:
        """``across_spatial`` norms span the whole sample; per-position norms are pointwise."""
        return GLOBAL if self.lp.norm_param.across_spatial else None
