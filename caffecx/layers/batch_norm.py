"""BatchNorm: normalize each channel by stored (or batch) mean and variance; no affine part.

Caffe rule (BatchNormLayer): C = ``bottom.shape(1)``; top = bottom shape. A 1-axis bottom sets C = 1 but
then fails Reshape's ``CHECK_EQ(bottom.shape(1), C)`` (axis 1 out of range), so it is refused.
Stored blobs, all non-learned statistics (``lr_mult`` is forced to 0 by Caffe): running mean ``(C,)``,
running variance ``(C,)``, and the moving-average scale factor ``(1,)`` that both are divided by.
The learned scale/shift live in a following ``Scale`` layer (``bias_term: true``).

FLOPs: 2 per element at inference — mean, variance, factor and eps fold into one per-channel multiplier
and offset (``y = a*x + b``), which is how deployed runtimes run it. Caffe's own CPU forward does more
(subtract, divide by sqrt(var + eps), plus the statistics in TRAIN); those are not counted.

Forward (Caffe's ``Forward_cpu``): ``use_global_stats`` defaults to ``phase == TEST``. With global
statistics, ``factor = blob2[0] == 0 ? 0 : 1/blob2[0]``, ``mean = blob0*factor``, ``var = blob1*factor``;
otherwise mean and biased variance of the batch per channel (over axis 0 and the axes after 1). Then
``(x - mean) / sqrt(var + eps)`` — eps inside the root. The running averages Caffe updates in TRAIN
are not written back (a forward never writes its blobs); the output does not depend on them.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from caffecx.layers._common import axis_index, check_blob_counts
from caffecx.layers.base import Context, Counts, Layer, ParamBlob, RunContext, Shape, count, register


@register("BatchNorm")
class BatchNorm(Layer):
    """Caffe's ``BatchNorm``; see the module docstring."""

    def channels(self, bottom: Shape) -> int:
        return 1 if len(bottom) == 1 else int(bottom[axis_index(self, bottom, 1)])

    def setup(self, bottom_shapes: list[Shape], ctx: Context) -> list[Shape]:
        check_blob_counts(self, bottom_shapes)
        bottom = tuple(bottom_shapes[0])
        # Reshape CHECKs bottom.shape(1) against the channels: a 1-axis bottom fails there.
        axis_index(self, bottom, 1)
        return [bottom]

    def param_shapes(self, bottom_shapes: list[Shape]) -> list[ParamBlob]:
        c = self.channels(tuple(bottom_shapes[0]))
        return [ParamBlob((c,), "stat"), ParamBlob((c,), "stat"), ParamBlob((1,), "stat")]

    def counts(self, bottom_shapes: list[Shape], top_shapes: list[Shape]) -> Counts:
        return Counts(0, 2 * count(top_shapes[0]))

    def channel_affine(self, blobs: list[np.ndarray]) -> tuple[np.ndarray, np.ndarray] | None:
        """With the stored statistics: ``scale = 1/sqrt(var*f + eps)``, ``shift = -mean*f*scale``."""
        p = self.lp.batch_norm_param
        use_global = p.use_global_stats if p.HasField("use_global_stats") else self.phase == "TEST"
        if not use_global:
            return None
        stored = float(blobs[2].reshape(-1)[0])
        factor = 0.0 if stored == 0 else 1.0 / stored
        scale = 1.0 / np.sqrt(blobs[1].astype(np.float64).reshape(-1) * factor + float(p.eps))
        return scale, -blobs[0].astype(np.float64).reshape(-1) * factor * scale

    def to_onnx(self, ctx: Any, bottoms: list[str], tops: list[str], blobs: list[np.ndarray]) -> None:
        """Stored statistics: BatchNormalization with Caffe's factor folded in (``mean*f``, ``var*f``, scale 1,
        bias 0); batch statistics (``use_global_stats: false``): the mean and variance computed in the graph."""
        p, x = self.lp.batch_norm_param, bottoms[0]
        eps = float(np.float32(p.eps))
        use_global = p.use_global_stats if p.HasField("use_global_stats") else self.phase == "TEST"
        if use_global:
            stored = blobs[2].reshape(-1)[0]
            factor = np.float32(0) if stored == 0 else np.float32(1) / stored
            c = blobs[0].size
            stats = [np.ones(c), np.zeros(c), blobs[0] * factor, blobs[1] * factor]
            names = [ctx.const(a, h) for a, h in zip(stats, ("scale", "bias", "mean", "var"), strict=True)]
            ctx.op("BatchNormalization", [x, *names], tops[0], epsilon=eps)
            return
        axes = [0, *range(2, len(self.bottom_shapes[0]))]
        centred = ctx.op("Sub", [x, ctx.reduce("ReduceMean", x, axes)])
        var = ctx.reduce("ReduceMean", ctx.op("Mul", [centred, centred]), axes)
        std = ctx.op("Sqrt", [ctx.mul_add(var, 1.0, eps)])
        ctx.op("Div", [centred, std], tops[0])

    def forward(self, bottoms: list[np.ndarray], blobs: list[np.ndarray], run: RunContext) -> list[np.ndarray]:
        p = self.lp.batch_norm_param
        x = bottoms[0]
        dtype = np.dtype(run.dtype).type
        use_global = p.use_global_stats if p.HasField("use_global_stats") else run.phase == "TEST"
        stat_shape = (1, -1) + (1,) * (x.ndim - 2)
        if use_global:
            stored = blobs[2].reshape(-1)[0]
            factor = dtype(0) if stored == 0 else dtype(1) / stored
            mean = (blobs[0] * factor).reshape(stat_shape)
            var = (blobs[1] * factor).reshape(stat_shape)
            top = np.subtract(x, mean, out=x if run.overwrite_bottom else None)
        else:
            axes = (0, *range(2, x.ndim))
            top = x - x.mean(axis=axes, keepdims=True, dtype=run.dtype)
            var = np.square(top).mean(axis=axes, keepdims=True, dtype=run.dtype)
        std = np.sqrt(var + dtype(p.eps))
        top /= std
        return [top]
