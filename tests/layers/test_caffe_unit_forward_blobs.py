"""Caffe's own forward checks for the layers that combine, select, reduce, place or make blobs
(src/caffe/test/test_<x>_layer.cpp for eltwise, filter, batch_reindex, embed, reduction, argmax,
accuracy, dummy_data, bias, scale, slice, concat, tile, crop, flatten and reshape).

Where Caffe fills a fixture with a seeded Gaussian/uniform filler we draw our own seeded NumPy values of
the same shape (and range) and check the rule the test states; literal inputs are used as given.
"""

from __future__ import annotations

import itertools

import numpy as np
import pytest
from layerkit import make, run

from caffecx.layers import Context, RunContext

RNG = np.random.default_rng(1701)


def gaussian(*shape: int) -> np.ndarray:
    return RNG.standard_normal(shape).astype(np.float32)


def uniform(*shape: int, low: float = 0.0, high: float = 1.0) -> np.ndarray:
    return RNG.uniform(low, high, shape).astype(np.float32)


def layer(type_: str, params: str, *bottoms: np.ndarray, tops: int = 1, **kw: object) -> list[np.ndarray]:
    names = " ".join(f'bottom: "b{i}"' for i in range(len(bottoms)))
    top = " ".join(f'top: "t{i}"' for i in range(tops))
    return run(f'name: "l" type: "{type_}" {names} {top} {params}', *bottoms, **kw)


# -- test_eltwise_layer.cpp: three 2x3x4x5 uniform [0, 1] bottoms ----------------------------------------
@pytest.mark.parametrize(("params", "rule", "exact"), [
    pytest.param("operation: PROD", lambda a, b, c: a * b * c, False, id="TestProd"),
    pytest.param("operation: SUM", lambda a, b, c: a + b + c, False, id="TestSum"),
    pytest.param("operation: SUM coeff: 1 coeff: -0.5 coeff: 2", lambda a, b, c: a - 0.5 * b + 2 * c, False,
                 id="TestSumCoeff"),
    pytest.param("operation: MAX", lambda a, b, c: np.maximum(a, np.maximum(b, c)), True, id="TestMax"),
])
def test_eltwise(params: str, rule, exact: bool) -> None:  # noqa: ANN001
    a, b, c = (uniform(2, 3, 4, 5) for _ in range(3))
    (top,) = layer("Eltwise", f"eltwise_param {{ {params} }}", a, b, c)
    if exact:
        np.testing.assert_array_equal(top, rule(a, b, c))
    else:
        np.testing.assert_allclose(top, rule(a, b, c), rtol=0, atol=1e-4)


def test_filter_keeps_the_selected_items() -> None:
    """test_filter_layer.cpp TestForward: selector 0 1 1 0 on 4x3x6x4 data and 4 labels (rand % 5): top n is
    bottom item 1 then 2, for both data and labels."""
    data, labels = gaussian(4, 3, 6, 4), RNG.integers(0, 5, (4, 1, 1, 1)).astype(np.float32)
    selector = np.array([0, 1, 1, 0], np.float32).reshape(4, 1, 1, 1)
    top_data, top_labels = layer("Filter", "", data, labels, selector, tops=2)
    np.testing.assert_array_equal(top_data, data[[1, 2]])
    np.testing.assert_array_equal(top_labels, labels[[1, 2]])


def test_batch_reindex() -> None:
    """test_batch_reindex_layer.cpp TestForward: a 5x4x3x2 blob holding 0..119, permutation 4 0 4 0 1 2: top item n
    is bottom item perm[n]."""
    x = np.arange(120, dtype=np.float32).reshape(5, 4, 3, 2)
    perm = [4, 0, 4, 0, 1, 2]
    (top,) = layer("BatchReindex", "", x, np.array(perm, np.float32))
    assert top.shape == (6, 4, 3, 2)
    np.testing.assert_array_equal(top, x[perm])


@pytest.mark.parametrize("bias", [pytest.param(False, id="TestForward"), pytest.param(True, id="TestForwardWithBias")])
def test_embed_rows(bias: bool) -> None:
    """test_embed_layer.cpp: 4 indices (rand % 5), input_dim 5, 10 outputs, weights uniform [-10, 10]: top[i, 0, 0, 0]
    is the weight row of index i (plus the bias, EXPECT_FLOAT_EQ)."""
    idx = RNG.integers(0, 5, 4)
    w, b = uniform(5, 10, low=-10, high=10), uniform(10, low=-10, high=10)
    params = f"embed_param {{ num_output: 10 input_dim: 5 bias_term: {str(bias).lower()} }}"
    (top,) = layer("Embed", params, idx.astype(np.float32).reshape(4, 1, 1, 1), blobs=[w, b] if bias else [w])
    assert top.shape == (4, 1, 1, 1, 10)
    np.testing.assert_array_max_ulp(top[:, 0, 0, 0], w[idx] + b if bias else w[idx], maxulp=4)


# -- test_reduction_layer.cpp: a 2x3x4x5 uniform [0, 1] bottom; top[n] = coeff * op over count(axis) values -----
REDUCE = {"SUM": lambda v: v.sum(-1), "MEAN": lambda v: (v / v.shape[-1]).sum(-1),
          "ASUM": lambda v: np.abs(v).sum(-1), "SUMSQ": lambda v: (v * v).sum(-1)}


@pytest.mark.parametrize(("op", "coeff", "axis"), [
    pytest.param(op, coeff, axis, id=f"{op}-coeff{coeff}-axis{axis}")
    for op in REDUCE for coeff, axis in ((1.0, 0), (2.3, 0), (2.3, 1))
])
def test_reduction(op: str, coeff: float, axis: int) -> None:
    """TestSum/TestSumCoeff/TestSumCoeffAxis1 and the same three for MEAN, ASUM (TestAbsSum*), SUMSQ
    (TestSumOfSquares*): EXPECT_FLOAT_EQ."""
    x = uniform(2, 3, 4, 5)
    params = f"reduction_param {{ operation: {op} coeff: {coeff} axis: {axis} }}"
    (top,) = layer("Reduction", params, x)
    num = int(np.prod(x.shape[:axis]))
    want = np.float32(coeff) * REDUCE[op](x.astype(np.float64).reshape(num, -1))
    assert top.shape == x.shape[:axis]
    np.testing.assert_array_max_ulp(top.reshape(num), want.astype(np.float32), maxulp=4)


# -- test_argmax_layer.cpp: a 10x10x20x20 Gaussian; the j-th of the top k has exactly j values above it --------
ARGMAX_X = gaussian(10, 10, 20, 20)


def ranks(values: np.ndarray, picked: np.ndarray) -> np.ndarray:
    """For each picked value along the last axis: how many of `values` (same leading axes) exceed it."""
    return (values[..., None, :] > picked[..., :, None]).sum(-1)


@pytest.mark.parametrize(("params", "k", "with_value"), [
    pytest.param("", 1, False, id="TestCPU"),
    pytest.param("out_max_val: true", 1, True, id="TestCPUMaxVal"),
    pytest.param("top_k: 5", 5, False, id="TestCPUTopK"),
    pytest.param("out_max_val: true top_k: 5", 5, True, id="TestCPUMaxValTopK"),
])
def test_argmax_over_each_item(params: str, k: int, with_value: bool) -> None:
    (top,) = layer("ArgMax", f"argmax_param {{ {params} }}", ARGMAX_X)
    flat = ARGMAX_X.reshape(10, -1)
    assert top.shape == (10, 2 if with_value else 1, k, 1)  # as many axes as the bottom, read at (i, 0|1, j, 0)
    top = top[..., 0]
    index = top[:, 0].astype(int)
    assert ((index >= 0) & (index < flat.shape[1])).all()
    value = np.take_along_axis(flat, index, axis=1)
    if with_value:
        np.testing.assert_array_equal(top[:, 1], value)
    np.testing.assert_array_equal(ranks(flat, value), np.broadcast_to(np.arange(k), (10, k)))


@pytest.mark.parametrize(("params", "axis", "k", "values_only"), [
    pytest.param("axis: 0", 0, 1, False, id="TestCPUAxis"),
    pytest.param("axis: 2 top_k: 5", 2, 5, False, id="TestCPUAxisTopK"),
    pytest.param("axis: -1 top_k: 5 out_max_val: true", 3, 5, True, id="TestCPUAxisMaxValTopK"),
])
def test_argmax_along_an_axis(params: str, axis: int, k: int, values_only: bool) -> None:
    (top,) = layer("ArgMax", f"argmax_param {{ {params} }}", ARGMAX_X)
    x, t = np.moveaxis(ARGMAX_X, axis, -1), np.moveaxis(top, axis, -1)
    assert t.shape == (*x.shape[:-1], k)
    value = t if values_only else np.take_along_axis(x, t.astype(int), axis=-1)
    np.testing.assert_array_equal(ranks(x, value), np.broadcast_to(np.arange(k), t.shape))


# -- test_accuracy_layer.cpp: 100x10 Gaussian scores, labels rand % 10 -------------------------------------
def accuracy_rule(scores: np.ndarray, labels: np.ndarray, k: int, ignore: int | None) -> tuple[float, np.ndarray]:
    """Correct when fewer than k scores beat the label's; ignored labels left out; per class: correct / seen."""
    keep = labels != ignore if ignore is not None else np.ones(labels.shape, bool)
    lab = labels[keep].astype(int)
    s = scores[keep]
    rank = (s > np.take_along_axis(s, lab[:, None], axis=1)).sum(1)
    correct = rank < k
    seen = np.bincount(lab, minlength=scores.shape[1])
    hits = np.bincount(lab[correct], minlength=scores.shape[1])
    return correct.mean(), np.divide(hits, seen, out=np.zeros(len(seen)), where=seen > 0)


@pytest.mark.parametrize(("params", "k", "ignore", "per_class"), [
    pytest.param("", 1, None, False, id="TestForward"),
    pytest.param("accuracy_param { ignore_label: -1 }", 1, -1, False, id="TestForwardIgnoreLabel"),
    pytest.param("accuracy_param { top_k: 3 }", 3, None, False, id="TestForwardTopK"),
    pytest.param("", 1, None, True, id="TestForwardPerClass"),
    pytest.param("accuracy_param { ignore_label: -1 }", 1, -1, True, id="TestForwardPerClassWithIgnoreLabel"),
])
def test_accuracy(params: str, k: int, ignore: int | None, per_class: bool) -> None:
    scores, labels = gaussian(100, 10), RNG.integers(0, 10, 100).astype(np.float32)
    if ignore is not None:
        labels[[2, 5, 32]] = ignore  # 97 labels counted
    tops = layer("Accuracy", params, scores, labels, tops=2 if per_class else 1)
    want, want_per_class = accuracy_rule(scores, labels, k, ignore)
    assert tops[0].shape == () and abs(float(tops[0]) - want) <= 1e-4
    if per_class:
        assert tops[1].shape == (10,)
        np.testing.assert_allclose(tops[1], want_per_class, rtol=0, atol=1e-4)


def test_accuracy_with_spatial_axes() -> None:
    """TestForwardWithSpatialAxes: 2x10x4x5 scores, 2x4x5 labels, axis 1: the class axis is 1 at every (n, h, w)."""
    scores, labels = gaussian(2, 10, 4, 5), RNG.integers(0, 10, (2, 4, 5)).astype(np.float32)
    (top,) = layer("Accuracy", "accuracy_param { axis: 1 }", scores, labels)
    want, _ = accuracy_rule(np.moveaxis(scores, 1, -1).reshape(-1, 10), labels.reshape(-1), 1, None)
    assert abs(float(top) - want) <= 1e-4


# -- test_dummy_data_layer.cpp ---------------------------------------------------------------------------
@pytest.mark.parametrize(("params", "want"), [
    pytest.param("num: 5 channels: 3 height: 2 width: 4", [((5, 3, 2, 4), 0)], id="TestOneTopConstant"),
    # the 2nd top's channels and width default to the first's
    pytest.param("num: 5 channels: 3 height: 2 width: 4 num: 5 height: 1 data_filler { value: 7 }",
                 [((5, 3, 2, 4), 7), ((5, 3, 1, 4), 7)], id="TestTwoTopConstant"),
])
def test_dummy_data_constant_tops(params: str, want: list[tuple[tuple[int, ...], float]]) -> None:
    tops = layer("DummyData", f"dummy_data_param {{ {params} }}", tops=len(want))
    for top, (shape, value) in zip(tops, want, strict=True):
        assert top.shape == shape and (top == value).all()


def test_dummy_data_constant_gaussian_constant() -> None:
    """TestThreeTopConstantGaussianConstant: 7s, Gaussian(3, 0.01) within 10 std, 9s; every forward draws anew."""
    text = ('name: "d" type: "DummyData" top: "a" top: "b" top: "c" dummy_data_param { num: 5 channels: 3 height: 2 '
            'width: 4 data_filler { value: 7 } data_filler { type: "gaussian" mean: 3 std: 0.01 } '
            'data_filler { value: 9 } }')
    dummy = make(text)
    dummy.top_shapes = dummy.setup([], Context())
    rc = RunContext(phase="TEST", dtype=np.float32, rng=np.random.default_rng(5))
    (a, b, c), (a2, b2, c2) = dummy.forward([], [], rc), dummy.forward([], [], rc)
    for top, value in ((a, 7), (c, 9), (a2, 7), (c2, 9)):
        assert top.shape == (5, 3, 2, 4) and (top == value).all()
    for gauss in (b, b2):
        assert gauss.shape == (5, 3, 2, 4) and (np.abs(gauss - 3) <= 0.1).all()
    assert b.flat[0] != b2.flat[0] and b.flat[-1] != b2.flat[-1]


# -- test_bias_layer.cpp / test_scale_layer.cpp: uniform [1, 10] blobs, a 2x3x4x5 bottom -----------------
# (axis, the second bottom's or the stored blob's shape, whether it is a stored blob; num_axes -1 with a
# stored blob of the bottom's whole shape, num_axes 2 at axis 1 for 3x4)
BROADCASTS = [
    ("axis: 0", (2, 3, 4, 5), False, "TestForwardEltwise"),
    ("axis: 0 num_axes: -1", (2, 3, 4, 5), True, "TestForwardEltwiseWithParam"),
    ("axis: 0", (2, 3), False, "TestForwardBroadcastBegin"),
    ("axis: 1", (3, 4), False, "TestForwardBroadcastMiddle"),
    ("axis: 1 num_axes: 2", (3, 4), True, "TestForwardBroadcastMiddleWithParam"),
    ("axis: 2", (4, 5), False, "TestForwardBroadcastEnd"),
    ("", (), False, "TestForwardBias/Scale"),
    ("axis: 2", (), False, "TestForwardBias/ScaleAxis2"),
]


def broadcast(operand: np.ndarray, params: str) -> np.ndarray:
    axis = int(params.split()[1]) if params else 1
    return operand.reshape(operand.shape + (1,) * (4 - axis - operand.ndim)) if operand.ndim else operand


@pytest.mark.parametrize(("type_", "op"), [("Bias", np.add), ("Scale", np.multiply)])
@pytest.mark.parametrize(("params", "shape", "stored", "case"), BROADCASTS, ids=[b[-1] for b in BROADCASTS])
def test_bias_and_scale_broadcast(type_: str, op, params: str, shape: tuple[int, ...], stored: bool,  # noqa: ANN001
                                  case: str) -> None:
    x, operand = uniform(2, 3, 4, 5, low=1, high=10), uniform(*shape, low=1, high=10)
    text = f"{type_.lower()}_param {{ {params} }}"
    (top,) = layer(type_, text, x, blobs=[operand]) if stored else layer(type_, text, x, operand)
    np.testing.assert_allclose(top, op(x, broadcast(operand, params)), rtol=0, atol=1e-5)


def test_scale_with_param_and_bias() -> None:
    """test_scale_layer.cpp TestForwardBroadcastMiddleWithParamAndBias: x * scale[c, h] + bias[c, h]."""
    x, scale, bias = uniform(2, 3, 4, 5, low=1, high=10), gaussian(3, 4), gaussian(3, 4)
    (top,) = layer("Scale", "scale_param { axis: 1 num_axes: 2 bias_term: true }", x, blobs=[scale, bias])
    np.testing.assert_allclose(top, x * scale[:, :, None] + bias[:, :, None], rtol=0, atol=1e-5)


# -- value placement: slice, concat, tile, crop, flatten, reshape ----------------------------------------
def test_split_copies_the_bottom_to_each_top() -> None:
    """test_split_layer.cpp Test: a 2x3x6x5 Gaussian, two tops equal to it."""
    x = gaussian(2, 3, 6, 5)
    for top in layer("Split", "", x, tops=2):
        np.testing.assert_array_equal(top, x)


@pytest.mark.parametrize(("params", "tops", "pieces"), [
    pytest.param("", 1, [np.s_[:]], id="TestTrivialSlice"),
    pytest.param("slice_param { axis: 0 }", 2, [np.s_[:3], np.s_[3:]], id="TestSliceAcrossNum"),
    pytest.param("slice_param { slice_point: 2 slice_point: 8 }", 3,
                 [np.s_[:, :2], np.s_[:, 2:8], np.s_[:, 8:]], id="TestSliceAcrossChannels"),
])
def test_slice(params: str, tops: int, pieces: list[object]) -> None:
    """test_slice_layer.cpp: a 6x12x2x3 Gaussian."""
    x = gaussian(6, 12, 2, 3)
    for top, piece in zip(layer("Slice", params, x, tops=tops), pieces, strict=True):
        np.testing.assert_array_equal(top, x[piece])


@pytest.mark.parametrize(("params", "second", "axis"), [
    pytest.param("", None, 1, id="TestForwardTrivial"),
    pytest.param("concat_param { axis: 0 }", (5, 3, 6, 5), 0, id="TestForwardNum"),
    pytest.param("", (2, 5, 6, 5), 1, id="TestForwardChannels"),
])
def test_concat(params: str, second: tuple[int, ...] | None, axis: int) -> None:
    """test_concat_layer.cpp: a 2x3x6x5 blob of 1s then one of 2s (channels) or 3s (num)."""
    first = np.full((2, 3, 6, 5), 1, np.float32)
    bottoms = [first] if second is None else [first, np.full(second, 2 if axis else 3, np.float32)]
    (top,) = layer("Concat", params, *bottoms)
    np.testing.assert_array_equal(top, np.concatenate(bottoms, axis=axis))


@pytest.mark.parametrize("axis", [pytest.param(0, id="TestForwardNum"), pytest.param(1, id="TestForwardChannels")])
def test_tile(axis: int) -> None:
    """test_tile_layer.cpp: 3 tiles of a 2x3x4x5 Gaussian: top index i along the axis is bottom i % size."""
    x = gaussian(2, 3, 4, 5)
    (top,) = layer("Tile", f"tile_param {{ axis: {axis} tiles: 3 }}", x)
    np.testing.assert_array_equal(top, np.take(x, np.arange(3 * x.shape[axis]) % x.shape[axis], axis=axis))


@pytest.mark.parametrize(("params", "extra", "offsets"), [
    pytest.param("axis: 0", (), (0, 0, 0, 0), id="TestCropAll"),
    pytest.param("axis: 0 offset: 0 offset: 1 offset: 1 offset: 2", (), (0, 1, 1, 2), id="TestCropAllOffset"),
    pytest.param("axis: 2 offset: 1 offset: 2", (), (0, 0, 1, 2), id="TestCropHW"),
    pytest.param("axis: 2 offset: 1 offset: 2 offset: 0", (2,), (0, 0, 1, 2, 0), id="TestCrop5D"),
])
def test_crop(params: str, extra: tuple[int, ...], offsets: tuple[int, ...]) -> None:
    """test_crop_layer.cpp: bottom 2x4x5x4 cropped like 2x3x4x2 (5-D: one more axis, 2 and 1):
    top[i] = bottom[i + offset] for every top index."""
    x, like = gaussian(2, 4, 5, 4, *extra), gaussian(2, 3, 4, 2, *(1 for _ in extra))
    (top,) = layer("Crop", f"crop_param {{ {params} }}", x, like)
    axis = int(params.split()[1])
    want_shape = (*x.shape[:axis], *like.shape[axis:])
    assert top.shape == want_shape
    np.testing.assert_array_equal(top, x[tuple(slice(o, o + s) for o, s in zip(offsets, want_shape, strict=True))])


@pytest.mark.parametrize(("type_", "params"), [
    pytest.param("Flatten", "", id="test_flatten_layer.cpp-TestForward"),
    pytest.param("Reshape", "reshape_param { shape { dim: 0 dim: -1 dim: 1 dim: 1 } }",
                 id="test_reshape_layer.cpp-TestFlattenValues"),
])
def test_flattened_values(type_: str, params: str) -> None:
    """A 2x3x6x5 Gaussian: top(n, c) = bottom(n, c / 30, (c / 5) % 6, c % 5) for both items."""
    x = gaussian(2, 3, 6, 5)
    (top,) = layer(type_, params, x)
    for n, c in itertools.product(range(2), range(90)):
        assert top.reshape(2, 90)[n, c] == x[n, c // 30, (c // 5) % 6, c % 5]


@pytest.mark.parametrize("shape", [pytest.param((2, 3, 6, 5), id="TestForward"),
                                   pytest.param((180,), id="TestForwardAfterReshape")])
def test_reshape_keeps_the_data(shape: tuple[int, ...]) -> None:
    """test_reshape_layer.cpp: shape 6 2 3 5, from 2x3x6x5 and (after reshaping the bottom) from 180: same data."""
    x = gaussian(*shape)
    (top,) = layer("Reshape", "reshape_param { shape { dim: 6 dim: 2 dim: 3 dim: 5 } }", x)
    assert top.shape == (6, 2, 3, 5)
    np.testing.assert_array_equal(top.reshape(-1), x.reshape(-1))
