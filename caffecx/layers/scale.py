"""Scale: multiply ``bottom[0]`` by a broadcast factor, optionally add a broadcast bias.

Caffe rule (ScaleLayer): the factor is ``bottom[1]`` (two-bottom form) or a learned blob of shape
``bottom[0].shape[axis : axis+num_axes]`` (defaults ``axis: 1``, ``num_axes: 1`` -> ``(C,)``); it is
broadcast as described in `caffecx.layers._affine` (``axis: 0`` with a ``(N,)`` second bottom scales each
sample). ``bias_term: true`` adds an internal Bias layer whose learned blob has the factor's axes
(``num_axes`` = the second bottom's axis count in the two-bottom form). Stored blobs: ``[scale, bias]``,
``[scale]`` or, in the two-bottom form, ``[bias]`` / nothing. Top = ``bottom[0]`` shape.

FLOPs: 1 mul per element, +1 add with ``bias_term``.

Fillers: the learned factor defaults to a constant **1** (Caffe's identity default when ``filler`` is
absent), the bias to ``bias_filler`` (constant 0 by default). Forward: ``x * scale`` then ``+ bias``
(two float steps, as Caffe's Scale then its internal Bias), each operand broadcast at its own axis.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from caffecx.layers._affine import (
    at_axis,
    check_operand,
    constant_filler,
    given_filler,
    learned_shape,
    onnx_operand,
    onnx_operand_of,
)
from caffecx.layers._common import check_blob_counts
from caffecx.layers.base import Context, Counts, Layer, ParamBlob, RunContext, Shape, count, register


@register("Scale")
class Scale(Layer):
    """Caffe's ``Scale``; see the module docstring."""

    num_bottoms = (1, 2)

    #: Canonical axes the factor and the bias apply at (fixed by ``setup``).
    scale_axis: int = 0
    bias_axis: int = 0

    def _shapes(self, bottom_shapes: list[Shape]) -> tuple[Shape | None, Shape | None]:
        """(learned scale shape or None, learned bias shape or None); keeps the axes they apply at."""
        p = self.lp.scale_param
        bottom = tuple(bottom_shapes[0])
        if len(bottom_shapes) > 1:
            scale = None
            operand = tuple(bottom_shapes[1])
            bias_axes = len(operand)
        else:
            scale = learned_shape(self, bottom, int(p.axis), int(p.num_axes), "scale")
            operand = scale
            bias_axes = int(p.num_axes)
        self.scale_axis = check_operand(self, bottom, operand, int(p.axis), "scale")
        bias = None
        if p.bias_term:
            bias = learned_shape(self, bottom, int(p.axis), bias_axes, "bias")
            self.bias_axis = check_operand(self, bottom, bias, int(p.axis), "bias")
        return scale, bias

    def setup(self, bottom_shapes: list[Shape], ctx: Context) -> list[Shape]:
        check_blob_counts(self, bottom_shapes)
        self._shapes(bottom_shapes)
        return [tuple(bottom_shapes[0])]

    def param_shapes(self, bottom_shapes: list[Shape]) -> list[ParamBlob]:
        p = self.lp.scale_param
        scale, bias = self._shapes(bottom_shapes)
        filler = p.filler if p.HasField("filler") else constant_filler(1.0)
        blobs = [] if scale is None else [ParamBlob(scale, "weight", filler)]
        if bias is not None:
            blobs.append(ParamBlob(bias, "bias", given_filler(p, "bias_filler")))
        return blobs

    def channel_affine(self, blobs: list[np.ndarray]) -> tuple[np.ndarray, np.ndarray] | None:
        """A learned ``(C,)`` factor at axis 1 (and its bias): ``scale = factor``, ``shift = bias``."""
        if len(self.lp.bottom) > 1 or self.scale_axis != 1 or blobs[0].ndim != 1:
            return None
        scale = blobs[0].astype(np.float64)
        shift = blobs[-1].astype(np.float64) if self.lp.scale_param.bias_term else np.zeros_like(scale)
        return scale, shift

    def to_onnx(self, ctx: Any, bottoms: list[str], tops: list[str], blobs: list[np.ndarray]) -> None:
        """Mul (then Add), each operand reshaped to broadcast at its axis (`at_axis`'s rule)."""
        factor = onnx_operand_of(ctx, bottoms, self.bottom_shapes, blobs, self.scale_axis, "scale")
        if not self.lp.scale_param.bias_term:
            ctx.op("Mul", [bottoms[0], factor], tops[0])
            return
        scaled = ctx.op("Mul", [bottoms[0], factor])
        ctx.op("Add", [scaled, onnx_operand(ctx, blobs[-1], len(self.bottom_shapes[0]), self.bias_axis, "bias")], tops[0])

    def forward(self, bottoms: list[np.ndarray], blobs: list[np.ndarray], run: RunContext) -> list[np.ndarray]:
        x = bottoms[0]
        factor = bottoms[1] if len(bottoms) > 1 else blobs[0]
        top = np.multiply(x, at_axis(factor, x.ndim, self.scale_axis), out=x if run.overwrite_bottom else None)
        if self.lp.scale_param.bias_term:
            top += at_axis(blobs[-1], x.ndim, self.bias_axis)
        return [top]

    def counts(self, bottom_shapes: list[Shape], top_shapes: list[Shape]) -> Counts:
        per = 2 if self.lp.scale_param.bias_term else 1
        return Counts(0, per * count(top_shapes[0]))
