"""BatchNorm: normalize each channel by stored (or batch) mean and variance; no affine part.

Caffe rule (BatchNormLayer): C = ``bottom.shape(1)`` (1 for a 1-axis bottom); top = bottom shape.
Stored blobs, all non-learned statistics (``lr_mult`` is forced to 0 by Caffe): running mean ``(C,)``,
running variance ``(C,)``, and the moving-average scale factor ``(1,)`` that both are divided by.
The learned scale/shift live in a following ``Scale`` layer (``bias_term: true``).

FLOPs: 2 per element at inference — mean, variance, factor and eps fold into one per-channel multiplier
and offset (``y = a*x + b``), which is how deployed runtimes run it. Caffe's own CPU forward does more
(subtract, divide by sqrt(var + eps), plus the statistics in TRAIN); those are not counted.
"""

from __future__ import annotations

from caffecx.layers._common import axis_index, check_blob_counts
from caffecx.layers.base import Context, Counts, Layer, ParamBlob, Shape, count, register


@register("BatchNorm")
class BatchNorm(Layer):
    """Caffe's ``BatchNorm``; see the module docstring."""

    def channels(self, bottom: Shape) -> int:
        return 1 if len(bottom) == 1 else int(bottom[axis_index(self, bottom, 1)])

    def setup(self, bottom_shapes: list[Shape], ctx: Context) -> list[Shape]:
        check_blob_counts(self, bottom_shapes)
        bottom = tuple(bottom_shapes[0])
        self.channels(bottom)
        return [bottom]

    def param_shapes(self, bottom_shapes: list[Shape]) -> list[ParamBlob]:
        c = self.channels(tuple(bottom_shapes[0]))
        return [ParamBlob((c,), "stat"), ParamBlob((c,), "stat"), ParamBlob((1,), "stat")]

    def counts(self, bottom_shapes: list[Shape], top_shapes: list[Shape]) -> Counts:
        return Counts(0, 2 * count(top_shapes[0]))
