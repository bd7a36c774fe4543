"""BatchNorm: three stat blobs (mean, variance, factor), 2 FLOPs per element; forward with stored
(factor-divided) or batch statistics, eps under the square root."""

from __future__ import annotations

import math

import numpy as np
import pytest
from layerkit import make, run, tops

from caffecx.errors import ShapeError
from caffecx.layers import Counts


def test_three_stat_blobs_and_passthrough_like_layers_1_bn2() -> None:
    text = 'name: "bn2" type: "BatchNorm" bottom: "conv2" top: "conv2"'
    assert tops(text, (3, 8, 10, 5)) == [(3, 8, 10, 5)]
    blobs = make(text).param_shapes([(3, 8, 10, 5)])
    assert [(b.shape, b.kind, b.learnable) for b in blobs] == [((8,), "stat", False), ((8,), "stat", False),
                                                               ((1,), "stat", False)]
    assert make(text).counts([(3, 8, 10, 5)], [(3, 8, 10, 5)]) == Counts(0, 2 * 1200)


def test_channels_are_axis_1_of_a_2_axis_bottom() -> None:
    blobs = make('name: "b" type: "BatchNorm" bottom: "x" top: "y"').param_shapes([(64, 500)])
    assert [b.shape for b in blobs] == [(500,), (500,), (1,)]


# -- forward ------------------------------------------------------------------------------------------
BN = 'name: "bn" type: "BatchNorm" bottom: "x" top: "y"'
# stored as Caffe's moving sums: mean*factor, var*factor, factor (0.9 like the fixtures)
STORED = [np.array([0.9, -1.8]), np.array([3.6, 0.225]), np.array([0.9])]


def test_global_stats_divide_by_the_factor_and_add_eps_under_the_root() -> None:
    # mean = (1, -2), var = (4, 0.25); eps 5 goes under the root: sqrt(4 + 5) = 3, sqrt(0.25 + 5)
    x = np.array([[[7.0, -2.0]], [[-1.0, 0.0]]]).reshape(1, 2, 2)  # (N=1, C=2, 2)
    (top,) = run(BN + " batch_norm_param { eps: 5 }", x, blobs=STORED)
    np.testing.assert_allclose(top, [[[2.0, -1.0], [1 / math.sqrt(5.25), 2 / math.sqrt(5.25)]]], rtol=1e-6)


def test_default_eps_and_a_2_axis_bottom() -> None:
    x = np.array([[3.0, -1.5], [1.0, -2.0]])  # (N, C)
    (top,) = run(BN, x, blobs=STORED)
    want = (x - [1.0, -2.0]) / np.sqrt(np.array([4.0, 0.25]) + 1e-5)
    np.testing.assert_allclose(top, want, rtol=1e-6)


def test_a_zero_factor_means_zero_statistics() -> None:
    x = np.array([[2.0, -6.0]])
    stored = [np.array([5.0, 5.0]), np.array([7.0, 7.0]), np.array([0.0])]
    (top,) = run(BN + " batch_norm_param { eps: 4 }", x, blobs=stored)
    assert top.tolist() == [[1.0, -3.0]]  # x / sqrt(0 + 4)


def test_train_phase_uses_the_batch_statistics() -> None:
    # channel 0 holds 1, 3, 5, 7 over (N, spatial): mean 4, biased var 5; channel 1: 2, 4, 2, 4: mean 3, var 1
    x = np.array([[[1.0, 3.0], [2.0, 4.0]], [[5.0, 7.0], [2.0, 4.0]]])  # (N=2, C=2, 2)
    (top,) = run(BN + " batch_norm_param { eps: 0 }", x, blobs=STORED, phase="TRAIN")
    s = math.sqrt(5.0)
    np.testing.assert_allclose(top[:, 0], [[-3 / s, -1 / s], [1 / s, 3 / s]], rtol=1e-6)
    np.testing.assert_allclose(top[:, 1], [[-1.0, 1.0], [-1.0, 1.0]], rtol=1e-6)
    (glob,) = run(BN + " batch_norm_param { use_global_stats: true eps: 0 }", x, blobs=STORED, phase="TRAIN")
    np.testing.assert_allclose(glob[0, 0], [0.0, 1.0], rtol=1e-6)
    (batch,) = run(BN + " batch_norm_param { use_global_stats: false eps: 0 }", x, blobs=STORED)
    np.testing.assert_allclose(batch[:, 0], top[:, 0])


def test_a_1_axis_bottom_fails_caffes_reshape_check() -> None:
    with pytest.raises(ShapeError, match="axis 1 out of range"):
        tops(BN, (5,))
