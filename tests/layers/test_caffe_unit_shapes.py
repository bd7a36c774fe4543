"""Caffe's own layer unit tests (BVLC caffe, src/caffe/test/test_*_layer.cpp) as set-up ground truth.

Each case is one Caffe test's facts: the layer parameters, its fixture's bottom shapes and the top
shapes (and learnable-blob shapes) its EXPECT_EQs state; the id names the Caffe file and test. Forward and
gradient tests that EXPECT no shape (TestForwardNoBatch, TestGradient3D, TestNDAgainst2D, the loss and
recurrent fixtures) give the shape Caffe's Reshape computes for their set-up, written out. Caffe's
``num()/channels()/height()/width()`` read 1 past a blob's last axis, so an EXPECT of ``height() == 1``
on a 2-axis top is stated here as the real 2-axis shape (SPP, InnerProduct), and a 0-axis loss or
accuracy top as ``()``. Cases already in the per-layer test files with the same numbers are left out
(test_reshape.py, test_flatten.py, test_pooling.py, test_slice.py hold theirs), and so are the shapes the
forward ports (test_caffe_unit_forward_*.py) already assert (Caffe forward tests of the same numbers).
"""

from __future__ import annotations

import pytest
from layerkit import make, tops

Shape = tuple[int, ...]


def layer(type_: str, params: str = "", bottoms: int = 1, tops_: int = 1) -> str:
    """LayerParameter text for a layer of `type_` with numbered bottoms/tops and these extra fields."""
    b = " ".join(f'bottom: "b{i}"' for i in range(bottoms))
    t = " ".join(f'top: "t{i}"' for i in range(tops_))
    return f'name: "l" type: "{type_}" {b} {t} {params}'


def conv(params: str, type_: str = "Convolution", n: int = 1) -> str:
    return layer(type_, f"convolution_param {{ {params} }}", n, n)


def case(file: str, test: str, text: str, bottoms: list[Shape], want: list[Shape]) -> object:
    return pytest.param(text, bottoms, want, id=f"{file}:{test}")


# The fixtures' bottoms, as each test file's constructor / SetUp() shapes them.
CONV_B = (2, 3, 6, 4)          # ConvolutionLayerTest, DeconvolutionLayerTest
CONCAT_0, CONCAT_1 = (2, 3, 6, 5), (2, 5, 6, 5)  # ConcatLayerTest
CROP_0, CROP_1 = (2, 4, 5, 4), (2, 3, 4, 2)  # CropLayerTest
B2345 = (2, 3, 4, 5)           # TileLayerTest, ReductionLayerTest, BiasLayerTest, ScaleLayerTest, NeuronLayerTest
ARGMAX_B = (10, 10, 20, 20)    # ArgMaxLayerTest

SHAPES = [
    # test_spp_layer.cpp: channels = C * (4**h - 1) / 3 bins, flattened to 2 axes
    case("test_spp_layer.cpp", "TestSetup", layer("SPP", "spp_param { pyramid_height: 3 }"), [(2, 3, 9, 8)], [(2, 63)]),
    case("test_spp_layer.cpp", "TestEqualOutputDims",
         layer("SPP", "spp_param { pyramid_height: 5 }"), [(4, 3, 1024, 765)], [(4, 1023)]),
    case("test_spp_layer.cpp", "TestEqualOutputDims2",
         layer("SPP", "spp_param { pyramid_height: 3 }"), [(10, 3, 7, 7)], [(10, 63)]),
    # test_convolution_layer.cpp: TestSetup EXPECTs, two bottoms, then group 3 "should not change the shape"
    case("test_convolution_layer.cpp", "TestSetup",
         conv("num_output: 4 kernel_size: 3 stride: 2", n=2), [CONV_B, CONV_B], [(2, 4, 2, 1)] * 2),
    case("test_convolution_layer.cpp", "TestSetup-group",
         conv("num_output: 3 kernel_size: 3 stride: 2 group: 3", n=2), [CONV_B, CONV_B], [(2, 3, 2, 1)] * 2),
    # TestNDAgainst2D's layer (it compares the 2-D and N-D im2col paths on the top it sets up);
    # out = (in + 2 pad - (dilation (kernel - 1) + 1)) / stride + 1
    case("test_convolution_layer.cpp", "TestNDAgainst2D",
         conv("num_output: 12 bias_term: false group: 6 kernel_h: 11 kernel_w: 13"), [(15, 18, 22, 26)],
         [(15, 12, 12, 14)]),
    case("test_convolution_layer.cpp", "TestNDAgainst2D-force_nd_im2col",
         conv("num_output: 12 bias_term: false group: 6 kernel_h: 11 kernel_w: 13 force_nd_im2col: true"),
         [(15, 18, 22, 26)], [(15, 12, 12, 14)]),
    # test_deconvolution_layer.cpp: out = stride (in - 1) + kernel - 2 pad
    case("test_deconvolution_layer.cpp", "TestSetup",
         conv("num_output: 4 kernel_size: 3 stride: 2", "Deconvolution", 2), [CONV_B, CONV_B], [(2, 4, 13, 9)] * 2),
    case("test_deconvolution_layer.cpp", "TestSetup-group",
         conv("num_output: 3 kernel_size: 3 stride: 2 group: 3", "Deconvolution", 2), [CONV_B, CONV_B],
         [(2, 3, 13, 9)] * 2),
    case("test_deconvolution_layer.cpp", "TestNDAgainst2D",
         conv("num_output: 18 bias_term: false group: 6 kernel_h: 11 kernel_w: 13", "Deconvolution"),
         [(15, 12, 22, 26)], [(15, 18, 32, 38)]),
    case("test_deconvolution_layer.cpp", "TestGradient3D",
         conv("num_output: 2 kernel_size: 2 stride: 2 pad: 1", "Deconvolution"), [(2, 3, 2, 3, 2)],
         [(2, 2, 2, 4, 2)]),
    # test_im2col_layer.cpp
    case("test_im2col_layer.cpp", "TestSetup",
         conv("kernel_size: 3 stride: 2 dilation: 3", "Im2col"), [(2, 3, 10, 11)], [(2, 27, 2, 3)]),
    case("test_im2col_layer.cpp", "TestForward",
         conv("kernel_size: 3 stride: 2", "Im2col"), [(2, 3, 6, 5)], [(2, 27, 2, 2)]),
    case("test_im2col_layer.cpp", "TestRect",
         conv("kernel_h: 5 kernel_w: 3 stride: 2", "Im2col"), [(2, 3, 6, 5)], [(2, 45, 1, 2)]),
    # test_inner_product_layer.cpp: 2-axis tops (num, num_output)
    case("test_inner_product_layer.cpp", "TestSetUp",
         layer("InnerProduct", "inner_product_param { num_output: 10 }"), [(2, 3, 4, 5)], [(2, 10)]),
    case("test_inner_product_layer.cpp", "TestSetUpTransposeFalse",
         layer("InnerProduct", "inner_product_param { num_output: 10 transpose: false }"), [(2, 3, 4, 5)],
         [(2, 10)]),
    case("test_inner_product_layer.cpp", "TestSetUpTransposeTrue",
         layer("InnerProduct", "inner_product_param { num_output: 10 transpose: true }"), [(2, 3, 4, 5)],
         [(2, 10)]),
    case("test_inner_product_layer.cpp", "TestForwardNoBatch",
         layer("InnerProduct", "inner_product_param { num_output: 10 }"), [(1, 2, 3, 4)], [(1, 10)]),
    # test_accuracy_layer.cpp (TestSetup itself is in test_accuracy.py)
    case("test_accuracy_layer.cpp", "TestSetupTopK",
         layer("Accuracy", "accuracy_param { top_k: 5 }", 2), [(100, 10), (100,)], [()]),
    case("test_accuracy_layer.cpp", "TestForwardWithSpatialAxes",
         layer("Accuracy", "accuracy_param { axis: 1 }", 2), [(2, 10, 4, 5), (2, 4, 5)], [()]),
    # test_argmax_layer.cpp: with an axis, that axis becomes top_k
    case("test_argmax_layer.cpp", "TestSetupAxisNegativeIndexing",
         layer("ArgMax", "argmax_param { axis: -2 }"), [ARGMAX_B], [(10, 10, 1, 20)]),
    case("test_argmax_layer.cpp", "TestSetupAxisMaxVal",
         layer("ArgMax", "argmax_param { axis: 2 out_max_val: true }"), [ARGMAX_B], [(10, 10, 1, 20)]),
    # test_slice_layer.cpp (TestSetupNum is in test_slice.py)
    case("test_slice_layer.cpp", "TestSetupChannels",
         layer("Slice", "slice_param { slice_point: 3 }", 1, 2), [(6, 12, 2, 3)], [(6, 3, 2, 3), (6, 9, 2, 3)]),
    # test_concat_layer.cpp (Caffe's test sets axis -3 after building the layer; -3 is the case it names)
    case("test_concat_layer.cpp", "TestSetupChannelsNegativeIndexing",
         layer("Concat", "concat_param { axis: -3 }", 2), [CONCAT_0, CONCAT_1], [(2, 8, 6, 5)]),
    # test_crop_layer.cpp: axes from `axis` on take the second bottom's sizes
    case("test_crop_layer.cpp", "TestSetupShapeDefault", layer("Crop", "", 2), [CROP_0, CROP_1], [(2, 4, 4, 2)]),
    case("test_crop_layer.cpp", "TestSetupShapeNegativeIndexing",
         layer("Crop", "crop_param { axis: -1 }", 2), [CROP_0, CROP_1], [(2, 4, 5, 2)]),
    case("test_crop_layer.cpp", "TestDimensionsCheck", layer("Crop", "", 2), [CROP_0, (2, 5, 4, 2)], [(2, 4, 4, 2)]),
    # test_tile_layer.cpp: TestTrivialSetup (tiles 1) on every axis, TestSetup (tiles 3) on axes 2 and 3
    *[case("test_tile_layer.cpp", f"{name}-axis{a}", layer("Tile", f"tile_param {{ axis: {a} tiles: {k} }}"),
           [B2345], [tuple(d * (k if i == a else 1) for i, d in enumerate(B2345))])
      for name, k, axes in (("TestTrivialSetup", 1, range(4)), ("TestSetup", 3, (2, 3))) for a in axes],
    # test_reduction_layer.cpp: the axes before `axis` remain
    case("test_reduction_layer.cpp", "TestSetUpWithAxis2",
         layer("Reduction", "reduction_param { axis: 2 }"), [B2345], [(2, 3)]),
    # test_split_layer.cpp
    case("test_split_layer.cpp", "SplitLayerTest.TestSetup", layer("Split", "", 1, 2), [(2, 3, 6, 5)],
         [(2, 3, 6, 5)] * 2),
    # the loss tests' fixtures: a 0-axis loss top; InfogainLoss's second top is the softmax output
    case("test_infogain_loss_layer.cpp", "TestInfogainLoss",
         layer("InfogainLoss", "loss_weight: 1 loss_weight: 0 infogain_loss_param { axis: 2 }", 3, 2),
         [(4, 2, 5, 2), (4, 2, 1, 2), (1, 1, 5, 5)], [(), (4, 2, 5, 2)]),
    case("test_sigmoid_cross_entropy_loss_layer.cpp", "TestSigmoidCrossEntropyLoss",
         layer("SigmoidCrossEntropyLoss", "", 2), [(10, 5, 1, 1), (10, 5, 1, 1)], [()]),
    case("test_softmax_with_loss_layer.cpp", "TestForwardIgnoreLabel",
         layer("SoftmaxWithLoss", "loss_param { normalize: false ignore_label: 0 }", 2), [(10, 5, 2, 3), (10, 1, 2, 3)],
         [()]),
    case("test_euclidean_loss_layer.cpp", "TestForward",
         layer("EuclideanLoss", "", 2), [(10, 5, 1, 1), (10, 5, 1, 1)], [()]),
    *[case("test_hinge_loss_layer.cpp", test, layer("HingeLoss", p, 2), [(10, 5, 1, 1), (10, 1, 1, 1)], [()])
      for test, p in (("TestGradientL1", ""), ("TestGradientL2", "hinge_loss_param { norm: L2 }"))],
    *[case("test_contrastive_loss_layer.cpp", test, layer("ContrastiveLoss", p, 3),
           [(512, 2, 1, 1), (512, 2, 1, 1), (512, 1, 1, 1)], [()])
      for test, p in (("TestForward", ""), ("TestForwardLegacy", "contrastive_loss_param { legacy_version: true }"))],
    case("test_multinomial_logistic_loss_layer.cpp", "TestGradientCPU",
         layer("MultinomialLogisticLoss", "", 2), [(10, 5, 1, 1), (10, 1, 1, 1)], [()]),
    # test_lstm_layer.cpp / test_rnn_layer.cpp: (T, N, num_output) for T x N x 3 x 2 inputs
    *[case(f"test_{t.lower()}_layer.cpp", f"{test}-T{tn[0]}-N{tn[1]}", layer(t, "recurrent_param { num_output: 7 }", 2),
           [(*tn, 3, 2), tn], [(*tn, 7)])
      for t in ("LSTM", "RNN")
      for test, tn in (("TestSetUp", (1, 3)), ("TestForward", (3, 3)), ("TestGradientNonZeroContBufferSize2", (2, 2)))],
    *[case(f"test_{t.lower()}_layer.cpp", "TestGradientNonZeroContBufferSize2WithStaticInput",
           layer(t, "recurrent_param { num_output: 7 }", 3), [(2, 2, 3, 2), (2, 2), (2, 2, 3, 4)], [(2, 2, 7)])
      for t in ("LSTM", "RNN")],
    case("test_lstm_layer.cpp", "TestLSTMUnitSetUp", layer("LSTMUnit", "", 3, 2), [(1, 3, 7), (1, 3, 28), (1, 3)],
         [(1, 3, 7)] * 2),
    # test_batch_norm_layer.cpp
    case("test_batch_norm_layer.cpp", "TestForward", layer("BatchNorm"), [(5, 2, 3, 4)], [(5, 2, 3, 4)]),
]


@pytest.mark.parametrize(("text", "bottoms", "want"), SHAPES)
def test_top_shapes(text: str, bottoms: list[Shape], want: list[Shape]) -> None:
    assert tops(text, *bottoms) == want


def blobs(text: str, *bottoms: Shape) -> list[Shape]:
    return [b.shape for b in make(text).param_shapes([tuple(b) for b in bottoms])]


BLOBS = [
    # test_convolution_layer.cpp / test_deconvolution_layer.cpp: ASSERT_EQ(1, layer.blobs().size()) without a
    # bias; Deconvolution's weights are (C_in, num_output / group, kh, kw)
    pytest.param(conv("num_output: 12 bias_term: false group: 6 kernel_h: 11 kernel_w: 13"), [(15, 18, 22, 26)],
                 [(12, 3, 11, 13)], id="test_convolution_layer.cpp:TestNDAgainst2D"),
    pytest.param(conv("num_output: 18 bias_term: false group: 6 kernel_h: 11 kernel_w: 13", "Deconvolution"),
                 [(15, 12, 22, 26)], [(12, 3, 11, 13)], id="test_deconvolution_layer.cpp:TestNDAgainst2D"),
    # TestSobelConvolution sets blobs of these shapes by hand before SetUp
    pytest.param(conv("num_output: 1 bias_term: false kernel_size: 3 stride: 2"), [CONV_B], [(1, 3, 3, 3)],
                 id="test_convolution_layer.cpp:TestSobelConvolution-3x3"),
    pytest.param(conv("num_output: 1 bias_term: false kernel_h: 3 kernel_w: 1 stride_h: 2 stride_w: 1"), [CONV_B],
                 [(1, 3, 3, 1)], id="test_convolution_layer.cpp:TestSobelConvolution-3x1"),
    pytest.param(conv("num_output: 1 bias_term: false kernel_h: 1 kernel_w: 3 stride_h: 1 stride_w: 2"),
                 [(2, 1, 2, 4)], [(1, 1, 1, 3)], id="test_convolution_layer.cpp:TestSobelConvolution-1x3"),
    # Test0DConvolution reads weight->data_at(num_output d, channel bottom_d) and bias[d]
    pytest.param(conv("num_output: 3 axis: 3"), [CONV_B], [(3, 4), (3,)],
                 id="test_convolution_layer.cpp:Test0DConvolution"),
    # test_embed_layer.cpp: weights (input_dim, num_output), the bias (num_output)
    pytest.param(layer("Embed", "embed_param { num_output: 10 input_dim: 5 bias_term: false }"), [(4, 1, 1, 1)],
                 [(5, 10)], id="test_embed_layer.cpp:TestForward"),
    pytest.param(layer("Embed", "embed_param { num_output: 10 input_dim: 5 bias_term: true }"), [(4, 1, 1, 1)],
                 [(5, 10), (10,)], id="test_embed_layer.cpp:TestForwardWithBias"),
    # test_inner_product_layer.cpp: transpose stores the weights (K, N)
    pytest.param(layer("InnerProduct", "inner_product_param { num_output: 10 transpose: false }"), [(2, 3, 4, 5)],
                 [(10, 60), (10,)], id="test_inner_product_layer.cpp:TestSetUpTransposeFalse"),
    pytest.param(layer("InnerProduct", "inner_product_param { num_output: 10 transpose: true }"), [(2, 3, 4, 5)],
                 [(60, 10), (10,)], id="test_inner_product_layer.cpp:TestSetUpTransposeTrue"),
    # test_bias_layer.cpp / test_scale_layer.cpp with one bottom: the parameter spans axis..axis+num_axes
    *[pytest.param(layer(t, f"{t.lower()}_param {{ {p} }}"), [B2345], want, id=f"test_{t.lower()}_layer.cpp:{test}")
      for t, test, p, want in (
          ("Bias", "TestForwardEltwiseWithParam", "axis: 0 num_axes: -1", [B2345]),
          ("Bias", "TestForwardBroadcastMiddleWithParam", "axis: 1 num_axes: 2", [(3, 4)]),
          ("Scale", "TestForwardEltwiseWithParam", "axis: 0 num_axes: -1", [B2345]),
          ("Scale", "TestForwardBroadcastMiddleWithParam", "axis: 1 num_axes: 2", [(3, 4)]),
          ("Scale", "TestForwardBroadcastMiddleWithParamAndBias", "axis: 1 num_axes: 2 bias_term: true",
           [(3, 4), (3, 4)]),
      )],
    # test_batch_norm_layer.cpp: mean, variance (one per channel) and the moving-average factor
    pytest.param(layer("BatchNorm"), [(5, 2, 3, 4)], [(2,), (2,), (1,)], id="test_batch_norm_layer.cpp:TestForward"),
    # test_neuron_layer.cpp TestPReLUParam: one slope per channel
    pytest.param(layer("PReLU"), [B2345], [(3,)], id="test_neuron_layer.cpp:TestPReLUParam"),
]


@pytest.mark.parametrize(("text", "bottoms", "want"), BLOBS)
def test_learnable_blob_shapes(text: str, bottoms: list[Shape], want: list[Shape]) -> None:
    assert blobs(text, *bottoms) == want
