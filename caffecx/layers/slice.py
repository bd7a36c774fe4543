"""Slice: split one bottom along an axis into several tops.

Caffe rule (SliceLayer): ``axis`` (default 1) or legacy ``slice_dim`` (not both). With ``slice_point``
there must be exactly ``#tops - 1`` strictly increasing points, and no more tops than the axis size;
the tops get sizes ``p0, p1-p0, ..., size-p_last``. Without points the axis is split evenly and must
be divisible by the number of tops. Data movement only: 0 FLOPs.

Forward: each top is a contiguous copy of its slab (one top is passed through: Caffe shares its data).
"""

from __future__ import annotations

from typing import Any

import numpy as np

from caffecx.layers._common import axis_index, check_blob_counts, field_set
from caffecx.layers.base import Context, Layer, RunContext, Shape, register


@register("Slice")
class Slice(Layer):
    """Caffe's ``Slice``; see the module docstring."""

    num_tops = (1, None)
    axis: int = 1

    def setup(self, bottom_shapes: list[Shape], ctx: Context) -> list[Shape]:
        check_blob_counts(self, bottom_shapes)
        p = self.lp.slice_param
        has_dim = field_set(p, "slice_dim")
        self.check(not (field_set(p, "axis") and has_dim), "Either axis or slice_dim should be specified; not both.")
        bottom = tuple(bottom_shapes[0])
        if has_dim:
            axis = int(p.slice_dim)
            self.check(axis < len(bottom), "slice_dim out of range.")
        else:
            axis = axis_index(self, bottom, int(p.axis))
        size = bottom[axis]
        n_top = len(self.lp.top)
        points = [int(x) for x in p.slice_point]
        if points:
            self.check(len(points) == n_top - 1,
                       f"{len(points)} slice_point(s) for {n_top} tops: need exactly one fewer point than tops")
            self.check(n_top <= size, f"{n_top} tops cannot slice an axis of size {size}")
            sizes, prev = [], 0
            for pt in points:
                self.check(pt > prev, f"slice_point {pt} must be greater than the previous point {prev}")
                sizes.append(pt - prev)
                prev = pt
            self.check(size - prev >= 0, f"slice_point {prev} is beyond the axis size {size}")
            sizes.append(size - prev)
        else:
            self.check(size % n_top == 0,
                       f"Number of top blobs ({n_top}) should evenly divide input slice axis ({size})")
            sizes = [size // n_top] * n_top
        self.axis = axis
        return [tuple(s if i != axis else k for i, s in enumerate(bottom)) for k in sizes]

    def to_onnx(self, ctx: Any, bottoms: list[str], tops: list[str], blobs: list[np.ndarray]) -> None:
        if len(tops) == 1:
            ctx.identity(bottoms[0], tops[0])
            return
        sizes = [s[self.axis] for s in self.top_shapes]
        ctx.ops("Split", [bottoms[0], ctx.ints(sizes, "split")], tops, axis=self.axis)

    def forward(self, bottoms: list[np.ndarray], blobs: list[np.ndarray], run: RunContext) -> list[np.ndarray]:
        x = bottoms[0]
        if len(self.top_shapes) == 1:
            return [x]
        bounds = np.cumsum([0] + [s[self.axis] for s in self.top_shapes])
        index: list[slice] = [slice(None)] * x.ndim
        tops = []
        for lo, hi in zip(bounds[:-1], bounds[1:], strict=True):
            index[self.axis] = slice(int(lo), int(hi))
            tops.append(np.ascontiguousarray(x[tuple(index)]))
        return tops
