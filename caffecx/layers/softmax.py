"""Softmax along ``axis`` (default 1; negative counts from the end).

Caffe rule (SoftmaxLayer): top = bottom shape; the axis is canonicalized against the bottom.

FLOPs: 5 per element — max comparison, subtract the max, exp, add to the sum, divide by the sum.
Receptive field: pointwise, GLOBAL when the axis is spatial (>= 2).
"""

from __future__ import annotations

from caffecx.layers._common import axis_index, check_blob_counts
from caffecx.layers.base import GLOBAL, Context, Counts, Layer, Shape, Window, count, register


@register("Softmax")
class Softmax(Layer):
    """Caffe's ``Softmax``; see the module docstring."""

    def setup(self, bottom_shapes: list[Shape], ctx: Context) -> list[Shape]:
        check_blob_counts(self, bottom_shapes)
        bottom = tuple(bottom_shapes[0])
        axis_index(self, bottom, int(self.lp.softmax_param.axis))
        return [bottom]

    def counts(self, bottom_shapes: list[Shape], top_shapes: list[Shape]) -> Counts:
        return Counts(0, 5 * count(top_shapes[0]))

    def window(self, bottom_shapes: list[Shape]) -> Window | None:
        """Pointwise over space unless the softmax runs along a spatial axis (>= 2)."""
        n = len(bottom_shapes[0])
        axis = int(self.lp.softmax_param.axis)
        axis = axis + n if axis < 0 else axis
        return GLOBAL if axis >= 2 else None
