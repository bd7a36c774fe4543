"""Convolution / DepthwiseConvolution / Deconvolution: hand-worked shape, blob and count cases."""

from __future__ import annotations

import itertools

import numpy as np
import pytest
from google.protobuf import text_format
from layerkit import run

from caffecx.errors import ShapeError
from caffecx.layers import Context, Counts, Window, layer_class
from caffecx.proto import caffe_pb2


def make(text: str):  # noqa: ANN201
    lp = text_format.Parse(text, caffe_pb2.LayerParameter())
    return layer_class(lp.type)(lp)


def conv(params: str, type_: str = "Convolution", tops: int = 1):  # noqa: ANN201
    top = " ".join(f'top: "t{i}"' for i in range(tops))
    return make(f'name: "c" type: "{type_}" {top} convolution_param {{ {params} }}')


def test_asymmetric_kernel_stride_pad_like_layers_1_conv1() -> None:
    c = conv("num_output: 8 kernel_h: 3 kernel_w: 5 stride_h: 1 stride_w: 2 pad_h: 1 pad_w: 2")
    assert c.setup([(3, 4, 20, 18)], Context()) == [(3, 8, 20, 9)]
    assert [b.shape for b in c.param_shapes([(3, 4, 20, 18)])] == [(8, 4, 3, 5), (8,)]
    macs = 3 * 8 * 20 * 9 * 4 * 15
    assert c.counts([(3, 4, 20, 18)], [(3, 8, 20, 9)]) == Counts(macs, 2 * macs + 3 * 8 * 20 * 9)
    assert c.window([(3, 4, 20, 18)]) == Window((3, 5), (1, 2), (1, 2), (1, 1))


def test_group_convolution_weights_and_macs() -> None:
    c = conv("num_output: 8 kernel_size: 3 pad: 1 group: 2 bias_term: false")
    assert c.setup([(3, 8, 10, 5)], Context()) == [(3, 8, 10, 5)]
    assert [b.shape for b in c.param_shapes([(3, 8, 10, 5)])] == [(8, 4, 3, 3)]
    macs = 3 * 8 * 50 * 4 * 9
    assert c.counts([(3, 8, 10, 5)], [(3, 8, 10, 5)]) == Counts(macs, 2 * macs)


def test_depthwise_alias_reads_convolution_param() -> None:
    c = conv("num_output: 32 kernel_size: 3 stride: 2 pad: 1 group: 32", type_="DepthwiseConvolution")
    assert c.setup([(1, 32, 112, 112)], Context()) == [(1, 32, 56, 56)]
    assert [b.shape for b in c.param_shapes([(1, 32, 112, 112)])] == [(32, 1, 3, 3), (32,)]


def test_dilation_enlarges_the_kernel_extent() -> None:
    c = conv("num_output: 4 kernel_size: 3 dilation: 2")
    assert c.setup([(1, 2, 33, 33)], Context()) == [(1, 4, 29, 29)]  # extent 5
    assert c.window([(1, 2, 33, 33)]).dilation == (2, 2)
    c = conv("num_output: 4 kernel_size: 3 dilation: 6 pad: 6")  # DeepLab ASPP keeps the size
    assert c.setup([(1, 2, 65, 65)], Context()) == [(1, 4, 65, 65)]


def test_nd_convolution_with_a_3d_kernel_and_per_axis_values() -> None:
    c = conv(
        "num_output: 16 kernel_size: 3 kernel_size: 3 kernel_size: 3 stride: 1 stride: 2 stride: 2 pad: 1"
    )
    assert c.setup([(2, 3, 8, 32, 32)], Context()) == [(2, 16, 8, 16, 16)]
    assert [b.shape for b in c.param_shapes([(2, 3, 8, 32, 32)])] == [(16, 3, 3, 3, 3), (16,)]
    macs = 2 * 16 * (8 * 16 * 16) * 3 * 27
    assert c.counts([(2, 3, 8, 32, 32)], [(2, 16, 8, 16, 16)]).macs == macs


def test_axis_moves_the_channel_axis() -> None:
    c = conv("num_output: 5 kernel_size: 3 axis: 2")
    # (A, B, C, H, W): channel axis 2, num = A*B
    assert c.setup([(2, 3, 4, 7, 7)], Context()) == [(2, 3, 5, 5, 5)]
    assert c.counts([(2, 3, 4, 7, 7)], [(2, 3, 5, 5, 5)]).macs == 6 * 5 * 25 * 4 * 9


def test_truncating_division_gives_one_output_for_a_window_one_larger() -> None:
    assert conv("num_output: 1 kernel_size: 3 stride: 2").setup([(1, 1, 2, 2)], Context()) == [(1, 1, 1, 1)]


def test_several_bottoms_share_the_weights() -> None:
    c = conv("num_output: 2 kernel_size: 1", tops=2)
    assert c.setup([(1, 3, 4, 4), (1, 3, 4, 4)], Context()) == [(1, 2, 4, 4)] * 2
    assert c.counts([(1, 3, 4, 4)] * 2, [(1, 2, 4, 4)] * 2).macs == 2 * (2 * 16 * 3)
    with pytest.raises(ShapeError, match="All inputs must have the same shape"):
        c.setup([(1, 3, 4, 4), (1, 3, 5, 4)], Context())
    with pytest.raises(ShapeError, match="one top blob as output for each bottom"):
        c.setup([(1, 3, 4, 4)], Context())


@pytest.mark.parametrize(
    ("params", "bottom", "message"),
    [
        ("num_output: 6 kernel_size: 3 group: 4", (1, 8, 5, 5), "multiples of group"),
        ("num_output: 8 kernel_size: 3 group: 3", (1, 8, 5, 5), "channels_ % group_"),
        ("kernel_size: 3", (1, 8, 5, 5), "num_output_ > 0"),
        ("num_output: 1 kernel_size: 3 kernel_h: 3 kernel_w: 3", (1, 1, 5, 5), "not both"),
        ("num_output: 1 kernel_h: 3 kernel_w: 3", (1, 1, 5, 5, 5), "only be used for 2D"),
        (
            "num_output: 1 kernel_size: 3 kernel_size: 3",
            (1, 1, 5, 5, 5),
            "kernel_size specified 2 times; 3 spatial",
        ),
        ("num_output: 1", (1, 1, 5, 5), "kernel_size must be specified"),
        ("num_output: 1 kernel_size: 0", (1, 1, 5, 5), "Filter dimensions must be nonzero"),
        ("num_output: 1 kernel_size: 3 stride: 0", (1, 1, 5, 5), "Stride dimensions must be nonzero"),
        ("num_output: 1 kernel_size: 3 pad: 1 pad_h: 1", (1, 1, 5, 5), "Either pad or pad_h/w"),
        ("num_output: 1 kernel_size: 7", (1, 1, 3, 3), "negative"),
    ],
)
def test_caffe_checks(params: str, bottom: tuple[int, ...], message: str) -> None:
    with pytest.raises(ShapeError, match=message) as err:
        conv(params).setup([bottom], Context())
    assert err.value.location.layer == "c"


def test_deconvolution_shape_weights_and_scatter_macs() -> None:
    d = conv("num_output: 4 kernel_size: 2 stride: 2", type_="Deconvolution")
    assert d.setup([(3, 8, 10, 5)], Context()) == [(3, 4, 20, 10)]  # layers_1 deconv
    assert [b.shape for b in d.param_shapes([(3, 8, 10, 5)])] == [(8, 4, 2, 2), (4,)]
    macs = 3 * 8 * 50 * 4 * 4
    assert d.counts([(3, 8, 10, 5)], [(3, 4, 20, 10)]) == Counts(macs, 2 * macs + 3 * 4 * 200)
    assert d.window([(3, 8, 10, 5)]).transposed


def test_grouped_fcn_style_deconvolution() -> None:
    d = conv(
        "num_output: 21 kernel_size: 4 stride: 2 pad: 1 group: 21 bias_term: false", type_="Deconvolution"
    )
    assert d.setup([(1, 21, 16, 16)], Context()) == [(1, 21, 32, 32)]
    assert [b.shape for b in d.param_shapes([(1, 21, 16, 16)])] == [(21, 1, 4, 4)]


# -- forward ------------------------------------------------------------------------------------------


def naive_conv(x: np.ndarray, w: np.ndarray, b: np.ndarray | None, stride: tuple[int, ...],
               pad: tuple[int, ...], dilation: tuple[int, ...], group: int) -> np.ndarray:
    """Straight from Caffe's definition: every output = sum over its group's inputs and kernel taps at
    ``o*stride - pad + t*dilation`` inside the image (outside = 0), plus bias. float64."""
    num, channels, *spatial = x.shape
    c_out, cg, *kernel = w.shape
    out = [(s + 2 * p - (d * (k - 1) + 1)) // st + 1
           for s, p, d, k, st in zip(spatial, pad, dilation, kernel, stride, strict=True)]
    y = np.zeros((num, c_out, *out))
    og = c_out // group
    for n, co in itertools.product(range(num), range(c_out)):
        g = co // og
        for pos in itertools.product(*(range(o) for o in out)):
            acc = 0.0 if b is None else float(b[co])
            for ci, taps in itertools.product(range(cg), itertools.product(*(range(k) for k in kernel))):
                src = [o * st - p + t * d for o, st, p, t, d in zip(pos, stride, pad, taps, dilation, strict=True)]
                if all(0 <= s_ < size for s_, size in zip(src, spatial, strict=True)):
                    acc += float(x[(n, g * cg + ci, *src)]) * float(w[(co, ci, *taps)])
            y[(n, co, *pos)] = acc
    return y


def conv_run(params: str, x: np.ndarray, blobs: list[np.ndarray], type_: str = "Convolution",
             dtype: type = np.float32) -> np.ndarray:
    (top,) = run(f'name: "c" type: "{type_}" bottom: "x" top: "y" convolution_param {{ {params} }}', x,
                 blobs=blobs, dtype=dtype)
    return top


RNG = np.random.default_rng(7)


@pytest.mark.parametrize(("params", "shape", "wshape", "stride", "pad", "dil", "group"), [
    ("num_output: 4 kernel_size: 3 pad: 1 group: 2", (2, 6, 5, 4), (4, 3, 3, 3), (1, 1), (1, 1), (1, 1), 2),
    ("num_output: 3 kernel_h: 2 kernel_w: 3 stride_h: 2 stride_w: 1 pad_h: 0 pad_w: 2",
     (1, 2, 7, 5), (3, 2, 2, 3), (2, 1), (0, 2), (1, 1), 1),
    ("num_output: 4 kernel_size: 3 dilation: 2 pad: 2 stride: 2 group: 2", (1, 4, 9, 8), (4, 2, 3, 3),
     (2, 2), (2, 2), (2, 2), 2),
    ("num_output: 6 kernel_size: 1", (2, 4, 3, 3), (6, 4, 1, 1), (1, 1), (0, 0), (1, 1), 1),
    ("num_output: 6 kernel_size: 1 group: 2", (1, 4, 3, 2), (6, 2, 1, 1), (1, 1), (0, 0), (1, 1), 2),
    ("num_output: 4 kernel_size: 1 stride: 2 pad: 1", (1, 3, 4, 5), (4, 3, 1, 1), (2, 2), (1, 1), (1, 1), 1),
    # depthwise (group = channels = num_output): every stride reads phase planes of the padded input
    ("num_output: 5 group: 5 kernel_size: 3 pad: 1", (2, 5, 6, 7), (5, 1, 3, 3), (1, 1), (1, 1), (1, 1), 5),
    ("num_output: 5 group: 5 kernel_size: 3 pad: 2 dilation: 2", (1, 5, 6, 5), (5, 1, 3, 3), (1, 1), (2, 2),
     (2, 2), 5),
    ("num_output: 3 group: 3 kernel_size: 3 stride: 2 pad: 1", (1, 3, 7, 6), (3, 1, 3, 3), (2, 2), (1, 1),
     (1, 1), 3),
    ("num_output: 4 group: 4 kernel_size: 3 stride: 3 dilation: 2 pad: 1", (1, 4, 10, 9), (4, 1, 3, 3), (3, 3),
     (1, 1), (2, 2), 4),
    ("num_output: 2 group: 2 kernel_h: 3 kernel_w: 2 stride_h: 2 stride_w: 1 pad_h: 0 pad_w: 1", (2, 2, 8, 5),
     (2, 1, 3, 2), (2, 1), (0, 1), (1, 1), 2),
    ("num_output: 3 group: 3 kernel_size: 4 stride: 3", (1, 3, 8, 8), (3, 1, 4, 4), (3, 3), (0, 0), (1, 1), 3),
    # channel multiplier 2 (group = channels < num_output): the grouped GEMM path
    ("num_output: 6 group: 3 kernel_size: 2", (1, 3, 4, 4), (6, 1, 2, 2), (1, 1), (0, 0), (1, 1), 3),
])
def test_conv_forward_matches_a_naive_loop(params: str, shape: tuple[int, ...], wshape: tuple[int, ...],
                                           stride: tuple[int, ...], pad: tuple[int, ...],
                                           dil: tuple[int, ...], group: int) -> None:
    x = RNG.standard_normal(shape).astype(np.float32)
    w = RNG.standard_normal(wshape).astype(np.float32)
    b = RNG.standard_normal(wshape[0]).astype(np.float32)
    want = naive_conv(x, w, b, stride, pad, dil, group)
    got = conv_run(params, x, [w, b])
    assert got.dtype == np.float32
    np.testing.assert_allclose(got, want, rtol=1e-5, atol=1e-5)
    got64 = conv_run(params, x, [w, b], dtype=np.float64)
    assert got64.dtype == np.float64
    np.testing.assert_allclose(got64, want, rtol=1e-12, atol=1e-12)
    depthwise = conv_run(params, x, [w, b], type_="DepthwiseConvolution")
    np.testing.assert_array_equal(depthwise, got)


def test_conv_hand_worked_3x3_with_padding_and_no_bias() -> None:
    x = np.arange(9, dtype=np.float32).reshape(1, 1, 3, 3)
    w = np.ones((1, 1, 3, 3), dtype=np.float32)
    # a box sum with zero padding: corners see 4 pixels, edges 6, the centre all 9
    got = conv_run("num_output: 1 kernel_size: 3 pad: 1 bias_term: false", x, [w])
    assert got[0, 0].tolist() == [[8, 15, 12], [21, 36, 27], [20, 33, 24]]


def test_conv_window_past_the_padded_input_reads_zeros() -> None:
    # in 4, k 3, s 2, no pad: (4-3)/2+1 = 1 ... in 2 with k 3, pad 0: (2-3)/2 truncates to 0 -> 1 output
    x = np.array([[[[1, 2], [3, 4]]]], dtype=np.float32)
    w = np.ones((1, 1, 3, 3), dtype=np.float32)
    got = conv_run("num_output: 1 kernel_size: 3 stride: 2 bias_term: false", x, [w])
    assert got.shape == (1, 1, 1, 1) and got.item() == 10


def test_nd_conv_on_a_5d_blob() -> None:
    x = RNG.standard_normal((1, 2, 4, 5, 3)).astype(np.float32)
    w = RNG.standard_normal((3, 2, 2, 3, 2)).astype(np.float32)
    b = RNG.standard_normal(3).astype(np.float32)
    got = conv_run("num_output: 3 kernel_size: 2 kernel_size: 3 kernel_size: 2 pad: 1 stride: 2", x, [w, b])
    want = naive_conv(x, w, b, (2, 2, 2), (1, 1, 1), (1, 1, 1), 1)
    np.testing.assert_allclose(got, want, rtol=1e-5, atol=1e-5)


def test_axis_2_folds_the_leading_axes_into_the_batch() -> None:
    x = RNG.standard_normal((2, 3, 4, 5)).astype(np.float32)  # channels on axis 2, one spatial axis
    w = RNG.standard_normal((2, 4, 3)).astype(np.float32)
    got = conv_run("num_output: 2 kernel_size: 3 axis: 2 bias_term: false", x, [w])
    want = naive_conv(x.reshape(6, 4, 5), w, None, (1,), (0,), (1,), 1).reshape(2, 3, 2, 3)
    np.testing.assert_allclose(got, want, rtol=1e-5, atol=1e-5)


def test_several_bottoms_each_get_their_top_with_the_same_weights() -> None:
    x1 = RNG.standard_normal((1, 2, 4, 4)).astype(np.float32)
    x2 = RNG.standard_normal((1, 2, 4, 4)).astype(np.float32)
    w = RNG.standard_normal((3, 2, 3, 3)).astype(np.float32)
    b = RNG.standard_normal(3).astype(np.float32)
    y1, y2 = run('name: "c" type: "Convolution" bottom: "a" bottom: "b" top: "p" top: "q" '
                 'convolution_param { num_output: 3 kernel_size: 3 }', x1, x2, blobs=[w, b])
    np.testing.assert_allclose(y1, naive_conv(x1, w, b, (1, 1), (0, 0), (1, 1), 1), rtol=1e-5, atol=1e-5)
    np.testing.assert_allclose(y2, naive_conv(x2, w, b, (1, 1), (0, 0), (1, 1), 1), rtol=1e-5, atol=1e-5)


def test_param_shapes_carry_the_fillers() -> None:
    c = conv('num_output: 2 kernel_size: 1 weight_filler { type: "xavier" } '
             'bias_filler { type: "constant" value: 0.5 }')
    weight, bias = c.param_shapes([(1, 3, 4, 4)])
    assert weight.filler.type == "xavier" and bias.filler.value == 0.5


def test_a_batch_is_convolved_image_by_image_as_each_image_alone() -> None:
    x = RNG.standard_normal((5, 4, 6, 6)).astype(np.float32)
    w = RNG.standard_normal((6, 2, 3, 3)).astype(np.float32)
    whole = conv_run("num_output: 6 kernel_size: 3 group: 2 bias_term: false", x, [w])
    alone = [conv_run("num_output: 6 kernel_size: 3 group: 2 bias_term: false", x[i : i + 1], [w]) for i in range(5)]
    np.testing.assert_array_equal(whole, np.concatenate(alone))
    np.testing.assert_allclose(whole, naive_conv(x, w, None, (1, 1), (0, 0), (1, 1), 2), rtol=1e-5, atol=1e-5)
