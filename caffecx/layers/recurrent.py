"""Recurrent layers: RNN and LSTM (Caffe unrolls them into an internal net), and LSTMUnit.

Caffe rule (RecurrentLayer): bottoms ``x (T, N, ...)``, ``cont (T, N)`` (sequence-continuation flags),
an optional static input ``x_static (N, ...)``, then with ``expose_hidden`` the initial hidden state(s)
``(1, N, H)`` (RNN: h_0; LSTM: h_0, c_0). Tops: the output ``(T, N, H)`` with H =
``recurrent_param.num_output``, then with ``expose_hidden`` the final state(s) ``(1, N, H)``.
The input transform is an InnerProduct with ``axis: 2``, so x needs 3+ axes and D = ``count(x, 2)``;
the static one uses ``axis: 1`` (S = ``count(x_static, 1)``).

Stored blobs, in the order Caffe collects them from the unrolled net (first owner of each name):

* RNN:  W_xh ``(H, D)``, b_h ``(H,)``, [W_xh_static ``(H, S)``], W_hh ``(H, H)``, W_ho ``(H, H)``, b_o ``(H,)``
* LSTM: W_xc ``(4H, D)``, b_c ``(4H,)``, [W_xc_static ``(4H, S)``], W_hc ``(4H, H)``

Counts (whole batch): MACs of those products over all T steps (the static one once);
FLOPs = 2*MACs + bias adds + the sums of the gate inputs + the cont mask (1 mul per hidden unit and
step) + the nonlinearities: RNN 2 tanh (5 each) per hidden unit and step; LSTM one LSTMUnit per hidden
unit and step = 24 (3 sigmoids at 3, 2 tanh at 5, c = cont*f*c + i*g: 4, h = o*tanh(c): 1).
Every weight takes ``recurrent_param.weight_filler``, every bias ``recurrent_param.bias_filler`` (the
unrolled InnerProducts copy them).

Forward, as the unrolled net computes it (one matmul for the input transform of all T steps, then a loop
over t): the cont flag scales the previous hidden state *before* the recurrent product,
``hc = cont_t * h_{t-1}``; the pre-activation is ``(W_hh hc + (W_xh x_t + b)) [+ W_static x_static]``
(Eltwise SUM order).

* RNN: ``h_t = tanh(pre)``, ``o_t = tanh(W_ho h_t + b_o)``; top = o.
* LSTM: pre = ``(i, f, o, g)`` blocks of H (LSTMUnit): ``i, o = sigmoid``, ``f = 0 if cont_t == 0 else
  cont_t * sigmoid``, ``g = tanh``; ``c_t = f c_{t-1} + i g``, ``h_t = o tanh(c_t)``; top = h. LSTMUnit's
  sigmoid and tanh (``2 sigmoid(2x) - 1``) are evaluated in double and rounded to the run's dtype.
* Initial state: with ``expose_hidden`` the h_0 (and c_0) bottoms, and the extra tops are h_T (and c_T).
  Without it Caffe copies the previous forward's h_T/c_T into h_0/c_0 (zeros at the first forward), so
  a sequence longer than T goes on across forwards while cont_1 = 1: the layer keeps its last states
  (as a data layer keeps its cursor), and starts from zeros again when N or the dtype changes.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from caffecx.layers._common import check_blob_counts, onnx_reshape, shape_string
from caffecx.layers.base import (
    Context,
    Counts,
    InnerNet,
    Layer,
    ParamBlob,
    RunContext,
    Shape,
    count,
    register,
)

TANH = 5
LSTM_UNIT = 24


class Recurrent(Layer):
    """Shared set-up of RNN and LSTM; subclasses give the gate multiplier and the hidden-state count."""

    gates: int = 1
    num_states: int = 1
    #: h_T (and c_T) of the last forward, h_0 (and c_0) of the next one (without ``expose_hidden``)
    carried: list[np.ndarray] | None = None

    def _dims(self, bottom_shapes: list[Shape]) -> tuple[int, int, int, int, int | None]:
        """(T, N, H, D, S or None) after Caffe's checks."""
        p = self.lp.recurrent_param
        exposed = self.num_states if p.expose_hidden else 0
        self.num_bottoms = (2 + exposed, 3 + exposed)
        self.num_tops = (1 + exposed, 1 + exposed)
        check_blob_counts(self, bottom_shapes)
        x, cont = tuple(bottom_shapes[0]), tuple(bottom_shapes[1])
        self.check(len(x) >= 2, "bottom[0] must have at least 2 axes -- (#timesteps, #streams, ...)")
        t, n = x[0], x[1]
        self.check(len(cont) == 2, "bottom[1] must have exactly 2 axes -- (#timesteps, #streams)")
        self.check(cont == (t, n), f"bottom[1] {shape_string(cont)} must be (T, N) = ({t}, {n})")
        h = int(p.num_output)
        self.check(h > 0, "num_output must be positive")
        self.check(len(x) >= 3, f"bottom[0] {shape_string(x)} needs a feature axis: the input transform "
                                "is an InnerProduct with axis 2")
        static = len(bottom_shapes) > 2 + exposed
        s = None
        if static:
            xs = tuple(bottom_shapes[2])
            self.check(len(xs) >= 2 and xs[0] == n,
                       f"the static input {shape_string(xs)} must be (N, features...) with N = {n}")
            s = count(xs, 1)
        for i in range(2 + int(static), len(bottom_shapes)):
            self.check(tuple(bottom_shapes[i]) == (1, n, h),
                       f"bottom[{i}] shape must match hidden state input shape: {shape_string((1, n, h))}")
        return t, n, h, count(x, 2), s

    def setup(self, bottom_shapes: list[Shape], ctx: Context) -> list[Shape]:
        t, n, h, _, s = self._dims(bottom_shapes)
        self.hidden, self.static = h, s is not None
        return [(t, n, h)] + [(1, n, h)] * (self.num_tops[0] - 1)

    def inner_net(self, bottom_shapes: list[Shape]) -> InnerNet:
        """Caffe's unrolled net (`unrolled_net`)."""
        return unrolled_net(self.lp, bottom_shapes)

    def fillers(self) -> tuple[Any, Any]:
        """(weight filler, bias filler) of every unrolled InnerProduct."""
        p = self.lp.recurrent_param
        return p.weight_filler, p.bias_filler

    def inputs(self, bottoms: list[np.ndarray], blobs: list[np.ndarray],
               dtype: Any) -> tuple[np.ndarray, np.ndarray | None, list[np.ndarray], list[np.ndarray]]:
        """(W_x x_t + b for all t (T, N, G), W_static x_static (N, G) or None, initial states (N, H)
        each, the remaining blobs)."""
        x, cont = bottoms[0], bottoms[1]
        t, n = cont.shape
        w_x, b_x = blobs[0], blobs[1]
        xw = (x.reshape(t * n, -1) @ w_x.T + b_x).reshape(t, n, -1)
        static = None
        rest = list(blobs[2:])
        if self.static:
            static = bottoms[2].reshape(n, -1) @ rest.pop(0).T
        first = 2 + int(self.static)
        if self.lp.recurrent_param.expose_hidden:
            states = [b.reshape(n, self.hidden) for b in bottoms[first:first + self.num_states]]
        elif self.carried is not None and all(a.shape == (n, self.hidden) and a.dtype == dtype for a in self.carried):
            states = list(self.carried)
        else:
            states = [np.zeros((n, self.hidden), dtype=dtype) for _ in range(self.num_states)]
        return xw, static, states, rest

    def carry(self, states: list[np.ndarray]) -> None:
        """Keep the final states for the next forward (Caffe's copy of timestep T into timestep 0)."""
        if not self.lp.recurrent_param.expose_hidden:
            self.carried = [np.array(a) for a in states]


@register("RNN")
class RNN(Recurrent):
    """Caffe's ``RNN``; see the module docstring."""

    def param_shapes(self, bottom_shapes: list[Shape]) -> list[ParamBlob]:
        _, _, h, d, s = self._dims(bottom_shapes)
        wf, bf = self.fillers()
        blobs = [ParamBlob((h, d), "weight", wf), ParamBlob((h,), "bias", bf)]
        if s is not None:
            blobs.append(ParamBlob((h, s), "weight", wf))
        return blobs + [ParamBlob((h, h), "weight", wf), ParamBlob((h, h), "weight", wf), ParamBlob((h,), "bias", bf)]

    def counts(self, bottom_shapes: list[Shape], top_shapes: list[Shape]) -> Counts:
        t, n, h, d, s = self._dims(bottom_shapes)
        steps = t * n * h
        macs = steps * d + steps * h * 2 + (n * h * s if s is not None else 0)
        flops = 2 * macs + 2 * steps + steps + steps * (1 + (s is not None)) + 2 * TANH * steps
        return Counts(macs, flops)

    def forward(self, bottoms: list[np.ndarray], blobs: list[np.ndarray], run: RunContext) -> list[np.ndarray]:
        cont = bottoms[1]
        xw, static, (h,), (w_hh, w_ho, b_o) = self.inputs(bottoms, blobs, run.dtype)
        hs = np.empty(xw.shape[:2] + (self.hidden,), dtype=run.dtype)
        for t in range(xw.shape[0]):
            pre = (cont[t][:, None] * h) @ w_hh.T + xw[t]
            if static is not None:
                pre = pre + static
            h = np.tanh(pre)
            hs[t] = h
        o = np.tanh(hs.reshape(-1, self.hidden) @ w_ho.T + b_o).reshape(hs.shape)
        self.carry([h])
        tops = [o] + [h[None]] * (len(self.top_shapes) - 1)
        return [np.asarray(a, dtype=run.dtype) for a in tops]


@register("LSTM")
class LSTM(Recurrent):
    """Caffe's ``LSTM``; see the module docstring."""

    num_states = 2

    def param_shapes(self, bottom_shapes: list[Shape]) -> list[ParamBlob]:
        _, _, h, d, s = self._dims(bottom_shapes)
        wf, bf = self.fillers()
        blobs = [ParamBlob((4 * h, d), "weight", wf), ParamBlob((4 * h,), "bias", bf)]
        if s is not None:
            blobs.append(ParamBlob((4 * h, s), "weight", wf))
        return blobs + [ParamBlob((4 * h, h), "weight", wf)]

    def counts(self, bottom_shapes: list[Shape], top_shapes: list[Shape]) -> Counts:
        t, n, h, d, s = self._dims(bottom_shapes)
        steps = t * n * h
        macs = 4 * steps * d + 4 * steps * h + (4 * n * h * s if s is not None else 0)
        flops = 2 * macs + 4 * steps + steps + 4 * steps * (1 + (s is not None)) + LSTM_UNIT * steps
        return Counts(macs, flops)

    def forward(self, bottoms: list[np.ndarray], blobs: list[np.ndarray], run: RunContext) -> list[np.ndarray]:
        cont = bottoms[1]
        xw, static, (h, c), (w_hc,) = self.inputs(bottoms, blobs, run.dtype)
        hs = np.empty(xw.shape[:2] + (self.hidden,), dtype=run.dtype)
        for t in range(xw.shape[0]):
            pre = (cont[t][:, None] * h) @ w_hc.T + xw[t]
            if static is not None:
                pre = pre + static
            c, h = lstm_unit(c, pre, cont[t], run.dtype)
            hs[t] = h
        self.carry([h, c])
        tops = [hs, h[None], c[None]][: len(self.top_shapes)]
        return [np.asarray(a, dtype=run.dtype) for a in tops]


def _sigmoid(x: np.ndarray, dtype: Any) -> np.ndarray:
    """LSTMUnit's ``1. / (1. + exp(-x))``: evaluated in double, rounded to `dtype`."""
    with np.errstate(over="ignore"):
        return (1.0 / (1.0 + np.exp(-x.astype(np.float64)))).astype(dtype)


def _tanh(x: np.ndarray, dtype: Any) -> np.ndarray:
    """LSTMUnit's ``2. * sigmoid(2. * x) - 1.`` (all in double), rounded to `dtype`."""
    with np.errstate(over="ignore"):
        return (2.0 / (1.0 + np.exp(-2.0 * x.astype(np.float64))) - 1.0).astype(dtype)


def lstm_unit(c_prev: np.ndarray, gates: np.ndarray, cont: np.ndarray, dtype: Any) -> tuple[np.ndarray, np.ndarray]:
    """One LSTMUnit step over (..., N, H) states, (..., N, 4H) gate inputs in i, f, o, g order and (..., N)
    cont flags: ``f = 0`` where cont is 0 (else ``cont * sigmoid``), ``c = f c_prev + i g``, ``h = o tanh(c)``."""
    hid = c_prev.shape[-1]
    i = _sigmoid(gates[..., :hid], dtype)
    f = _sigmoid(gates[..., hid:2 * hid], dtype)
    o = _sigmoid(gates[..., 2 * hid:3 * hid], dtype)
    g = _tanh(gates[..., 3 * hid:], dtype)
    flag = np.asarray(cont, dtype=dtype)[..., None]
    f = np.where(flag == 0, np.dtype(dtype).type(0), flag * f)
    c = f * c_prev + i * g
    return c.astype(dtype), (o * _tanh(c, dtype)).astype(dtype)


@register("LSTMUnit")
class LSTMUnit(Layer):
    """One LSTM step: bottoms ``c_prev (1, N, H)``, ``gates (1, N, 4H)``, ``cont (1, N)``; tops c, h.

    Caffe rule (LSTMUnitLayer): the three bottoms must have 3, 3 and 2 axes, each with a leading 1 and
    the same N; the gates are 4H wide. Both tops have ``c_prev``'s shape. FLOPs: 24 per hidden unit.
    """

    num_bottoms = (3, 3)
    num_tops = (2, 2)

    def setup(self, bottom_shapes: list[Shape], ctx: Context) -> list[Shape]:
        check_blob_counts(self, bottom_shapes)
        c, g, cont = (tuple(s) for s in bottom_shapes)
        for i, (s, nd) in enumerate(((c, 3), (g, 3), (cont, 2))):
            self.check(len(s) == nd and s[0] == 1,
                       f"bottom[{i}] {shape_string(s)} must have {nd} axes with a leading 1")
        self.check(g[1] == c[1] and cont[1] == c[1],
                   f"the bottoms disagree on N ({shape_string(c)}, {shape_string(g)}, {shape_string(cont)})")
        self.check(g[2] == 4 * c[2], f"gate input {shape_string(g)} must be 4 x the hidden size {c[2]}")
        return [c, c]

    def counts(self, bottom_shapes: list[Shape], top_shapes: list[Shape]) -> Counts:
        return Counts(0, LSTM_UNIT * count(top_shapes[0]))

    def forward(self, bottoms: list[np.ndarray], blobs: list[np.ndarray], run: RunContext) -> list[np.ndarray]:
        c, h = lstm_unit(bottoms[0], bottoms[1], bottoms[2], run.dtype)
        return [c, h]

    def to_onnx(self, ctx: Any, bottoms: list[str], tops: list[str], blobs: list[np.ndarray]) -> None:
        """`lstm_unit` as ONNX nodes: ``f = cont * sigmoid`` (0 where cont is 0, as Caffe's), ``c = f c_prev +
        i g``, ``h = o tanh(c)``; in float32 (Caffe evaluates its sigmoid and tanh in double)."""
        n, hidden = self.bottom_shapes[2][1], self.bottom_shapes[0][2]
        cont = onnx_reshape(ctx, bottoms[2], (1, n), (1, n, 1))

        def gate(k: int) -> str:
            return ctx.op("Slice", [bottoms[1], ctx.ints([k * hidden]), ctx.ints([(k + 1) * hidden]), ctx.ints([-1])])

        i, f, o, g = (ctx.op("Sigmoid", [gate(0)]), ctx.op("Mul", [ctx.op("Sigmoid", [gate(1)]), cont]),
                      ctx.op("Sigmoid", [gate(2)]), ctx.op("Tanh", [gate(3)]))
        c = ctx.op("Add", [ctx.op("Mul", [f, bottoms[0]]), ctx.op("Mul", [i, g])], tops[0])
        ctx.op("Mul", [o, ctx.op("Tanh", [c])], tops[1])


# ---------------------------------------------------------------------------------- the unrolled net
def _add(net: Any, type_: str, name: str, bottoms: list[str], tops: list[str], like: Any = None,
         params: tuple[str, ...] = ()) -> Any:
    """Append a layer (a copy of ``like`` when given) with these names, bottoms, tops and named params."""
    layer = net.layer.add()
    if like is not None:
        layer.CopyFrom(like)
    layer.type, layer.name = type_ or layer.type, name
    layer.bottom.extend(bottoms)
    layer.top.extend(tops)
    for param in params:
        layer.param.add().name = param
    return layer


def _inner_products(lp: Any, width: int) -> tuple[Any, Any]:
    """FillUnrolledNet's two InnerProduct templates, ``width`` outputs on axis 2 with the layer's weight
    filler: without a bias, and with one (and the bias filler)."""
    from caffecx.proto import caffe_pb2

    hidden = caffe_pb2.LayerParameter(type="InnerProduct")
    ip = hidden.inner_product_param
    ip.num_output, ip.bias_term, ip.axis = width, False, 2
    ip.weight_filler.CopyFrom(lp.recurrent_param.weight_filler)
    biased = caffe_pb2.LayerParameter()
    biased.CopyFrom(hidden)
    biased.inner_product_param.bias_term = True
    biased.inner_product_param.bias_filler.CopyFrom(lp.recurrent_param.bias_filler)
    return hidden, biased


def _inputs_and_transform(net: Any, lp: Any, shapes: list[Shape], ips: tuple[Any, Any], w: str, b: str,
                          states: list[str]) -> tuple[Any, Any, bool]:
    """Caffe's common head of an unrolled net: the x / cont (/ x_static) Input, the recurrent state
    Input, the cont Slice, the x transform (and the static one with its Reshape), the x Slice.
    Returns (the cont Slice, the x Slice, whether there is a static input)."""
    p, (hidden, biased), n = lp.recurrent_param, ips, shapes[0][1]
    static = len(shapes) > 2 + (len(states) if p.expose_hidden else 0)
    data = _add(net, "Input", "", [], ["x", "cont"] + (["x_static"] if static else []))
    for shape in shapes[:3 if static else 2]:
        data.input_param.shape.add().dim.extend(shape)
    state = _add(net, "Input", "", [], states)
    for _ in states:
        state.input_param.shape.add().dim.extend([1, n, p.num_output])
    cont_slice = _add(net, "Slice", "cont_slice", ["cont"], [])
    cont_slice.slice_param.axis = 0
    _add(net, "InnerProduct", "x_transform", ["x"], [f"{w}_x"], biased, (w, b)).propagate_down.append(True)
    if static:
        x_static = _add(net, "InnerProduct", f"{w}_x_static", ["x_static"], [f"{w}_x_static_preshape"], hidden,
                        (f"{w}_static",))
        x_static.inner_product_param.axis = 1
        x_static.propagate_down.append(True)
        reshape = _add(net, "Reshape", f"{w}_x_static_reshape", [f"{w}_x_static_preshape"], [f"{w}_x_static"])
        reshape.reshape_param.shape.dim.extend([1, -1, hidden.inner_product_param.num_output])
    x_slice = _add(net, "Slice", f"{w}_x_slice", [f"{w}_x"], [])
    x_slice.slice_param.axis = 0
    return cont_slice, x_slice, static


def _step(net: Any, kind: str, t: int, ips: tuple[Any, Any], w: str, static: bool) -> str:
    """One timestep's layers of an unrolled LSTM or RNN (``h_conted`` Scale, the recurrent
    InnerProduct, the Eltwise sum, then LSTMUnit, or TanH, InnerProduct, TanH); returns its output blob."""
    from caffecx.proto import caffe_pb2

    hidden, biased = ips
    conted = _add(net, "Scale", f"h_conted_{t - 1}", [f"h_{t - 1}", f"cont_{t}"], [f"h_conted_{t - 1}"])
    conted.scale_param.axis = 0
    summed = [f"{w}_x_{t}"] + ([f"{w}_x_static"] if static else [])
    if kind == "LSTM":
        _add(net, "InnerProduct", f"transform_{t}", [f"h_conted_{t - 1}"], [f"W_hc_h_{t - 1}"], hidden, ("W_hc",))
        gate = _add(net, "Eltwise", f"gate_input_{t}", [f"W_hc_h_{t - 1}", *summed], [f"gate_input_{t}"])
        gate.eltwise_param.operation = caffe_pb2.EltwiseParameter.SUM
        _add(net, "LSTMUnit", f"unit_{t}", [f"c_{t - 1}", f"gate_input_{t}", f"cont_{t}"], [f"c_{t}", f"h_{t}"])
        return f"h_{t}"
    _add(net, "InnerProduct", f"W_hh_h_{t - 1}", [f"h_conted_{t - 1}"], [f"W_hh_h_{t - 1}"], hidden, ("W_hh",))
    total = _add(net, "Eltwise", f"h_input_sum_{t}", [f"W_hh_h_{t - 1}", *summed], [f"h_neuron_input_{t}"])
    total.eltwise_param.operation = caffe_pb2.EltwiseParameter.SUM
    _add(net, "TanH", f"h_neuron_{t}", [f"h_neuron_input_{t}"], [f"h_{t}"])
    _add(net, "InnerProduct", f"W_ho_h_{t}", [f"h_{t}"], [f"W_ho_h_{t}"], biased, ("W_ho", "b_o"))
    _add(net, "TanH", f"o_neuron_{t}", [f"W_ho_h_{t}"], [f"o_{t}"])
    return f"o_{t}"


def unrolled_net(lp: Any, bottom_shapes: list[Shape]) -> InnerNet:
    """The net Caffe's RecurrentLayer sets up inside an ``LSTM`` / ``RNN`` layer ``lp`` with these bottoms
    (RecurrentLayer::LayerSetUp and the type's FillUnrolledNet): the layers of each of the T timesteps
    between a common head and the output Concat (LSTM: then a Split of c_T, unnamed), every name prefixed
    with ``<layer name>_``, then a ``<output>_pseudoloss`` Reduction (loss weight 1) per output. It has no
    state: Net::Init sets it up in TEST, Caffe's default phase. Bound to the layer: its bottoms are ``x``,
    ``cont``, [``x_static``], then with ``expose_hidden`` h_0 [, c_0]; its tops the output, then with
    ``expose_hidden`` h_T [, c_T]. Unexposed, the state starts at zero: Caffe's first pass."""
    from caffecx.proto import caffe_pb2

    lstm = lp.type == "LSTM"
    t_steps, h = int(bottom_shapes[0][0]), int(lp.recurrent_param.num_output)
    w, b, out = ("W_xc", "b_c", "h") if lstm else ("W_xh", "b_h", "o")
    ips = _inner_products(lp, 4 * h if lstm else h)
    net = caffe_pb2.NetParameter()
    cont_slice, x_slice, static = _inputs_and_transform(
        net, lp, [list(s) for s in bottom_shapes], ips, w, b, ["c_0", "h_0"] if lstm else ["h_0"])
    concat = caffe_pb2.LayerParameter(name=f"{out}_concat", type="Concat", top=[out])
    concat.concat_param.axis = 0
    for t in range(1, t_steps + 1):
        cont_slice.top.append(f"cont_{t}")
        x_slice.top.append(f"{w}_x_{t}")
        concat.bottom.append(_step(net, lp.type, t, ips, w, static))
    if lstm:
        _add(net, "Split", "", [f"c_{t_steps}"], ["c_T"])
    net.layer.add().CopyFrom(concat)
    if lp.name:
        for layer in net.layer:
            layer.name = f"{lp.name}_{layer.name}"
    loss = _add(net, "Reduction", f"{out}_pseudoloss", [out], [f"{out}_pseudoloss"])
    loss.loss_weight.append(1)
    exposed = lp.recurrent_param.expose_hidden
    states = (["h_0", "c_0"] if lstm else ["h_0"]) if exposed else []
    finals = ([f"h_{t_steps}", "c_T"] if lstm else [f"h_{t_steps}"]) if exposed else []
    return InnerNet(net, ["x", "cont"] + ["x_static"] * static + states, [out, *finals])
