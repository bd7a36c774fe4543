"""Convolution / DepthwiseConvolution / Deconvolution: hand-worked shape, blob and count cases."""

from __future__ import annotations

import pytest
from google.protobuf import text_format

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
