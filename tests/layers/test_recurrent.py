"""RNN / LSTM: (T, N, H) tops and the parameter blobs of Caffe's unrolled nets; LSTMUnit."""

from __future__ import annotations

import pytest
from layerkit import make, tops

from caffecx.errors import ShapeError

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
