"""RNN / LSTM: (T, N, H) tops and the parameter blobs of Caffe's unrolled nets; LSTMUnit. Forwards checked
against naive per-unit references written out below (gate order i, f, o, g; cont resets; x_static; exposed
hidden state)."""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import pytest
from layerkit import make, run, tops

from caffecx.errors import ShapeError
from caffecx.layers.base import Context, RunContext

X, CONT = (5, 3, 7), (5, 3)  # T=5 steps, N=3 streams, D=7 features


def lstm(extra: str = "", bottoms: str = 'bottom: "x" bottom: "cont"', top: str = 'top: "h"') -> str:
    return f'name: "lstm" type: "LSTM" {bottoms} {top} recurrent_param {{ num_output: 4 {extra} }}'


def shapes(text: str, *bottoms: tuple[int, ...]) -> list[tuple[tuple[int, ...], str]]:
    return [(b.shape, b.kind) for b in make(text).param_shapes(list(bottoms))]


def test_lstm_blobs_are_wxc_bc_whc() -> None:
    assert tops(lstm(), X, CONT) == [(5, 3, 4)]
    assert shapes(lstm(), X, CONT) == [((16, 7), "weight"), ((16,), "bias"), ((16, 4), "weight")]
    # features beyond axis 2 are flattened by the axis-2 InnerProduct: D = 2*7
    assert shapes(lstm(), (5, 3, 2, 7), CONT)[0] == ((16, 14), "weight")


def test_lstm_static_input_adds_wxc_static_before_whc() -> None:
    text = lstm(bottoms='bottom: "x" bottom: "cont" bottom: "xs"')
    assert shapes(text, X, CONT, (3, 10)) == [((16, 7), "weight"), ((16,), "bias"), ((16, 10), "weight"),
                                              ((16, 4), "weight")]


def test_lstm_expose_hidden() -> None:
    text = lstm("expose_hidden: true", 'bottom: "x" bottom: "cont" bottom: "h0" bottom: "c0"',
                'top: "h" top: "hT" top: "cT"')
    assert tops(text, X, CONT, (1, 3, 4), (1, 3, 4)) == [(5, 3, 4), (1, 3, 4), (1, 3, 4)]
    with pytest.raises(ShapeError, match="hidden state input shape: 1 3 4"):
        tops(text, X, CONT, (1, 3, 5), (1, 3, 4))
    with pytest.raises(ShapeError, match="LSTM Layer takes at least 4 bottom"):
        tops(text, X, CONT)


def test_lstm_counts() -> None:
    c = make(lstm()).counts([X, CONT], [(5, 3, 4)])
    steps = 5 * 3 * 4
    assert c.macs == 4 * steps * 7 + 4 * steps * 4
    assert c.flops == 2 * c.macs + 4 * steps + steps + 4 * steps + 24 * steps


def test_rnn_blobs_and_shapes() -> None:
    text = 'name: "rnn" type: "RNN" bottom: "x" bottom: "cont" top: "o" recurrent_param { num_output: 6 }'
    assert tops(text, X, CONT) == [(5, 3, 6)]
    assert shapes(text, X, CONT) == [((6, 7), "weight"), ((6,), "bias"), ((6, 6), "weight"), ((6, 6), "weight"),
                                     ((6,), "bias")]


@pytest.mark.parametrize(("bottoms", "message"), [
    (((5, 3, 7), (5, 2)), "must be \\(T, N\\) = \\(5, 3\\)"),
    (((5, 3, 7), (5, 3, 1)), "bottom\\[1\\] must have exactly 2 axes"),
    (((5,), (5, 3)), "bottom\\[0\\] must have at least 2 axes"),
    (((5, 3), (5, 3)), "needs a feature axis"),
])
def test_checks(bottoms: tuple[tuple[int, ...], ...], message: str) -> None:
    with pytest.raises(ShapeError, match=message):
        tops(lstm(), *bottoms)
    with pytest.raises(ShapeError, match="num_output must be positive"):
        tops('name: "r" type: "RNN" bottom: "x" bottom: "c" top: "o"', X, CONT)


def test_lstm_unit() -> None:
    text = 'name: "u" type: "LSTMUnit" bottom: "c0" bottom: "g" bottom: "cont" top: "c1" top: "h1"'
    assert tops(text, (1, 3, 4), (1, 3, 16), (1, 3)) == [(1, 3, 4), (1, 3, 4)]
    with pytest.raises(ShapeError, match="must be 4 x the hidden size 4"):
        tops(text, (1, 3, 4), (1, 3, 12), (1, 3))


def test_fillers_come_from_recurrent_param() -> None:
    text = lstm('weight_filler { type: "uniform" min: -0.1 max: 0.1 } bias_filler { type: "constant" value: 2 }',
                bottoms='bottom: "x" bottom: "cont" bottom: "xs"')
    blobs = make(text).param_shapes([X, CONT, (3, 10)])
    assert [b.filler.type for b in blobs] == ["uniform", "constant", "uniform", "uniform"]
    assert blobs[1].filler.value == 2
    rnn = 'name: "r" type: "RNN" bottom: "x" bottom: "c" top: "o" recurrent_param { num_output: 2 ' \
          'weight_filler { type: "xavier" } bias_filler { type: "constant" value: 1 } }'
    assert [b.filler.type for b in make(rnn).param_shapes([X, CONT])] == ["xavier", "constant", "xavier",
                                                                          "xavier", "constant"]


# -- forward: naive references (explicit loops over streams and units) -----------------------------
def sig(v: float) -> float:
    return 1.0 / (1.0 + math.exp(-v))


def dot(w: np.ndarray, row: int, v: np.ndarray) -> float:
    return sum(float(w[row, k]) * float(v[k]) for k in range(len(v)))


def naive_lstm(x: np.ndarray, cont: np.ndarray, w_xc: np.ndarray, b_c: np.ndarray, w_hc: np.ndarray,
               h0: np.ndarray, c0: np.ndarray, xs: np.ndarray | None = None,
               w_s: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    t_steps, n_streams = cont.shape
    hid = w_hc.shape[1]
    out = np.zeros((t_steps, n_streams, hid))
    h, c = h0.copy(), c0.copy()
    for t in range(t_steps):
        for n in range(n_streams):
            hc = cont[t, n] * h[n]                 # the flag masks h_{t-1} before W_hc
            pre = [dot(w_hc, r, hc) + dot(w_xc, r, x[t, n]) + b_c[r]
                   + (dot(w_s, r, xs[n]) if xs is not None else 0.0) for r in range(4 * hid)]
            new_c, new_h = np.zeros(hid), np.zeros(hid)
            for d in range(hid):
                i, f = sig(pre[d]), sig(pre[hid + d])
                o, g = sig(pre[2 * hid + d]), math.tanh(pre[3 * hid + d])
                f = 0.0 if cont[t, n] == 0 else cont[t, n] * f
                new_c[d] = f * c[n, d] + i * g
                new_h[d] = o * math.tanh(new_c[d])
            h[n], c[n] = new_h, new_c
            out[t, n] = new_h
    return out, h, c


def naive_rnn(x: np.ndarray, cont: np.ndarray, blobs: list[np.ndarray], h0: np.ndarray,
              xs: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray]:
    w_xh, b_h = blobs[0], blobs[1]
    w_s = blobs[2] if xs is not None else None
    w_hh, w_ho, b_o = blobs[-3:]
    t_steps, n_streams = cont.shape
    hid = w_hh.shape[0]
    out = np.zeros((t_steps, n_streams, hid))
    h = h0.copy()
    for t in range(t_steps):
        for n in range(n_streams):
            hc = cont[t, n] * h[n]
            h[n] = [math.tanh(dot(w_hh, r, hc) + dot(w_xh, r, x[t, n]) + b_h[r]
                              + (dot(w_s, r, xs[n]) if xs is not None else 0.0)) for r in range(hid)]
            out[t, n] = [math.tanh(dot(w_ho, r, h[n]) + b_o[r]) for r in range(hid)]
    return out, h


RNG = np.random.default_rng(7)
T, N, D, H = 4, 2, 3, 2
XT = RNG.normal(size=(T, N, D))
# stream 0 starts at t=0 and restarts at t=2; stream 1 runs through (its first flag is 0 too)
CONT_T = np.array([[0.0, 0.0], [1.0, 1.0], [0.0, 1.0], [1.0, 1.0]])
LSTM_BLOBS = [RNG.normal(size=(4 * H, D)), RNG.normal(size=(4 * H,)), RNG.normal(size=(4 * H, H))]
LSTM_TEXT = 'name: "lstm" type: "LSTM" bottom: "x" bottom: "cont" top: "h" recurrent_param { num_output: 2 }'


def test_lstm_forward_against_naive_reference() -> None:
    (h,) = run(LSTM_TEXT, XT, CONT_T, blobs=LSTM_BLOBS, dtype=np.float64)
    want, _, _ = naive_lstm(XT, CONT_T, *LSTM_BLOBS, np.zeros((N, H)), np.zeros((N, H)))
    np.testing.assert_allclose(h, want, rtol=1e-12, atol=1e-12)
    (h32,) = run(LSTM_TEXT, XT, CONT_T, blobs=LSTM_BLOBS)
    assert h32.dtype == np.float32
    np.testing.assert_allclose(h32, want, rtol=1e-5, atol=1e-6)


def test_lstm_cont_zero_restarts_from_zeros() -> None:
    (h,) = run(LSTM_TEXT, XT, CONT_T, blobs=LSTM_BLOBS, dtype=np.float64)
    # stream 0 restarted at t=2: steps 2..3 equal a fresh run over x[2:]
    (fresh,) = run(LSTM_TEXT, XT[2:], CONT_T[2:] * [[0.0, 1.0], [1.0, 1.0]], blobs=LSTM_BLOBS, dtype=np.float64)
    np.testing.assert_allclose(h[2:, 0], fresh[:, 0], rtol=1e-13)
    # stream 1 did not restart: different from a fresh start
    assert not np.allclose(h[2:, 1], fresh[:, 1])


def test_lstm_one_step_by_hand() -> None:
    # H = 1, D = 1, every weight 0 except: W_xc = (i, f, o, g) = (1, 1, 1, 1), bias 0, W_hc = 0
    x = np.array([[[0.5]]])
    blobs = [np.ones((4, 1)), np.zeros(4), np.zeros((4, 1))]
    text = LSTM_TEXT.replace("num_output: 2", "num_output: 1")
    (h,) = run(text, x, np.zeros((1, 1)), blobs=blobs, dtype=np.float64)
    c = sig(0.5) * math.tanh(0.5)                 # f is 0 (cont 0), c_0 = 0
    assert float(h[0, 0, 0]) == pytest.approx(sig(0.5) * math.tanh(c), rel=1e-14)


def test_lstm_static_input_and_exposed_hidden() -> None:
    xs = RNG.normal(size=(N, 5))
    w_s = RNG.normal(size=(4 * H, 5))
    h0, c0 = RNG.normal(size=(1, N, H)), RNG.normal(size=(1, N, H))
    cont = np.ones((T, N))
    cont[2, 1] = 0.0
    text = ('name: "lstm" type: "LSTM" bottom: "x" bottom: "cont" bottom: "xs" bottom: "h0" bottom: "c0" '
            'top: "h" top: "hT" top: "cT" recurrent_param { num_output: 2 expose_hidden: true }')
    blobs = [LSTM_BLOBS[0], LSTM_BLOBS[1], w_s, LSTM_BLOBS[2]]
    h, h_t, c_t = run(text, XT, cont, xs, h0, c0, blobs=blobs, dtype=np.float64)
    want, want_h, want_c = naive_lstm(XT, cont, *LSTM_BLOBS, h0[0], c0[0], xs, w_s)
    np.testing.assert_allclose(h, want, rtol=1e-12, atol=1e-12)
    np.testing.assert_allclose(h_t[0], want_h, rtol=1e-12)
    np.testing.assert_allclose(c_t[0], want_c, rtol=1e-12)
    # with cont_1 = 0 the exposed h_0 / c_0 are ignored (masked), as in Caffe
    cont0 = cont.copy()
    cont0[0] = 0.0
    a = run(text, XT, cont0, xs, h0, c0, blobs=blobs, dtype=np.float64)[0]
    b = run(text, XT, cont0, xs, 0 * h0, 0 * c0, blobs=blobs, dtype=np.float64)[0]
    np.testing.assert_array_equal(a, b)


def test_rnn_forward_against_naive_reference() -> None:
    text = 'name: "rnn" type: "RNN" bottom: "x" bottom: "cont" top: "o" recurrent_param { num_output: 2 }'
    blobs = [RNG.normal(size=(H, D)), RNG.normal(size=(H,)), RNG.normal(size=(H, H)), RNG.normal(size=(H, H)),
             RNG.normal(size=(H,))]
    (o,) = run(text, XT, CONT_T, blobs=blobs, dtype=np.float64)
    want, _ = naive_rnn(XT, CONT_T, blobs, np.zeros((N, H)))
    np.testing.assert_allclose(o, want, rtol=1e-12, atol=1e-12)
    # x_static and exposed h_0 / h_T
    xs, w_s, h0 = RNG.normal(size=(N, 4)), RNG.normal(size=(H, 4)), RNG.normal(size=(1, N, H))
    text2 = ('name: "rnn" type: "RNN" bottom: "x" bottom: "cont" bottom: "xs" bottom: "h0" top: "o" top: "hT" '
             'recurrent_param { num_output: 2 expose_hidden: true }')
    blobs2 = blobs[:2] + [w_s] + blobs[2:]
    cont = np.ones((T, N))
    o2, h_t = run(text2, XT, cont, xs, h0, blobs=blobs2, dtype=np.float64)
    want2, want_h = naive_rnn(XT, cont, blobs2, h0[0], xs)
    np.testing.assert_allclose(o2, want2, rtol=1e-12, atol=1e-12)
    np.testing.assert_allclose(h_t[0], want_h, rtol=1e-12)


def test_lstm_unit_forward() -> None:
    text = 'name: "u" type: "LSTMUnit" bottom: "c0" bottom: "g" bottom: "cont" top: "c1" top: "h1"'
    c_prev = np.array([[[0.5, -1.0], [2.0, 0.25]]])
    gates = RNG.normal(size=(1, 2, 8))
    cont = np.array([[1.0, 0.0]])
    c, h = run(text, c_prev, gates, cont, dtype=np.float64)
    for n in range(2):
        for d in range(2):
            g = gates[0, n]
            f = 0.0 if cont[0, n] == 0 else sig(g[2 + d])
            want_c = f * c_prev[0, n, d] + sig(g[d]) * math.tanh(g[6 + d])
            assert c[0, n, d] == pytest.approx(want_c, rel=1e-13)
            assert h[0, n, d] == pytest.approx(sig(g[4 + d]) * math.tanh(want_c), rel=1e-12)


def forward_twice(text: str, halves: list[tuple[np.ndarray, np.ndarray]], blobs: list[np.ndarray]
                  ) -> list[np.ndarray]:
    """One layer instance set up once, run over each (x, cont) half in turn (as the executor does)."""
    layer = make(text)
    shapes = [tuple(a.shape) for a in halves[0]]
    layer.phase = "TEST"
    layer.bottom_shapes, layer.top_shapes = shapes, [tuple(t) for t in layer.setup(shapes, Context(phase="TEST"))]
    ctx = RunContext(phase="TEST", dtype=np.float64, rng=np.random.default_rng(0))
    return [layer.forward(list(half), blobs, ctx)[0] for half in halves]


@pytest.mark.parametrize("kind", ["LSTM", "RNN"])
def test_state_carries_to_the_next_forward(kind: str) -> None:
    # Caffe copies h_T (and c_T) into h_0 (and c_0) at each forward: a sequence cut in two forwards with
    # cont_1 = 1 in the second equals one forward over the whole sequence
    text = LSTM_TEXT if kind == "LSTM" else LSTM_TEXT.replace('"LSTM"', '"RNN"')
    blobs = LSTM_BLOBS if kind == "LSTM" else [RNG.normal(size=s) for s in ((H, D), (H,), (H, H), (H, H), (H,))]
    whole = run(text, XT, CONT_T, blobs=blobs, dtype=np.float64)[0]
    first, second = forward_twice(text, [(XT[:2], CONT_T[:2]), (XT[2:], CONT_T[2:])], blobs)
    np.testing.assert_allclose(np.concatenate([first, second]), whole, rtol=1e-13, atol=1e-13)
    # and a second forward starting with cont_1 = 0 everywhere is a fresh start
    again = forward_twice(text, [(XT[:2], CONT_T[:2]), (XT[:2], CONT_T[:2])], blobs)
    np.testing.assert_array_equal(again[0], again[1])


# -- the unrolled net Caffe sets up inside the layer ------------------------------------------------------
def unrolled_plan(text: str, *bottoms: tuple[int, ...]) -> Any:
    from caffecx.graph import load_net
    from caffecx.io.reader import NetText
    from caffecx.plan import plan_net

    return plan_net(load_net(NetText(make(text).inner_net(list(bottoms)).param, None, [], [], []), phase="TEST"))


def owned_params(plan: Any) -> list[tuple[int, ...]]:
    """The unrolled net's parameter blobs as Caffe's RecurrentLayer collects them: each named param once,
    at its first owner, in layer order (ParamBlob shapes)."""
    seen, shapes = set(), []
    for planned in plan.layers:
        names = [p.name for p in planned.node.param.param]
        for k, blob in enumerate(planned.param_blobs):
            name = names[k] if k < len(names) else None
            if name is None or name not in seen:
                seen.add(name)
                shapes.append(tuple(blob.shape))
    return shapes


def test_the_unrolled_net_is_the_one_caffe_logs() -> None:
    from google.protobuf import text_format
    from paths import REPO

    from caffecx.io.reader import read_net_text
    from caffecx.logs import parse_log

    layers = {lp.name: lp for lp in read_net_text(REPO / "tests" / "data" / "lstm_nested.prototxt").param.layer}
    lstm, rnn = parse_log(REPO / "tests" / "data" / "logs" / "lstm_nested.log").net_logs[0].children
    for child, name, x in ((lstm, "lstm1", (3, 2, 4)), (rnn, "rnn1", (3, 2, 5))):
        built = make(text_format.MessageToString(layers[name])).inner_net([x, (3, 2)]).param
        assert text_format.MessageToString(built) == text_format.MessageToString(child.param)


@pytest.mark.parametrize("text", [
    lstm(), lstm(bottoms='bottom: "x" bottom: "cont" bottom: "xs"'),
    lstm("expose_hidden: true", 'bottom: "x" bottom: "cont" bottom: "xs" bottom: "h0" bottom: "c0"',
         'top: "h" top: "hT" top: "cT"'),
    'name: "rnn" type: "RNN" bottom: "x" bottom: "cont" bottom: "xs" top: "o" recurrent_param { num_output: 4 }',
])
def test_the_unrolled_net_has_the_layer_s_blobs_and_output(text: str) -> None:
    static = 'bottom: "xs"' in text
    bottoms = [X, CONT] + [(3, 10)] * static + [(1, 3, 4)] * ("expose_hidden" in text) * 2
    plan = unrolled_plan(text, *bottoms)
    assert plan.error is None
    assert owned_params(plan) == [b.shape for b in make(text).param_shapes(bottoms)]
    out = "h" if '"LSTM"' in text else "o"
    assert plan.blob_shapes[out] == tops(text, *bottoms)[0] == (5, 3, 4)
    names = [p.node.name for p in plan.layers]
    assert names[-1] == f"{out}_pseudoloss" and all(n.startswith(("lstm_", "rnn_")) for n in names[:-1] if not n.endswith("_split"))
    assert len([n for n in names if n.endswith(("_unit_5", "_h_neuron_5"))]) == 1  # T = 5 steps
