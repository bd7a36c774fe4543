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
"""

from __future__ import annotations

from caffecx.layers._common import check_blob_counts, shape_string
from caffecx.layers.base import Context, Counts, Layer, ParamBlob, Shape, count, register

TANH = 5
LSTM_UNIT = 24


class Recurrent(Layer):
    """Shared set-up of RNN and LSTM; subclasses give the gate multiplier and the hidden-state count."""

    gates: int = 1
    num_states: int = 1

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
        t, n, h, _, _ = self._dims(bottom_shapes)
        return [(t, n, h)] + [(1, n, h)] * (self.num_tops[0] - 1)


@register("RNN")
class RNN(Recurrent):
    """Caffe's ``RNN``; see the module docstring."""

    def param_shapes(self, bottom_shapes: list[Shape]) -> list[ParamBlob]:
        _, _, h, d, s = self._dims(bottom_shapes)
        blobs = [ParamBlob((h, d), "weight"), ParamBlob((h,), "bias")]
        if s is not None:
            blobs.append(ParamBlob((h, s), "weight"))
        return blobs + [ParamBlob((h, h), "weight"), ParamBlob((h, h), "weight"), ParamBlob((h,), "bias")]

    def counts(self, bottom_shapes: list[Shape], top_shapes: list[Shape]) -> Counts:
        t, n, h, d, s = self._dims(bottom_shapes)
        steps = t * n * h
        macs = steps * d + steps * h * 2 + (n * h * s if s is not None else 0)
        flops = 2 * macs + 2 * steps + steps + steps * (1 + (s is not None)) + 2 * TANH * steps
        return Counts(macs, flops)


@register("LSTM")
class LSTM(Recurrent):
    """Caffe's ``LSTM``; see the module docstring."""

    num_states = 2

    def param_shapes(self, bottom_shapes: list[Shape]) -> list[ParamBlob]:
        _, _, h, d, s = self._dims(bottom_shapes)
        blobs = [ParamBlob((4 * h, d), "weight"), ParamBlob((4 * h,), "bias")]
        if s is not None:
            blobs.append(ParamBlob((4 * h, s), "weight"))
        return blobs + [ParamBlob((4 * h, h), "weight")]

    def counts(self, bottom_shapes: list[Shape], top_shapes: list[Shape]) -> Counts:
        t, n, h, d, s = self._dims(bottom_shapes)
        steps = t * n * h
        macs = 4 * steps * d + 4 * steps * h + (4 * n * h * s if s is not None else 0)
        flops = 2 * macs + 4 * steps + steps + 4 * steps * (1 + (s is not None)) + LSTM_UNIT * steps
        return Counts(macs, flops)


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
