"""Normalize (SSD fork): L2-normalize each sample (``across_spatial``, default) or each position across
channels, then multiply by a learned scale.

Caffe rule (weiliu89/caffe NormalizeLayer): bottom needs at least 2 axes ("Number of axes of bottom blob
must be >=2."); top = bottom shape. Stored blob: the scale, ``(C,)`` with C = ``bottom.channels()``, or a
0-axis scalar ``()`` with ``norm_param.channel_shared`` (converters often write ``(1,)``).

FLOPs: 4 per element (square, add to the norm's sum, divide by the norm, mul by the scale); the square
roots (one per sample or position) are not counted. Receptive field: GLOBAL with ``across_spatial``
(one norm per sample), else pointwise (one norm per position, across channels).
"""

from __future__ import annotations

from caffecx.layers._common import check_blob_counts, legacy_dim
from caffecx.layers.base import GLOBAL, Context, Counts, Layer, ParamBlob, Shape, Window, count, register


@register("Normalize")
class Normalize(Layer):
    """SSD's ``Normalize``; see the module docstring."""

    def setup(self, bottom_shapes: list[Shape], ctx: Context) -> list[Shape]:
        check_blob_counts(self, bottom_shapes)
        bottom = tuple(bottom_shapes[0])
        self.check(len(bottom) >= 2, "Number of axes of bottom blob must be >=2.")
        legacy_dim(self, bottom, 1)
        return [bottom]

    def param_shapes(self, bottom_shapes: list[Shape]) -> list[ParamBlob]:
        if self.lp.norm_param.channel_shared:
            return [ParamBlob((), "weight")]
        return [ParamBlob((legacy_dim(self, bottom_shapes[0], 1),), "weight")]

    def counts(self, bottom_shapes: list[Shape], top_shapes: list[Shape]) -> Counts:
        return Counts(0, 4 * count(top_shapes[0]))

    def window(self, bottom_shapes: list[Shape]) -> Window | None:
        """``across_spatial`` norms span the whole sample; per-position norms are pointwise."""
        return GLOBAL if self.lp.norm_param.across_spatial else None
