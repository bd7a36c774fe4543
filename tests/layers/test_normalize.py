"""Normalize (SSD): scale blob (C,) or a 0-axis scalar when channel_shared (the fork's default)."""

from __future__ import annotations

import numpy as np
import pytest
from layerkit import make, run, tops

from caffecx.errors import ShapeError
from caffecx.layers import Counts

CONV4_3 = (1, 512, 38, 38)


def test_vgg_ssd_conv4_3_norm() -> None:
    text = ('name: "conv4_3_norm" type: "Normalize" bottom: "conv4_3" top: "conv4_3_norm" '
            "norm_param { across_spatial: false channel_shared: false scale_filler { type: \"constant\" value: 20 } }")
    assert tops(text, CONV4_3) == [CONV4_3]
    assert [b.shape for b in make(text).param_shapes([CONV4_3])] == [(512,)]
    assert make(text).counts([CONV4_3], [CONV4_3]) == Counts(0, 4 * 512 * 38 * 38)
    shared = make('name: "n" type: "Normalize" bottom: "x" top: "y"')  # channel_shared defaults to true
    assert [b.shape for b in shared.param_shapes([CONV4_3])] == [()]


def test_needs_two_axes() -> None:
    with pytest.raises(ShapeError, match="Number of axes of bottom blob must be >=2"):
        tops('name: "n" type: "Normalize" bottom: "x" top: "y"', (7,))


# -- forward -------------------------------------------------------------------------------------------

def norm_layer(params: str) -> str:
    return f'name: "n" type: "Normalize" bottom: "x" top: "y" norm_param {{ {params} }}'


def test_forward_across_spatial_by_hand() -> None:
    # one sample [[3, 4]] (2 channels, 1x1): norm sqrt(9 + 16 + eps) = 5, shared scale 2
    x = np.array([3.0, 4.0]).reshape(1, 2, 1, 1)
    (y,) = run(norm_layer("across_spatial: true channel_shared: true"), x, blobs=[np.array(2.0)], dtype=np.float64)
    np.testing.assert_allclose(y.reshape(-1), np.array([3.0, 4.0]) / np.sqrt(25 + 1e-10) * 2, rtol=1e-14)


def test_forward_across_spatial_whole_sample_norm() -> None:
    rng = np.random.default_rng(1)
    x = rng.normal(size=(2, 3, 2, 2))
    (y,) = run(norm_layer("across_spatial: true channel_shared: false"), x, blobs=[np.array([1.0, 2.0, 3.0])],
               dtype=np.float64)
    for n in range(2):
        norm = np.sqrt(np.sum(x[n] ** 2) + 1e-10)
        for c in range(3):
            np.testing.assert_allclose(y[n, c], x[n, c] / norm * (c + 1), rtol=1e-12)


def test_forward_per_position_norm_and_channel_scale() -> None:
    rng = np.random.default_rng(2)
    x = rng.normal(size=(2, 3, 2, 3)).astype(np.float32)
    scale = np.array([20.0, 10.0, 5.0], dtype=np.float32)
    (y,) = run(norm_layer("across_spatial: false channel_shared: false"), x, blobs=[scale])
    assert y.dtype == np.float32
    for n in range(2):
        for h in range(2):
            for w in range(3):
                v = x[n, :, h, w].astype(np.float64)
                np.testing.assert_allclose(y[n, :, h, w], v / np.sqrt(np.sum(v * v) + 1e-10) * scale, rtol=1e-5)


def test_eps_is_inside_the_square_root() -> None:
    # x = 3e-5: sum of squares 9e-10, eps 1e-10 -> norm sqrt(1e-9); with eps outside it would be ~1
    x = np.array([3e-5]).reshape(1, 1, 1, 1)
    (y,) = run(norm_layer("across_spatial: false"), x, blobs=[np.array(1.0)], dtype=np.float64)
    np.testing.assert_allclose(y.item(), 3e-5 / np.sqrt(1e-9), rtol=1e-9)
    (y,) = run(norm_layer("across_spatial: false eps: 0.01"), np.array([0.0, 0.0]).reshape(1, 2, 1, 1),
               blobs=[np.array(1.0)], dtype=np.float64)
    assert np.all(y == 0)


def test_two_axis_bottom_and_scale_filler() -> None:
    x = np.array([[3.0, 4.0], [0.0, 2.0]])
    (y,) = run(norm_layer("across_spatial: false"), x, blobs=[np.array(1.0)], dtype=np.float64)
    np.testing.assert_allclose(y, [[0.6, 0.8], [0.0, 1.0]], rtol=1e-9)
    [blob] = make(norm_layer("scale_filler { type: \"constant\" value: 20 }")).param_shapes([CONV4_3])
    assert blob.filler.type == "constant" and blob.filler.value == 20
    [blob] = make(norm_layer("")).param_shapes([CONV4_3])  # Caffe's default: constant 1
    assert blob.filler.type == "constant" and blob.filler.value == 1
