"""Permute (SSD fork): transpose axes.

Caffe rule (weiliu89/caffe PermuteLayer): ``permute_param.order`` lists new axis order; each entry must
be < the bottom's number of axes and appear once; axes not listed follow in their original order
(``order: 0 order: 2`` on 4 axes = ``(0, 2, 1, 3)``). top.shape[i] = bottom.shape[order[i]]. Data
movement only: 0 FLOPs (an identity order shares the bottom's data).

Forward: ``numpy.transpose`` by the full order, copied to a contiguous array as Caffe copies; an
identity order returns the bottom itself (Caffe's ``ShareData``).
"""

from __future__ import annotations

from typing import Any

import numpy as np

from caffecx.layers._common import check_blob_counts
from caffecx.layers.base import Context, Layer, RunContext, Shape, register


@register("Permute")
class Permute(Layer):
    """SSD's ``Permute``; see the module docstring."""

    def order(self, ndim: int) -> list[int]:
        """The full axis order for a bottom of `ndim` axes."""
        order: list[int] = []
        for o in self.lp.permute_param.order:
            o = int(o)
            self.check(0 <= o < ndim, f"order should be less than the input dimension. (order {o}, {ndim} axes)")
            self.check(o not in order, f"there are duplicate orders ({o})")
            order.append(o)
        return order + [i for i in range(ndim) if i not in order]

    def setup(self, bottom_shapes: list[Shape], ctx: Context) -> list[Shape]:
        check_blob_counts(self, bottom_shapes)
        bottom = tuple(bottom_shapes[0])
        self.full_order = self.order(len(bottom))
        return [tuple(bottom[i] for i in self.full_order)]

    def to_onnx(self, ctx: Any, bottoms: list[str], tops: list[str], blobs: list[np.ndarray]) -> None:
        ctx.op("Transpose", bottoms, tops[0], perm=list(self.full_order))

    def forward(self, bottoms: list[np.ndarray], blobs: list[np.ndarray], run: RunContext) -> list[np.ndarray]:
        x = bottoms[0]
        if self.full_order == list(range(x.ndim)):
            return [x]
        return [np.ascontiguousarray(np.transpose(x, self.full_order), dtype=run.dtype)]
