"""Reshape: give the bottom's data a new shape (no copy).

Caffe rule (ReshapeLayer), for ``reshape_param { shape {dim...} axis num_axes }``:

* the new dims replace bottom axes ``[start, end)``: ``start = axis`` (``axis < 0`` counts from the end
  with ``-1`` meaning *after the last axis*: ``start = ndim + axis + 1``), ``end = start + num_axes`` or
  the last axis for ``num_axes: -1`` (the default). Axes outside the range are kept;
* a dim of ``0`` copies bottom axis ``start + i`` (that axis must exist);
* at most one ``-1``, inferred so that the counts match (the rest must divide the bottom count);
* the final count must equal the bottom's. In-place use is refused. 0 FLOPs.

Forward: a reshaped view of the bottom (Caffe shares the data).
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from caffecx.layers._common import check_blob_counts, not_in_place, onnx_reshape
from caffecx.layers.base import Context, Layer, RunContext, Shape, register


@register("Reshape")
class Reshape(Layer):
    """Caffe's ``Reshape``; see the module docstring."""

    def setup(self, bottom_shapes: list[Shape], ctx: Context) -> list[Shape]:
        check_blob_counts(self, bottom_shapes)
        not_in_place(self)
        p = self.lp.reshape_param
        dims = [int(d) for d in p.shape.dim]
        copy_axes = [i for i, d in enumerate(dims) if d == 0]
        inferred = [i for i, d in enumerate(dims) if d == -1]
        self.check(len(inferred) <= 1,
                   "new shape contains multiple -1 dims; at most a single (1) value of -1 may be specified")
        bottom = tuple(bottom_shapes[0])
        n = len(bottom)
        axis = int(p.axis)
        start = axis if axis >= 0 else n + axis + 1
        self.check(start >= 0, f"axis {axis} out of range")
        self.check(start <= n, f"axis {axis} out of range for {n}-D input blob")
        num_axes = int(p.num_axes)
        self.check(num_axes >= -1, "num_axes must be >= 0, or -1 for all")
        end = n if num_axes == -1 else start + num_axes
        self.check(end <= n, "end_axis = axis + num_axes is out of range")
        top = [*bottom[:start], *dims, *bottom[end:]]
        for i in copy_axes:
            self.check(start + i < n, "new shape contains a 0, but there was no corresponding bottom axis to copy")
            top[start + i] = bottom[start + i]
        total = math.prod(bottom)
        if inferred:
            explicit = math.prod(d for d in dims if d not in (0, -1))
            explicit *= math.prod(bottom[:start]) * math.prod(bottom[end:])
            explicit *= math.prod(top[start + i] for i in copy_axes)
            self.check(explicit != 0 and total % explicit == 0,
                       f"bottom count ({total}) must be divisible by the product of the specified "
                       f"dimensions ({explicit})")
            top[start + inferred[0]] = total // explicit
        for d in top:
            self.check(d >= 0, f"negative dimension {d} in the new shape")
        self.check(math.prod(top) == total,
                   f"output count must match input count ({math.prod(top)} vs. {total}: "
                   f"{' '.join(map(str, top))} from {' '.join(map(str, bottom))})")
        return [tuple(top)]

    def to_onnx(self, ctx: Any, bottoms: list[str], tops: list[str], blobs: list[np.ndarray]) -> None:
        onnx_reshape(ctx, bottoms[0], self.bottom_shapes[0], self.top_shapes[0], tops[0])

    def forward(self, bottoms: list[np.ndarray], blobs: list[np.ndarray], run: RunContext) -> list[np.ndarray]:
        return [bottoms[0].reshape(self.top_shapes[0])]
