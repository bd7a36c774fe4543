"""LRN: local response normalization, ACROSS_CHANNELS (default) or WITHIN_CHANNEL.

Caffe rule (LRNLayer): input must be 4-D; ``local_size`` must be odd; top has the bottom's shape.
``y = x / (k + alpha/n * sum(x^2 over the window))^beta`` with n = local_size (ACROSS: a window of n
channels) or n = local_size^2 (WITHIN: an n-by-n spatial window, zero padded by (local_size-1)/2,
implemented by Caffe as an AVE Pooling, so the padded border divides by the full window size).

Counts (per output element, whole batch; no MACs):
ACROSS_CHANNELS = local_size + 5 FLOPs (1 square, local_size adds of the window, 1 mul by alpha/n,
1 add of k, 1 pow, 1 mul by x); WITHIN_CHANNEL = local_size^2 + 6 (1 square, local_size^2 adds, 1
division of the average, 1 mul + 1 add of the Power layer, 1 pow, 1 mul by x). Caffe's running-sum
implementation across channels does fewer adds; the convention counts the window directly.
"""

from __future__ import annotations

import math

from caffecx.layers.base import Context, Counts, Layer, Shape, Window, register
from caffecx.layers.spatial import enum_name, require_4d


@register("LRN")
class LRN(Layer):
    """Caffe's ``LRN``; see the module docstring."""

    def _size(self) -> int:
        size = int(self.lp.lrn_param.local_size)
        self.check(size % 2 == 1, f"LRN only supports odd values for local_size (got {size})")
        return size

    def within(self) -> bool:
        return enum_name(self.lp.lrn_param, "norm_region") == "WITHIN_CHANNEL"

    def setup(self, bottom_shapes: list[Shape], ctx: Context) -> list[Shape]:
        self._size()
        bottom = tuple(bottom_shapes[0])
        require_4d(bottom, self.check)
        return [bottom]

    def counts(self, bottom_shapes: list[Shape], top_shapes: list[Shape]) -> Counts:
        size = self._size()
        per = size * size + 6 if self.within() else size + 5
        return Counts(0, per * math.prod(top_shapes[0]))

    def window(self, bottom_shapes: list[Shape]) -> Window | None:
        if not self.within():
            return None
        size = self._size()
        pad = (size - 1) // 2
        return Window((size, size), (1, 1), (pad, pad), (1, 1))
