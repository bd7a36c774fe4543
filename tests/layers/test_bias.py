"""Bias: learned (C,) by default (layers_2's bias), none in the two-bottom form, 1 FLOP per element."""

from __future__ import annotations

import pytest
from layerkit import make, tops

from caffecx.errors import ShapeError
from caffecx.layers import Context, Counts


def test_learned_bias_like_layers_2() -> None:
    layer = make('name: "bias" type: "Bias" bottom: "log" top: "bias"')
    assert layer.setup([(2, 6, 12, 12)], Context()) == [(2, 6, 12, 12)]
    assert [(b.shape, b.kind) for b in layer.param_shapes([(2, 6, 12, 12)])] == [((6,), "bias")]
    assert layer.counts([(2, 6, 12, 12)], [(2, 6, 12, 12)]) == Counts(0, 1728)


def test_two_bottom_form_stores_nothing_and_checks_dims() -> None:
    text = 'name: "b" type: "Bias" bottom: "x" bottom: "o" top: "y" bias_param { axis: 1 }'
    assert make(text).param_shapes([(2, 6, 4, 4), (6, 4)]) == []
    assert tops(text, (2, 6, 4, 4), (6, 4)) == [(2, 6, 4, 4)]
    with pytest.raises(ShapeError, match="dimension mismatch"):
        tops(text, (2, 6, 4, 4), (6, 5))
    with pytest.raises(ShapeError, match="bias blob's shape extends past"):
        tops(text, (2, 6, 4, 4), (6, 4, 4, 1))
