"""Split: copy one bottom to N tops (Caffe inserts these itself for blobs read by several layers).

Caffe rule (SplitLayer): every top has the bottom's shape; in-place use is refused. 0 FLOPs (the tops
share the bottom's data in the forward pass; Caffe still counts each top in its memory total).

Forward: every top is the bottom array itself.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from caffecx.layers._common import check_blob_counts, not_in_place
from caffecx.layers.base import Context, Layer, RunContext, Shape, register


@register("Split")
class Split(Layer):
    """Caffe's ``Split``; see the module docstring."""

    shares_bottom_data = True
    num_tops = (1, None)

    def setup(self, bottom_shapes: list[Shape], ctx: Context) -> list[Shape]:
        check_blob_counts(self, bottom_shapes)
        not_in_place(self)
        return [tuple(bottom_shapes[0]) for _ in self.lp.top]

    def to_onnx(self, ctx: Any, bottoms: list[str], tops: list[str], blobs: list[np.ndarray]) -> None:
        for top in tops:
            ctx.identity(bottoms[0], top)

    def forward(self, bottoms: list[np.ndarray], blobs: list[np.ndarray], run: RunContext) -> list[np.ndarray]:
        return [bottoms[0] for _ in self.top_shapes]
