"""Crop (BVLC master rule) and Im2col."""

from __future__ import annotations

import numpy as np
import pytest
from google.protobuf import text_format
from layerkit import run

from caffecx.errors import ShapeError
from caffecx.layers import Context, Window, layer_class
from caffecx.proto import caffe_pb2


def make(text: str):  # noqa: ANN201
    lp = text_format.Parse(text, caffe_pb2.LayerParameter())
    return layer_class(lp.type)(lp)


def crop(params: str):  # noqa: ANN201
    return make(f'name: "crop" type: "Crop" top: "c" crop_param {{ {params} }}')


def test_fcn_score_crop() -> None:
    # FCN-32s: upscore (1, 21, 544, 544) cropped to the data's 500x500 at offset 19
    assert crop("axis: 2 offset: 19").setup([(1, 21, 544, 544), (1, 3, 500, 500)], Context()) == [
        (1, 21, 500, 500)
    ]


def test_default_axis_and_no_offset_crop_to_the_reference_shape() -> None:
    assert crop("").setup([(2, 8, 10, 10), (1, 3, 6, 7)], Context()) == [(2, 8, 6, 7)]


def test_one_offset_per_cropped_axis() -> None:
    c = crop("axis: 1 offset: 0 offset: 1 offset: 2")
    assert c.setup([(2, 8, 10, 10), (2, 4, 9, 8)], Context()) == [(2, 4, 9, 8)]
    with pytest.raises(ShapeError, match="crop for dimension 3 is out-of-bounds with size 9 and offset 2"):
        c.setup([(2, 8, 10, 10), (2, 4, 9, 9)], Context())


def test_negative_axis() -> None:
    assert crop("axis: -1 offset: 1").setup([(2, 8, 10, 10), (1, 1, 1, 9)], Context()) == [(2, 8, 10, 9)]


def test_checks() -> None:
    with pytest.raises(ShapeError, match="number of offset values"):
        crop("axis: 2 offset: 1 offset: 1 offset: 1").setup([(2, 8, 10, 10), (2, 8, 5, 5)], Context())
    with pytest.raises(ShapeError, match="out-of-bounds"):
        crop("axis: 2 offset: 6").setup([(2, 8, 10, 10), (2, 8, 5, 5)], Context())
    with pytest.raises(ShapeError, match="crop axis 4 out of range"):
        crop("axis: 4").setup([(2, 8, 10, 10), (2, 8, 5, 5)], Context())


def im2col(params: str):  # noqa: ANN201
    return make(f'name: "i2c" type: "Im2col" top: "c" convolution_param {{ {params} }}')


def test_im2col_moves_the_window_into_channels() -> None:
    assert im2col("kernel_size: 3").setup([(2, 3, 8, 8)], Context()) == [(2, 27, 6, 6)]
    i = im2col("kernel_h: 3 kernel_w: 2 stride: 2 pad: 1")
    assert i.setup([(2, 3, 8, 8)], Context()) == [(2, 18, 4, 5)]
    assert i.window([(2, 3, 8, 8)]) == Window((3, 2), (2, 2), (1, 1), (1, 1))
    assert i.param_shapes([(2, 3, 8, 8)]) == []


def test_im2col_needs_a_spatial_axis() -> None:
    with pytest.raises(ShapeError, match="at least 1 spatial"):
        im2col("kernel_size: 1").setup([(2, 3)], Context())



# -- forward ------------------------------------------------------------------------------------------


def crop_run(params: str, x: np.ndarray, like: np.ndarray) -> np.ndarray:
    (top,) = run(f'name: "c" type: "Crop" bottom: "x" bottom: "r" top: "y" crop_param {{ {params} }}', x, like)
    return top


def test_crop_one_offset_for_every_cropped_axis() -> None:
    x = np.arange(2 * 3 * 6 * 7, dtype=np.float32).reshape(2, 3, 6, 7)
    top = crop_run("axis: 2 offset: 2", x, np.zeros((1, 1, 3, 4)))
    np.testing.assert_array_equal(top, x[:, :, 2:5, 2:6])


def test_crop_one_offset_per_axis_from_axis_1() -> None:
    x = np.arange(2 * 3 * 6 * 7, dtype=np.float32).reshape(2, 3, 6, 7)
    top = crop_run("axis: 1 offset: 1 offset: 0 offset: 3", x, np.zeros((5, 2, 4, 4)))
    np.testing.assert_array_equal(top, x[:, 1:3, 0:4, 3:7])


def test_crop_default_offset_zero_and_negative_axis() -> None:
    x = np.arange(24, dtype=np.float32).reshape(1, 2, 3, 4)
    np.testing.assert_array_equal(crop_run("", x, np.zeros((1, 1, 2, 2))), x[:, :, :2, :2])
    np.testing.assert_array_equal(crop_run("axis: -1 offset: 1", x, np.zeros((9, 9, 9, 2))), x[..., 1:3])


def test_im2col_forward_layout() -> None:
    x = np.arange(2 * 9, dtype=np.float32).reshape(1, 2, 3, 3)
    (top,) = run('name: "i" type: "Im2col" bottom: "x" top: "y" convolution_param { kernel_size: 3 }', x)
    assert top.ravel().tolist() == x.ravel().tolist()  # one window = the whole image, c-major then taps
