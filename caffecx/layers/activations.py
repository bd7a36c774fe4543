"""Element-wise activations ("neuron" layers): one bottom, one top of the bottom's shape, in-place allowed.

Caffe rule (NeuronLayer::Reshape): ``top.ReshapeLike(bottom)``; exactly one bottom and one top.
Only PReLU stores a blob: the slopes, ``(C,)`` with C = ``bottom.shape(1)``, or a 0-axis scalar
``()`` with ``channel_shared: true`` (Caffe builds ``Blob(vector<int>(0))``; converters often write
``(1,)``). PReLU needs a bottom of at least 2 axes.

FLOPs per element (whole batch, no MACs), by this project's convention (1 per comparison, add, mul,
division, exp, log, pow; tanh = 5 as (e^2x-1)/(e^2x+1) with its mul, exp, sub, add, div):

========== ===========================================================================
ReLU       1 (max); 2 with ``negative_slope`` != 0 (comparison + mul)
PReLU      2 (comparison + mul by the slope)
ELU        4 (comparison, exp, sub 1, mul by alpha)
Sigmoid    3 (exp of -x, add 1, reciprocal)
TanH       5 (see above)
AbsVal     1
BNLL       4 (comparison for Caffe's stable branch, exp, add 1, log)
Power      mul by scale (if scale != 1) + add shift (if shift != 0) + pow (if power != 1);
           0 when scale or power is 0 (Caffe fills a constant)
Exp        mul by log(base)*scale (if != 1) + exp + mul by base^shift (if != 1)
Log        mul by scale (if != 1) + add shift (if != 0) + log + mul by 1/ln(base) (if base != e)
Threshold  1 (comparison)
Clip       2 (max, min)
Swish      5 (mul by beta, sigmoid 3, mul by x)
Dropout    0 in TEST (identity); 2 in TRAIN (mask comparison + scale mul)
========== ===========================================================================
"""

from __future__ import annotations

import math
from typing import ClassVar

from caffecx.layers._common import check_blob_counts, legacy_dim
from caffecx.layers.base import Context, Counts, Layer, ParamBlob, Shape, count, register


class Neuron(Layer):
    """Base of the element-wise layers: top = bottom shape, fixed FLOPs per element."""

    flops_per_element: ClassVar[int] = 1

    def setup(self, bottom_shapes: list[Shape], ctx: Context) -> list[Shape]:
        check_blob_counts(self, bottom_shapes)
        return [tuple(bottom_shapes[0])]

    def per_element(self) -> int:
        """FLOPs per output element (parameter-dependent for some types)."""
        return self.flops_per_element

    def counts(self, bottom_shapes: list[Shape], top_shapes: list[Shape]) -> Counts:
        return Counts(0, self.per_element() * count(top_shapes[0]))


@register("ReLU")
class ReLU(Neuron):
    """``max(x, 0) + negative_slope * min(x, 0)``: 1 FLOP, 2 when leaky."""

    def per_element(self) -> int:
        return 2 if self.lp.relu_param.negative_slope != 0 else 1


@register("PReLU")
class PReLU(Neuron):
    """Learned per-channel (or shared) negative slope; blob ``(C,)`` or ``()`` when channel_shared."""

    flops_per_element = 2

    def setup(self, bottom_shapes: list[Shape], ctx: Context) -> list[Shape]:
        check_blob_counts(self, bottom_shapes)
        bottom = tuple(bottom_shapes[0])
        self.check(len(bottom) >= 2, "Number of axes of bottom blob must be >=2.")
        return [bottom]

    def param_shapes(self, bottom_shapes: list[Shape]) -> list[ParamBlob]:
        if self.lp.prelu_param.channel_shared:
            return [ParamBlob((), "weight")]
        return [ParamBlob((legacy_dim(self, bottom_shapes[0], 1),), "weight")]


@register("ELU")
class ELU(Neuron):
    """``x > 0 ? x : alpha * (exp(x) - 1)``: 4 FLOPs."""

    flops_per_element = 4


@register("Sigmoid")
class Sigmoid(Neuron):
    """``1 / (1 + exp(-x))``: 3 FLOPs."""

    flops_per_element = 3


@register("TanH")
class TanH(Neuron):
    """``tanh(x)``: 5 FLOPs."""

    flops_per_element = 5


@register("AbsVal")
class AbsVal(Neuron):
    """``|x|``: 1 FLOP."""

    flops_per_element = 1


@register("BNLL")
class BNLL(Neuron):
    """``log(1 + exp(x))`` (Caffe's overflow-safe branch): 4 FLOPs."""

    flops_per_element = 4


@register("Power")
class Power(Neuron):
    """``(shift + scale * x) ^ power``; Caffe skips the steps that are identities."""

    def per_element(self) -> int:
        p = self.lp.power_param
        if p.scale == 0 or p.power == 0:
            return 0
        return (p.scale != 1) + (p.shift != 0) + (p.power != 1)


@register("Exp")
class Exp(Neuron):
    """``base ^ (shift + scale * x)`` = ``base^shift * exp(ln(base) * scale * x)`` (base -1 = e)."""

    def setup(self, bottom_shapes: list[Shape], ctx: Context) -> list[Shape]:
        base = self.lp.exp_param.base
        self.check(base == -1 or base > 0, "base must be strictly positive.")
        return super().setup(bottom_shapes, ctx)

    def per_element(self) -> int:
        p = self.lp.exp_param
        base = math.e if p.base == -1 else p.base
        inner = math.log(base) * p.scale
        outer = base**p.shift
        return int(inner != 1) + 1 + int(outer != 1)


@register("Log")
class Log(Neuron):
    """``log_base(shift + scale * x)`` (base -1 = e)."""

    def setup(self, bottom_shapes: list[Shape], ctx: Context) -> list[Shape]:
        base = self.lp.log_param.base
        self.check(base == -1 or base > 0, "base must be strictly positive.")
        return super().setup(bottom_shapes, ctx)

    def per_element(self) -> int:
        p = self.lp.log_param
        return int(p.scale != 1) + int(p.shift != 0) + 1 + int(p.base != -1)


@register("Threshold")
class Threshold(Neuron):
    """``x > threshold ? 1 : 0``: 1 FLOP."""

    flops_per_element = 1


@register("Clip")
class Clip(Neuron):
    """``min(max(x, min), max)``: 2 FLOPs."""

    flops_per_element = 2


@register("Swish")
class Swish(Neuron):
    """``x * sigmoid(beta * x)``: 5 FLOPs."""

    flops_per_element = 5


@register("Dropout")
class Dropout(Neuron):
    """Identity in TEST; in TRAIN a Bernoulli mask and a ``1/(1-ratio)`` scale (2 FLOPs)."""

    _phase: str = "TEST"

    def setup(self, bottom_shapes: list[Shape], ctx: Context) -> list[Shape]:
        self._phase = ctx.phase
        return super().setup(bottom_shapes, ctx)

    def per_element(self) -> int:
        return 2 if self._phase == "TRAIN" else 0
