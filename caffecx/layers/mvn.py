"""MVN: mean-variance normalization per sample (and per channel unless ``across_channels``).

Caffe rule (MVNLayer): top = bottom shape; statistics over ``count(1)`` values per sample with
``across_channels: true``, else over ``count(2)`` per (sample, channel). ``normalize_variance`` (default
true) divides by ``sqrt(var) + eps`` after subtracting the mean. No stored blobs.

FLOPs per element: 2 for the mean (sum add, subtract), +3 with ``normalize_variance`` (square, sum add,
divide); the per-group divisions and square roots are not counted. Receptive field: GLOBAL (the
statistics span the spatial axes).
"""

from __future__ import annotations

from caffecx.layers._common import check_blob_counts
from caffecx.layers.base import GLOBAL, Context, Counts, Layer, Shape, Window, count, register


@register("MVN")
class MVN(Layer):
    """Caffe's ``MVN``; see the module docstring."""

    def setup(self, bottom_shapes: list[Shape], ctx: Context) -> list[Shape]:
        check_blob_counts(self, bottom_shapes)
        return [tuple(bottom_shapes[0])]

    def counts(self, bottom_shapes: list[Shape], top_shapes: list[Shape]) -> Counts:
        per = 5 if self.lp.mvn_param.normalize_variance else 2
        return Counts(0, per * count(top_shapes[0]))

    def window(self, bottom_shapes: list[Shape]) -> Window | None:
        """The statistics span the spatial axes."""
        return GLOBAL if len(bottom_shapes[0]) > 2 else None
