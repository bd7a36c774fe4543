"""Scale: multiply ``bottom[0]`` by a broadcast factor, optionally add a broadcast bias.

Caffe rule (ScaleLayer): the factor is ``bottom[1]`` (two-bottom form) or a learned blob of shape
``bottom[0].shape[axis : axis+num_axes]`` (defaults ``axis: 1``, ``num_axes: 1`` -> ``(C,)``); it is
broadcast as described in `caffecx.layers._affine` (``axis: 0`` with a ``(N,)`` second bottom scales each
sample). ``bias_term: true`` adds an internal Bias layer whose learned blob has the factor's axes
(``num_axes`` = the second bottom's axis count in the two-bottom form). Stored blobs: ``[scale, bias]``,
``[scale]`` or, in the two-bottom form, ``[bias]`` / nothing. Top = ``bottom[0]`` shape.

FLOPs: 1 mul per element, +1 add with ``bias_term``.
"""

from __future__ import annotations

from caffecx.layers._affine import check_operand, learned_shape
from caffecx.layers._common import check_blob_counts
from caffecx.layers.base import Context, Counts, Layer, ParamBlob, Shape, count, register


@register("Scale")
class Scale(Layer):
    """Caffe's ``Scale``; see the module docstring."""

    num_bottoms = (1, 2)

    def _shapes(self, bottom_shapes: list[Shape]) -> tuple[Shape | None, Shape | None]:
        """(learned scale shape or None, learned bias shape or None)."""
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
        check_operand(self, bottom, operand, int(p.axis), "scale")
        bias = None
        if p.bias_term:
            bias = learned_shape(self, bottom, int(p.axis), bias_axes, "bias")
            check_operand(self, bottom, bias, int(p.axis), "bias")
        return scale, bias

    def setup(self, bottom_shapes: list[Shape], ctx: Context) -> list[Shape]:
        check_blob_counts(self, bottom_shapes)
        self._shapes(bottom_shapes)
        return [tuple(bottom_shapes[0])]

    def param_shapes(self, bottom_shapes: list[Shape]) -> list[ParamBlob]:
        scale, bias = self._shapes(bottom_shapes)
        blobs = [] if scale is None else [ParamBlob(scale, "weight")]
        if bias is not None:
            blobs.append(ParamBlob(bias, "bias"))
        return blobs

    def counts(self, bottom_shapes: list[Shape], top_shapes: list[Shape]) -> Counts:
        per = 2 if self.lp.scale_param.bias_term else 1
        return Counts(0, per * count(top_shapes[0]))
