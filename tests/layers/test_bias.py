"""Bias: learned (C,) by default (layers_2's bias), none in the two-bottom form, 1 FLOP per element."""

from __future__ import annotations

import numpy as np
import pytest
from layerkit import make, run, tops

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


# -- forward ------------------------------------------------------------------------------------------
X = np.arange(12, dtype=np.float64).reshape(2, 3, 2)


def test_learned_bias_per_channel_and_scalar() -> None:
    (top,) = run('name: "b" type: "Bias" bottom: "x" top: "y"', X, blobs=[np.array([100.0, 200.0, 300.0])])
    assert top[1, 2].tolist() == [310.0, 311.0] and top[0, 0].tolist() == [100.0, 101.0]
    (top,) = run('name: "b" type: "Bias" bottom: "x" top: "y" bias_param { axis: 2 num_axes: 0 }', X,
                 blobs=[np.array(0.5)])
    np.testing.assert_allclose(top, X + 0.5)


def test_second_bottom_over_two_axes_at_axis_0() -> None:
    offset = np.array([[1.0, 2.0, 3.0], [4.0, 5.0, 6.0]])
    (top,) = run('name: "b" type: "Bias" bottom: "x" bottom: "o" top: "y" bias_param { axis: 0 }', X, offset)
    np.testing.assert_allclose(top, X + offset[:, :, None])
    (top,) = run('name: "b" type: "Bias" bottom: "x" bottom: "o" top: "y" bias_param { axis: -1 }', X,
                 np.array([10.0, 20.0]))
    np.testing.assert_allclose(top, X + np.array([10.0, 20.0]))


def test_filler_is_the_bias_params_filler() -> None:
    [blob] = make('name: "b" type: "Bias" bottom: "x" top: "y" bias_param { filler { type: "gaussian" std: 0.3 } }'
                  ).param_shapes([(2, 3)])
    assert blob.filler.type == "gaussian"
    assert make('name: "b" type: "Bias" bottom: "x" top: "y"').param_shapes([(2, 3)])[0].filler is None
