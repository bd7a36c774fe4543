"""Flatten: merge axes ``axis .. end_axis`` (inclusive) into one.

Caffe rule (FlattenLayer): defaults ``axis: 1``, ``end_axis: -1``; both are canonicalized (negative =
from the end), so ``(2, 3, 4, 5)`` with ``axis: 1, end_axis: 2`` gives ``(2, 12, 5)`` and the default
gives ``(2, 60)``. ``end_axis`` one before ``axis`` flattens an empty range, i.e. inserts a 1
(Caffe's ``count(a, a) == 1``); earlier than that is an error. In-place use is refused. 0 FLOPs.

Forward: a reshaped view of the bottom (Caffe shares the data).
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from caffecx.layers._common import axis_index, check_blob_counts, not_in_place, onnx_reshape
from caffecx.layers.base import Context, Layer, RunContext, Shape, register


@register("Flatten")
class Flatten(Layer):
    """Caffe's ``Flatten``; see the module docstring."""

    def setup(self, bottom_shapes: list[Shape], ctx: Context) -> list[Shape]:
        check_blob_counts(self, bottom_shapes)
        not_in_place(self)
        bottom = tuple(bottom_shapes[0])
        p = self.lp.flatten_param
        start = axis_index(self, bottom, int(p.axis))
        end = axis_index(self, bottom, int(p.end_axis))
        self.check(start <= end + 1, f"end_axis {p.end_axis} comes before axis {p.axis}")
        return [(*bottom[:start], math.prod(bottom[start:end + 1]), *bottom[end + 1:])]

    def to_onnx(self, ctx: Any, bottoms: list[str], tops: list[str], blobs: list[np.ndarray]) -> None:
        onnx_reshape(ctx, bottoms[0], self.bottom_shapes[0], self.top_shapes[0], tops[0])

    def forward(self, bottoms: list[np.ndarray], blobs: list[np.ndarray], run: RunContext) -> list[np.ndarray]:
        return [bottoms[0].reshape(self.top_shapes[0])]
