"""Softmax along ``axis`` (default 1; negative counts from the end).

Caffe rule (SoftmaxLayer): top = bottom shape; the axis is canonicalized against the bottom.

FLOPs: 5 per element — max comparison, subtract the max, exp, add to the sum, divide by the sum.
Receptive field: pointwise, GLOBAL when the axis is spatial (>= 2).

Forward: ``exp(x - max) / sum(exp(x - max))`` along the axis (Caffe subtracts the max first).
"""

from __future__ import annotations

from typing import Any

import numpy as np

from caffecx.layers._common import axis_index, check_blob_counts
from caffecx.layers.base import GLOBAL, Context, Counts, Layer, RunContext, Shape, Window, count, register


def softmax(x: np.ndarray, axis: int) -> np.ndarray:
    """Caffe's softmax along `axis`, in a new array of `x`'s dtype."""
    top = x - x.max(axis=axis, keepdims=True)
    np.exp(top, out=top)
    top /= top.sum(axis=axis, keepdims=True)
    return top


@register("Softmax")
class Softmax(Layer):
    """Caffe's ``Softmax``; see the module docstring."""

    axis: int = 1

    def setup(self, bottom_shapes: list[Shape], ctx: Context) -> list[Shape]:
        check_blob_counts(self, bottom_shapes)
        bottom = tuple(bottom_shapes[0])
        self.axis = axis_index(self, bottom, int(self.lp.softmax_param.axis))
        return [bottom]

    def to_onnx(self, ctx: Any, bottoms: list[str], tops: list[str], blobs: list[np.ndarray]) -> None:
        ctx.op("Softmax", bottoms, tops[0], axis=self.axis)

    def forward(self, bottoms: list[np.ndarray], blobs: list[np.ndarray], run: RunContext) -> list[np.ndarray]:
        return [softmax(bottoms[0], self.axis)]

    def counts(self, bottom_shapes: list[Shape], top_shapes: list[Shape]) -> Counts:
        return Counts(0, 5 * count(top_shapes[0]))

    def window(self, bottom_shapes: list[Shape]) -> Window | None:
        """Pointwise over space unless the softmax runs along a spatial axis (>= 2)."""
        n = len(bottom_shapes[0])
        axis = int(self.lp.softmax_param.axis)
        axis = axis + n if axis < 0 else axis
        return GLOBAL if axis >= 2 else None
