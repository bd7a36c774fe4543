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

Forward (each layer's ``Forward_cpu``), in the run's dtype: Sigmoid is Caffe's ``0.5*tanh(0.5x)+0.5``;
BNLL its stable ``max(x,0) + log(1+exp(-|x|))``; Power/Exp/Log skip the identity steps as Caffe does
(``scale*power == 0`` fills ``power == 0 ? 1 : shift^power``); Threshold is strict (``x > t``); Clip's
NaN becomes ``min`` (``std::max(min, std::min(x, max))``); PReLU's default slope filler is constant 0.25.
Dropout: TEST is the identity, TRAIN keeps each unit with probability ``1 - ratio`` (the run's rng,
not Caffe's generator) and scales kept units by ``1/(1-ratio)``; the py-faster-rcnn fork's
``scale_train: false`` instead leaves TRAIN unscaled and multiplies by ``1 - ratio`` in TEST.
"""

from __future__ import annotations

import math
from typing import Any, ClassVar

import numpy as np

from caffecx.layers._affine import constant_filler
from caffecx.layers._common import check_blob_counts, legacy_dim
from caffecx.layers._threads import blockwise
from caffecx.layers.base import Context, Counts, Layer, ParamBlob, RunContext, Shape, count, register


def _scalar(value: float, run: RunContext) -> Any:
    """A layer parameter as a scalar of the run's dtype (Caffe's ``Dtype``)."""
    return np.dtype(run.dtype).type(value)


#: The zero `relu_into` compares with spans at least this many elements of ``x`` (NumPy's maximum and
#: minimum against a scalar run 1.5-3x slower than against an array); a longer 1-D ``x`` goes by rows.
ZERO_SPAN = 1024
_ROW = 16 * ZERO_SPAN
_zero_buffers: dict[np.dtype, np.ndarray] = {}


def relu_into(x: np.ndarray, slope: Any, out: np.ndarray) -> None:
    """Caffe's ReLU/PReLU ``max(x, 0) + slope * min(x, 0)`` (slope a scalar or a broadcastable array;
    just ``max(x, 0)`` for a zero scalar) written into `out`, which may be `x`. The zero is an array
    broadcast along ``x``'s trailing axes (`ZERO_SPAN`), bit for bit the scalar's result."""
    if x.ndim == 1 and x.size > _ROW and np.ndim(slope) == 0 and x.flags.c_contiguous and out.flags.c_contiguous:
        cut = x.size - x.size % _ROW
        relu_into(x[:cut].reshape(-1, _ROW), slope, out[:cut].reshape(-1, _ROW))
        relu_into(x[cut:], slope, out[cut:])
        return
    zero = _zeros_for(x, out.dtype)
    if np.ndim(slope) == 0 and slope == 0:
        np.maximum(x, zero, out=out)
        return
    negative = np.minimum(x, zero)
    negative *= slope
    np.maximum(x, zero, out=out)
    out += negative


def _zeros_for(x: np.ndarray, dtype: np.dtype) -> np.ndarray:
    """Read-only zeros shaped as the trailing axes of `x` that hold at least `ZERO_SPAN` elements (all
    of `x` when it is smaller), from one buffer per dtype grown as needed."""
    k = x.ndim
    while k > 0 and math.prod(x.shape[k:]) < ZERO_SPAN:
        k -= 1
    shape = x.shape[k:]
    buffer = _zero_buffers.get(dtype)
    if buffer is None or buffer.size < math.prod(shape):
        buffer = np.zeros(max(math.prod(shape), ZERO_SPAN), dtype=dtype)
        buffer.flags.writeable = False
        _zero_buffers[dtype] = buffer
    return buffer[: math.prod(shape)].reshape(shape)


def _leaky(x: np.ndarray, slope: Any, run: RunContext) -> np.ndarray:
    """`relu_into` a new array of the run's dtype."""
    top = np.empty_like(x, dtype=np.result_type(x.dtype, run.dtype))
    relu_into(x, slope, top)
    return top


def _sigmoid(x: np.ndarray, dtype: Any) -> np.ndarray:
    """Caffe's sigmoid, ``0.5 * tanh(0.5 * x) + 0.5``, in a new array of `dtype`. Its literals are
    doubles, so C++ computes it in double whatever Dtype is and rounds once at the end: done in float32
    it misses by up to 17 ULPs (Swish's beta 1.5 on a Gaussian; test_neuron_layer.cpp TestSwishWithBeta)."""
    t = np.multiply(x, 0.5, dtype=np.float64)
    np.tanh(t, out=t)
    t *= 0.5
    t += 0.5
    return t.astype(dtype, copy=False)


class Neuron(Layer):
    """Base of the element-wise layers: top = bottom shape, fixed FLOPs per element."""

    flops_per_element: ClassVar[int] = 1
    #: The ONNX op computing the layer element-wise, when one op does (Sigmoid, Tanh, ...).
    onnx_op: ClassVar[str | None] = None

    def setup(self, bottom_shapes: list[Shape], ctx: Context) -> list[Shape]:
        check_blob_counts(self, bottom_shapes)
        return [tuple(bottom_shapes[0])]

    def per_element(self) -> int:
        """FLOPs per output element (parameter-dependent for some types)."""
        return self.flops_per_element

    def to_onnx(self, ctx: Any, bottoms: list[str], tops: list[str], blobs: list[np.ndarray]) -> None:
        """One ONNX op per element when the type has one (``onnx_op``); else no mapping."""
        if self.onnx_op is None:
            super().to_onnx(ctx, bottoms, tops, blobs)
        ctx.op(self.onnx_op, bottoms, tops[0])

    def counts(self, bottom_shapes: list[Shape], top_shapes: list[Shape]) -> Counts:
        return Counts(0, self.per_element() * count(top_shapes[0]))


@register("ReLU")
class ReLU(Neuron):
    """``max(x, 0) + negative_slope * min(x, 0)``: 1 FLOP, 2 when leaky."""

    def per_element(self) -> int:
        return 2 if self.lp.relu_param.negative_slope != 0 else 1

    def to_onnx(self, ctx: Any, bottoms: list[str], tops: list[str], blobs: list[np.ndarray]) -> None:
        slope = float(self.lp.relu_param.negative_slope)
        if slope == 0:
            ctx.op("Relu", bottoms, tops[0])
        else:
            ctx.op("LeakyRelu", bottoms, tops[0], alpha=slope)

    def forward(self, bottoms: list[np.ndarray], blobs: list[np.ndarray], run: RunContext) -> list[np.ndarray]:
        x = bottoms[0]
        slope = _scalar(self.lp.relu_param.negative_slope, run)
        top = x if run.overwrite_bottom else np.empty_like(x, dtype=np.result_type(x.dtype, run.dtype))
        blockwise(lambda a, out: relu_into(a, slope, out), x, top)
        return [top]

    def fusable_slope(self) -> float:
        """The negative slope, for the executor to fold an in-place ReLU into the layer making its blob
        (`Convolution.absorb_relu`)."""
        return float(self.lp.relu_param.negative_slope)


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
        p = self.lp.prelu_param
        filler = p.filler if p.HasField("filler") else constant_filler(0.25)
        if p.channel_shared:
            return [ParamBlob((), "weight", filler)]
        return [ParamBlob((legacy_dim(self, bottom_shapes[0], 1),), "weight", filler)]

    def to_onnx(self, ctx: Any, bottoms: list[str], tops: list[str], blobs: list[np.ndarray]) -> None:
        """PRelu with the slopes shaped (C, 1, ...) to broadcast over axis 1 (a 1-element slope when shared)."""
        ndim = len(self.bottom_shapes[0])
        shape = (1,) if self.lp.prelu_param.channel_shared else (-1, *(1,) * (ndim - 2))
        ctx.op("PRelu", [bottoms[0], ctx.const(blobs[0].reshape(shape), "slope")], tops[0])

    def forward(self, bottoms: list[np.ndarray], blobs: list[np.ndarray], run: RunContext) -> list[np.ndarray]:
        """``max(x, 0) + slope[c] * min(x, 0)``, c = axis 1 (one slope for all with channel_shared)."""
        x = bottoms[0]
        slope = blobs[0].reshape(()) if self.lp.prelu_param.channel_shared else \
            blobs[0].reshape((1, -1) + (1,) * (x.ndim - 2))
        return [_leaky(x, slope, run)]


@register("ELU")
class ELU(Neuron):
    """``x > 0 ? x : alpha * (exp(x) - 1)``: 4 FLOPs."""

    flops_per_element = 4

    def to_onnx(self, ctx: Any, bottoms: list[str], tops: list[str], blobs: list[np.ndarray]) -> None:
        ctx.op("Elu", bottoms, tops[0], alpha=float(self.lp.elu_param.alpha))

    def forward(self, bottoms: list[np.ndarray], blobs: list[np.ndarray], run: RunContext) -> list[np.ndarray]:
        """Caffe's ``max(x, 0) + alpha * (exp(min(x, 0)) - 1)``."""
        x = bottoms[0]
        neg = np.minimum(x, _scalar(0, run))
        np.exp(neg, out=neg)
        neg -= 1
        neg *= _scalar(self.lp.elu_param.alpha, run)
        neg += np.maximum(x, _scalar(0, run))
        return [neg]


@register("Sigmoid")
class Sigmoid(Neuron):
    """``1 / (1 + exp(-x))``: 3 FLOPs."""

    onnx_op = "Sigmoid"
    flops_per_element = 3

    def forward(self, bottoms: list[np.ndarray], blobs: list[np.ndarray], run: RunContext) -> list[np.ndarray]:
        return [_sigmoid(bottoms[0], run.dtype)]


@register("TanH")
class TanH(Neuron):
    """``tanh(x)``: 5 FLOPs."""

    onnx_op = "Tanh"
    flops_per_element = 5

    def forward(self, bottoms: list[np.ndarray], blobs: list[np.ndarray], run: RunContext) -> list[np.ndarray]:
        return [np.tanh(bottoms[0])]


@register("AbsVal")
class AbsVal(Neuron):
    """``|x|``: 1 FLOP."""

    onnx_op = "Abs"
    flops_per_element = 1

    def forward(self, bottoms: list[np.ndarray], blobs: list[np.ndarray], run: RunContext) -> list[np.ndarray]:
        return [np.abs(bottoms[0])]


@register("BNLL")
class BNLL(Neuron):
    """``log(1 + exp(x))`` (Caffe's overflow-safe branch): 4 FLOPs."""

    onnx_op = "Softplus"
    flops_per_element = 4

    def forward(self, bottoms: list[np.ndarray], blobs: list[np.ndarray], run: RunContext) -> list[np.ndarray]:
        """``x > 0 ? x + log(1 + exp(-x)) : log(1 + exp(x))`` = ``max(x, 0) + log1p(exp(-|x|))``."""
        x = bottoms[0]
        t = np.abs(x)
        np.negative(t, out=t)
        np.exp(t, out=t)
        np.log1p(t, out=t)
        t += np.maximum(x, _scalar(0, run))
        return [t]


@register("Power")
class Power(Neuron):
    """``(shift + scale * x) ^ power``; Caffe skips the steps that are identities."""

    def per_element(self) -> int:
        p = self.lp.power_param
        if p.scale == 0 or p.power == 0:
            return 0
        return (p.scale != 1) + (p.shift != 0) + (p.power != 1)

    def to_onnx(self, ctx: Any, bottoms: list[str], tops: list[str], blobs: list[np.ndarray]) -> None:
        """Caffe's steps: a constant when ``scale*power == 0``; else scale, shift, Pow, each only if needed."""
        p = self.lp.power_param
        power, scale, shift = (float(np.float32(v)) for v in (p.power, p.scale, p.shift))
        if power * scale == 0:
            value = 1.0 if power == 0 else float(np.power(np.float32(shift), np.float32(power)))
            ctx.op("Expand", [ctx.scalar(value, "value"), ctx.op("Shape", bottoms)], tops[0])
        elif power == 1:
            ctx.mul_add(bottoms[0], scale, shift, tops[0])
        else:
            ctx.op("Pow", [ctx.mul_add(bottoms[0], scale, shift), ctx.scalar(power, "power")], tops[0])

    def forward(self, bottoms: list[np.ndarray], blobs: list[np.ndarray], run: RunContext) -> list[np.ndarray]:
        """Caffe's steps: ``scale*power == 0`` fills a constant; else scale, shift, pow, each only if needed."""
        p = self.lp.power_param
        x = bottoms[0]
        power, scale, shift = _scalar(p.power, run), _scalar(p.scale, run), _scalar(p.shift, run)
        if power * scale == 0:
            value = 1 if power == 0 else np.power(shift, power)
            return [np.full(x.shape, value, dtype=run.dtype)]
        y = x * scale if scale != 1 else x
        if shift != 0:
            y = y + shift
        if power == 2:
            y = np.square(y)
        elif power != 1:
            with np.errstate(all="ignore"):  # NaN/Inf propagate silently, as in Caffe
                y = np.power(y, power)
        return [y if y is not x else x.copy()]


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

    def to_onnx(self, ctx: Any, bottoms: list[str], tops: list[str], blobs: list[np.ndarray]) -> None:
        """``exp(ln(base)*scale*x) * base^shift``."""
        p = self.lp.exp_param
        inner = (1.0 if p.base == -1 else float(np.log(np.float32(p.base)))) * float(np.float32(p.scale))
        outer = float(np.exp(np.float32(p.shift)) if p.base == -1 else np.power(np.float32(p.base),
                                                                                np.float32(p.shift)))
        y = ctx.op("Exp", [ctx.mul_add(bottoms[0], inner, 0.0)], tops[0] if outer == 1 else None)
        if outer != 1:
            ctx.mul_add(y, outer, 0.0, tops[0])

    def forward(self, bottoms: list[np.ndarray], blobs: list[np.ndarray], run: RunContext) -> list[np.ndarray]:
        """``exp(inner * x) * outer``: inner = ln(base)*scale (ln e = 1 exactly), outer = base^shift."""
        p = self.lp.exp_param
        base, scale, shift = _scalar(p.base, run), _scalar(p.scale, run), _scalar(p.shift, run)
        log_base = _scalar(1, run) if p.base == -1 else np.log(base)
        inner = log_base * scale
        outer = _scalar(1, run) if shift == 0 else (np.exp(shift) if p.base == -1 else np.power(base, shift))
        with np.errstate(over="ignore"):
            y = np.exp(bottoms[0]) if inner == 1 else np.exp(bottoms[0] * inner)
            if outer != 1:
                y *= outer
        return [y]


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

    def to_onnx(self, ctx: Any, bottoms: list[str], tops: list[str], blobs: list[np.ndarray]) -> None:
        """``log(scale*x + shift) / ln(base)``."""
        p = self.lp.log_param
        y = ctx.mul_add(bottoms[0], float(np.float32(p.scale)), float(np.float32(p.shift)))
        base_scale = 1.0 if p.base == -1 else float(np.float32(1) / np.log(np.float32(p.base)))
        y = ctx.op("Log", [y], tops[0] if base_scale == 1 else None)
        if base_scale != 1:
            ctx.mul_add(y, base_scale, 0.0, tops[0])

    def forward(self, bottoms: list[np.ndarray], blobs: list[np.ndarray], run: RunContext) -> list[np.ndarray]:
        """``log(shift + scale * x) * (1 / ln(base))``, skipping the identity steps."""
        p = self.lp.log_param
        scale, shift = _scalar(p.scale, run), _scalar(p.shift, run)
        base_scale = _scalar(1, run) if p.base == -1 else _scalar(1, run) / np.log(_scalar(p.base, run))
        y = bottoms[0] * scale if scale != 1 else bottoms[0]
        if shift != 0:
            y = y + shift
        with np.errstate(divide="ignore", invalid="ignore"):
            y = np.log(y)
        if base_scale != 1:
            y *= base_scale
        return [y]


@register("Threshold")
class Threshold(Neuron):
    """``x > threshold ? 1 : 0``: 1 FLOP."""

    flops_per_element = 1

    def to_onnx(self, ctx: Any, bottoms: list[str], tops: list[str], blobs: list[np.ndarray]) -> None:
        above = ctx.op("Greater", [bottoms[0], ctx.scalar(self.lp.threshold_param.threshold, "threshold")])
        ctx.op("Cast", [above], tops[0], to=1)

    def forward(self, bottoms: list[np.ndarray], blobs: list[np.ndarray], run: RunContext) -> list[np.ndarray]:
        return [(bottoms[0] > _scalar(self.lp.threshold_param.threshold, run)).astype(run.dtype)]


@register("Clip")
class Clip(Neuron):
    """``min(max(x, min), max)``: 2 FLOPs."""

    flops_per_element = 2

    def to_onnx(self, ctx: Any, bottoms: list[str], tops: list[str], blobs: list[np.ndarray]) -> None:
        p = self.lp.clip_param
        ctx.op("Clip", [bottoms[0], ctx.scalar(p.min, "min"), ctx.scalar(p.max, "max")], tops[0])

    def forward(self, bottoms: list[np.ndarray], blobs: list[np.ndarray], run: RunContext) -> list[np.ndarray]:
        """``std::max(min, std::min(x, max))``: a NaN stays NaN through the min, then becomes ``min``."""
        p = self.lp.clip_param
        y = np.minimum(bottoms[0], _scalar(p.max, run))
        return [np.fmax(y, _scalar(p.min, run), out=y)]


@register("Swish")
class Swish(Neuron):
    """``x * sigmoid(beta * x)``: 5 FLOPs."""

    flops_per_element = 5

    def to_onnx(self, ctx: Any, bottoms: list[str], tops: list[str], blobs: list[np.ndarray]) -> None:
        beta = float(np.float32(self.lp.swish_param.beta))
        gate = ctx.op("Sigmoid", [ctx.mul_add(bottoms[0], beta, 0.0)])
        ctx.op("Mul", [bottoms[0], gate], tops[0])

    def forward(self, bottoms: list[np.ndarray], blobs: list[np.ndarray], run: RunContext) -> list[np.ndarray]:
        x = bottoms[0]
        s = _sigmoid(x * _scalar(self.lp.swish_param.beta, run), run.dtype)
        s *= x
        return [s]


@register("Dropout")
class Dropout(Neuron):
    """Identity in TEST; in TRAIN a Bernoulli mask and a ``1/(1-ratio)`` scale (2 FLOPs)."""

    _phase: str = "TEST"

    def setup(self, bottom_shapes: list[Shape], ctx: Context) -> list[Shape]:
        self._phase = ctx.phase
        return super().setup(bottom_shapes, ctx)

    def per_element(self) -> int:
        return 2 if self._phase == "TRAIN" else 0

    def to_onnx(self, ctx: Any, bottoms: list[str], tops: list[str], blobs: list[np.ndarray]) -> None:
        """Inference only: the identity (times ``1 - ratio`` for the fork's ``scale_train: false``)."""
        self.check(self.phase != "TRAIN", "a TRAIN-phase Dropout is random: export the TEST phase")
        p = self.lp.dropout_param
        scale_train = p.scale_train if "scale_train" in p.DESCRIPTOR.fields_by_name else True
        scale = float(np.float32(1.0) / np.float32(1.0 / (1.0 - float(np.float32(p.dropout_ratio)))))
        ctx.mul_add(bottoms[0], 1.0 if scale_train else scale, 0.0, tops[0])

    def forward(self, bottoms: list[np.ndarray], blobs: list[np.ndarray], run: RunContext) -> list[np.ndarray]:
        p = self.lp.dropout_param
        ratio = float(np.float32(p.dropout_ratio))
        scale = _scalar(1.0 / (1.0 - ratio), run)  # Caffe's Dtype scale_
        scale_train = p.scale_train if "scale_train" in p.DESCRIPTOR.fields_by_name else True
        x = bottoms[0]
        if run.phase != "TRAIN":
            return [x if scale_train else x * _scalar(1.0 / float(scale), run)]
        keep = run.rng.random(x.shape, dtype=np.float32) < np.float32(1.0 - ratio)
        y = x * keep
        if scale_train:
            y *= scale
        return [y]
