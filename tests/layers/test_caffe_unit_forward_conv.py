"""Caffe's own forward checks for Convolution, Deconvolution, Im2col and InnerProduct
(src/caffe/test/test_*_layer.cpp).

Caffe fills its bottoms and weights with seeded Gaussian fillers we cannot reproduce: each case keeps
the test's parameters and blob shapes, draws its own seeded NumPy values and checks the rule the test
checks (its ``caffe_conv`` reference loops, its constant-input overlap counts, its im2col block rule).
"""

from __future__ import annotations

import numpy as np
import pytest
from layerkit import run
from test_convolution import naive_conv

RNG = np.random.default_rng(1701)


def layer(type_: str, params: str, x: np.ndarray, blobs: list[np.ndarray]) -> np.ndarray:
    (top,) = run(f'name: "c" type: "{type_}" bottom: "x" top: "y" convolution_param {{ {params} }}', x,
                 blobs=blobs)
    return top


# test_convolution_layer.cpp: each case against caffe_conv (explicit loops over input, output, filters),
# run on both of the fixture's bottoms as the test does; bias "constant 0.1" or "gaussian" as it states
@pytest.mark.parametrize(("params", "shape", "kernel", "stride", "dilation", "group", "bias"), [
    pytest.param("num_output: 4 kernel_size: 3 stride: 2", (2, 3, 6, 4), (3, 3), (2, 2), (1, 1), 1, 0.1,
                 id="TestSimpleConvolution"),
    pytest.param("num_output: 4 kernel_size: 3 dilation: 2", (2, 3, 8, 7), (3, 3), (1, 1), (2, 2), 1, 0.1,
                 id="TestDilatedConvolution"),
    pytest.param("num_output: 4 kernel_size: 3 stride: 2", (2, 3, 5, 6, 4), (3, 3, 3), (2, 2, 2), (1, 1, 1), 1,
                 None, id="TestSimple3DConvolution"),
    pytest.param("num_output: 4 kernel_size: 3 dilation: 2", (2, 3, 6, 7, 8), (3, 3, 3), (1, 1, 1), (2, 2, 2), 1,
                 None, id="TestDilated3DConvolution"),
    pytest.param("num_output: 4 kernel_size: 1 stride: 1", (2, 3, 6, 4), (1, 1), (1, 1), (1, 1), 1, 0.1,
                 id="Test1x1Convolution"),
    pytest.param("num_output: 3 kernel_size: 3 stride: 2 group: 3", (2, 3, 6, 4), (3, 3), (2, 2), (1, 1), 3, 0.1,
                 id="TestSimpleConvolutionGroup"),
])
def test_convolution_against_caffe_conv(params: str, shape: tuple[int, ...], kernel: tuple[int, ...],
                                        stride: tuple[int, ...], dilation: tuple[int, ...], group: int,
                                        bias: float | None) -> None:
    num_output = int(params.split()[1])
    w = RNG.standard_normal((num_output, shape[1] // group, *kernel))
    b = RNG.standard_normal(num_output) if bias is None else np.full(num_output, bias)
    for _ in range(2):  # blob_bottom_ and blob_bottom_2_
        x = RNG.standard_normal(shape)
        want = naive_conv(x, w, b, stride, (0,) * len(kernel), dilation, group)
        np.testing.assert_allclose(layer("Convolution", params, x, [w, b]), want, atol=1e-4)


def test_0d_convolution_is_an_inner_product_over_axis_3() -> None:
    """Test0DConvolution: axis 3, no kernel: top[..., d] = bias[d] + sum_b weight[d, b] * bottom[..., b]."""
    x = RNG.standard_normal((2, 3, 6, 4))
    w, b = RNG.standard_normal((3, 4)), RNG.standard_normal(3)
    top = layer("Convolution", "num_output: 3 axis: 3", x, [w, b])
    assert top.shape == (2, 3, 6, 3)
    np.testing.assert_allclose(top, x @ w.T + b, atol=1e-4)


def test_sobel_equals_its_separable_filters() -> None:
    """TestSobelConvolution: the 3x3 Sobel G_x (stride 2) = the [1 2 1] column (stride_h 2) then [-1 0 1] row
    (stride_w 2) filters, all bias-free, on a 2x3x6x4 Gaussian bottom (the filler's value 1 is a no-op)."""
    x = RNG.standard_normal((2, 3, 6, 4))
    sobel = np.tile(np.array([[-1, 0, 1], [-2, 0, 2], [-1, 0, 1]], np.float32), (1, 3, 1, 1))
    full = layer("Convolution", "num_output: 1 kernel_size: 3 stride: 2 bias_term: false", x, [sobel])
    column = layer("Convolution", "num_output: 1 kernel_h: 3 kernel_w: 1 stride_h: 2 stride_w: 1 bias_term: false",
                   x, [np.tile(np.array([1, 2, 1], np.float32).reshape(1, 1, 3, 1), (1, 3, 1, 1))])
    sep = layer("Convolution", "num_output: 1 kernel_h: 1 kernel_w: 3 stride_h: 1 stride_w: 2 bias_term: false",
                column, [np.array([-1, 0, 1], np.float32).reshape(1, 1, 1, 3)])
    assert full.shape == sep.shape == (2, 1, 2, 1)
    np.testing.assert_allclose(full, sep, atol=1e-4)


def test_simple_deconvolution_overlap_counts() -> None:
    """test_deconvolution_layer.cpp TestSimpleDeconvolution: 2x3x6x4 ones, kernel 3, stride 2, 4 outputs,
    weights 1, bias 0.1: every output is 3.1, +3 where rows or columns overlap (even, inside), +9 where both."""
    x = np.ones((2, 3, 6, 4))
    top = layer("Deconvolution", "num_output: 4 kernel_size: 3 stride: 2", x, [np.ones((3, 4, 3, 3)), np.full(4, 0.1)])
    assert top.shape == (2, 4, 13, 9)
    h_overlap = np.array([h % 2 == 0 and 0 < h < 12 for h in range(13)])
    w_overlap = np.array([w % 2 == 0 and 0 < w < 8 for w in range(9)])
    hw, ww = np.meshgrid(h_overlap, w_overlap, indexing="ij")
    want = 3.1 + np.where(hw & ww, 9, np.where(hw | ww, 3, 0))
    np.testing.assert_allclose(top, np.broadcast_to(want, top.shape), atol=1e-4)


# test_im2col_layer.cpp: "only the top left block": top(0, c, 0, 0) = bottom(0, c / (kh*kw), tap row, tap col)
@pytest.mark.parametrize(("params", "shape", "kernel", "dilation"), [
    pytest.param("kernel_size: 3 stride: 2", (2, 3, 6, 5), (3, 3), 1, id="TestForward"),
    pytest.param("kernel_h: 5 kernel_w: 3 stride: 2", (2, 3, 6, 5), (5, 3), 1, id="TestRect"),
    # TestDilatedGradient's parameters (it checks only gradients): the same block rule, taps 3 apart
    pytest.param("kernel_size: 3 stride: 2 dilation: 3", (2, 3, 10, 9), (3, 3), 3, id="TestDilatedGradient-shape"),
])
def test_im2col_top_left_block(params: str, shape: tuple[int, ...], kernel: tuple[int, int], dilation: int) -> None:
    x = RNG.standard_normal(shape).astype(np.float32)
    (top,) = run(f'name: "i" type: "Im2col" bottom: "x" top: "y" convolution_param {{ {params} }}', x)
    kh, kw = kernel
    for c in range(shape[1] * kh * kw):
        want = x[0, c // (kh * kw), dilation * ((c // kw) % kh), dilation * (c % kw)]
        assert top[0, c, 0, 0] == want


# test_inner_product_layer.cpp: uniform [0, 1] bottoms and weights, biases uniform [1, 2], 10 outputs
@pytest.mark.parametrize("shape", [pytest.param((2, 3, 4, 5), id="TestForward"),
                                   pytest.param((1, 2, 3, 4), id="TestForwardNoBatch")])
def test_inner_product_of_non_negatives_is_at_least_the_bias(shape: tuple[int, ...]) -> None:
    x = RNG.uniform(0, 1, shape)
    w, b = RNG.uniform(0, 1, (10, int(np.prod(shape[1:])))), RNG.uniform(1, 2, 10)
    (top,) = run('name: "ip" type: "InnerProduct" bottom: "x" top: "y" inner_product_param { num_output: 10 }',
                 x, blobs=[w, b])
    assert top.shape == (shape[0], 10) and (top >= 1).all()


def test_inner_product_transpose_with_the_transposed_weights() -> None:
    """TestForwardTranspose: transpose: true with the (10, 60) weights stored transposed gives the same top
    (EXPECT_FLOAT_EQ)."""
    x = RNG.uniform(0, 1, (2, 3, 4, 5))
    w, b = RNG.uniform(0, 1, (10, 60)), RNG.uniform(1, 2, 10)
    text = 'name: "ip" type: "InnerProduct" bottom: "x" top: "y" inner_product_param {{ num_output: 10 {} }}'
    (plain,) = run(text.format(""), x, blobs=[w, b])
    (transposed,) = run(text.format("transpose: true"), x, blobs=[w.T.copy(), b])
    np.testing.assert_array_max_ulp(transposed, plain, maxulp=4)
