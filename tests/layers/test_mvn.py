"""MVN: Caffe's legacy 4-axis top; FLOPs depend on normalize_variance; forward with eps on the std."""

from __future__ import annotations

import math

import numpy as np
import pytest
from layerkit import make, run, tops

from caffecx.errors import ShapeError
from caffecx.layers import Counts


def test_mvn_like_layers_2() -> None:
    text = 'name: "mvn" type: "MVN" bottom: "g" top: "mvn" mvn_param { across_channels: true }'
    assert tops(text, (2, 6, 12, 12)) == [(2, 6, 12, 12)]
    assert make(text).param_shapes([(2, 6, 12, 12)]) == []
    assert make(text).counts([(2, 6, 12, 12)], [(2, 6, 12, 12)]) == Counts(0, 5 * 1728)
    mean_only = make('name: "m" type: "MVN" bottom: "g" top: "m" mvn_param { normalize_variance: false }')
    assert mean_only.counts([(2, 6, 12, 12)], [(2, 6, 12, 12)]) == Counts(0, 2 * 1728)


# -- forward ------------------------------------------------------------------------------------------
MVN = 'name: "m" type: "MVN" bottom: "x" top: "y" '


def test_per_channel_with_eps_added_to_the_std() -> None:
    # channel 0: 1, 3 (mean 2, std 1); channel 1: 0, 4 (mean 2, std 2); eps 1 goes on the std
    x = np.array([[[[1.0, 3.0]], [[0.0, 4.0]]]])  # (1, 2, 1, 2)
    (top,) = run(MVN + "mvn_param { eps: 1 }", x)
    np.testing.assert_allclose(top, [[[[-0.5, 0.5]], [[-2 / 3, 2 / 3]]]], rtol=1e-6)
    (top,) = run(MVN, x)
    np.testing.assert_allclose(top, [[[[-1.0, 1.0]], [[-1.0, 1.0]]]], rtol=1e-6)
    (flat,) = run(MVN, np.full((1, 1, 2, 2), 5.0))
    assert flat.tolist() == [[[[0.0, 0.0], [0.0, 0.0]]]]  # 0 / (0 + 1e-9)


def test_across_channels_and_mean_only() -> None:
    x = np.array([[[[1.0, 3.0]], [[5.0, 7.0]]], [[[0.0, 0.0]], [[2.0, 2.0]]]])  # (2, 2, 1, 2)
    (top,) = run(MVN + "mvn_param { across_channels: true }", x)
    s = math.sqrt(5.0)  # sample 0: 1, 3, 5, 7: mean 4, var 5; sample 1: 0, 0, 2, 2: mean 1, var 1
    np.testing.assert_allclose(top[0].reshape(-1), [-3 / s, -1 / s, 1 / s, 3 / s], rtol=1e-6)
    np.testing.assert_allclose(top[1].reshape(-1), [-1, -1, 1, 1], rtol=1e-6)
    (centred,) = run(MVN + "mvn_param { normalize_variance: false }", x)
    assert centred.reshape(-1).tolist() == [-1, 1, -1, 1, 0, 0, 0, 0]


def test_the_top_takes_caffes_legacy_4_axis_shape() -> None:
    assert tops(MVN, (4, 3)) == [(4, 3, 1, 1)]
    (top,) = run(MVN, np.array([[1.0, 2.0, 3.0], [0.0, 0.0, 3.0]]))
    assert top.shape == (2, 3, 1, 1) and top.reshape(-1).tolist() == [0.0] * 6  # one value per (n, c)
    (top,) = run(MVN + "mvn_param { across_channels: true }", np.array([[1.0, 2.0, 3.0]]))
    np.testing.assert_allclose(top.reshape(-1), np.array([-1.0, 0.0, 1.0]) / math.sqrt(2 / 3), rtol=1e-6)
    with pytest.raises(ShapeError, match="legacy accessors"):
        tops(MVN, (1, 2, 3, 4, 5))
