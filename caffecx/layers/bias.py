"""Bias: add a broadcast offset to ``bottom[0]``.

Caffe rule (BiasLayer): the offset is ``bottom[1]`` or a learned blob of shape
``bottom[0].shape[axis : axis+num_axes]`` (defaults ``axis: 1``, ``num_axes: 1`` -> ``(C,)``), broadcast
as in `caffecx.layers._affine`. Stored blobs: ``[bias]`` in the one-bottom form, none with two bottoms.
Top = ``bottom[0]`` shape.

FLOPs: 1 add per element.

Filler: ``bias_param.filler`` (constant 0 by default). Forward: ``x + bias`` broadcast at its axis.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from caffecx.layers._affine import (
    at_axis,
    check_operand,
    given_filler,
    learned_shape,
    onnx_operand_of,
)
from caffecx.layers._common import check_blob_counts
from caffecx.layers.base import Context, Counts, Layer, ParamBlob, RunContext, Shape, count, register


@register("Bias")
class Bias(Layer):
    """Caffe's ``Bias``; see the module docstring."""

    num_bottoms = (1, 2)
    #: Canonical axis the offset applies at (fixed by ``setup``).
    axis: int = 0

    def _operand(self, bottom_shapes: list[Shape]) -> tuple[Shape, bool]:
        """(operand shape, learned?) after Caffe's checks."""
        p = self.lp.bias_param
        bottom = tuple(bottom_shapes[0])
        if len(bottom_shapes) > 1:
            operand, learned = tuple(bottom_shapes[1]), False
        else:
            operand, learned = learned_shape(self, bottom, int(p.axis), int(p.num_axes), "bias"), True
        self.axis = check_operand(self, bottom, operand, int(p.axis), "bias")
        return operand, learned

    def setup(self, bottom_shapes: list[Shape], ctx: Context) -> list[Shape]:
        check_blob_counts(self, bottom_shapes)
        self._operand(bottom_shapes)
        return [tuple(bottom_shapes[0])]

    def param_shapes(self, bottom_shapes: list[Shape]) -> list[ParamBlob]:
        operand, learned = self._operand(bottom_shapes)
        return [ParamBlob(operand, "bias", given_filler(self.lp.bias_param, "filler"))] if learned else []

    def channel_affine(self, blobs: list[np.ndarray]) -> tuple[np.ndarray, np.ndarray] | None:
        """A learned ``(C,)`` bias at axis 1: ``scale = 1``, ``shift = bias``."""
        if len(self.lp.bottom) > 1 or self.axis != 1 or blobs[0].ndim != 1:
            return None
        return np.ones(blobs[0].shape), blobs[0].astype(np.float64)

    def to_onnx(self, ctx: Any, bottoms: list[str], tops: list[str], blobs: list[np.ndarray]) -> None:
        """Add, the offset reshaped to broadcast at its axis (`at_axis`'s rule)."""
        offset = onnx_operand_of(ctx, bottoms, self.bottom_shapes, blobs, self.axis, "bias")
        ctx.op("Add", [bottoms[0], offset], tops[0])

    def forward(self, bottoms: list[np.ndarray], blobs: list[np.ndarray], run: RunContext) -> list[np.ndarray]:
        x = bottoms[0]
        offset = bottoms[1] if len(bottoms) > 1 else blobs[0]
        return [x + at_axis(offset, x.ndim, self.axis)]

    def counts(self, bottom_shapes: list[Shape], top_shapes: list[Shape]) -> Counts:
        return Counts(0, count(top_shapes[0]))
