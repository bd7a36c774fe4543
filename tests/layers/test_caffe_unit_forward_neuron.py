"""Caffe's own forward checks for the element-wise and normalising layers: test_neuron_layer.cpp,
test_threshold_layer.cpp, test_tanh_layer.cpp, test_power_layer.cpp, test_softmax_layer.cpp,
test_mvn_layer.cpp, test_batch_norm_layer.cpp, test_lrn_layer.cpp and test_maxpool_dropout_layers.cpp
(src/caffe/test/).

Caffe fills each fixture's bottom with a seeded Gaussian we cannot reproduce: each case keeps the
fixture's shape, draws its own seeded NumPy Gaussian and checks the rule (or reference) the test checks,
with the test's tolerance.
"""

from __future__ import annotations

import itertools

import numpy as np
import pytest
from layerkit import run

NEURON_SHAPE = (2, 3, 4, 5)  # NeuronLayerTest / PowerLayerTest / MVNLayerTest


def gaussian(shape: tuple[int, ...], seed: int = 1701) -> np.ndarray:
    return np.random.default_rng(seed).standard_normal(shape).astype(np.float32)


def neuron(type_: str, params: str, x: np.ndarray, **kw: object) -> np.ndarray:
    (top,) = run(f'name: "n" type: "{type_}" bottom: "x" top: "y" {params}', x, **kw)
    return top


def exact(top: np.ndarray, want: np.ndarray) -> None:
    np.testing.assert_array_equal(top, want.astype(np.float32))


def float_eq(top: np.ndarray, want: np.ndarray) -> None:
    """gtest's EXPECT_FLOAT_EQ: within 4 ULPs."""
    np.testing.assert_array_max_ulp(top, want.astype(np.float32), maxulp=4)


def near(delta: float):  # noqa: ANN201
    def check(top: np.ndarray, want: np.ndarray) -> None:
        np.testing.assert_allclose(top, want, rtol=0, atol=delta)
    return check


# test_neuron_layer.cpp: each case's stated rule on its 2x3x4x5 Gaussian bottom
@pytest.mark.parametrize(("type_", "params", "rule", "check"), [
    pytest.param("AbsVal", "", np.abs, exact, id="TestAbsVal"),
    pytest.param("ReLU", "", lambda x: np.maximum(x, 0), exact, id="TestReLU"),
    pytest.param("ReLU", "relu_param { negative_slope: 0.01 }",
                 lambda x: np.where(x >= 0, x, x * np.float32(0.01)), float_eq, id="TestReLUWithNegativeSlope"),
    pytest.param("ELU", "elu_param { alpha: 0.5 }",
                 lambda x: np.where(x > 0, x, 0.5 * np.expm1(x.astype(np.float64))), near(2e-4), id="TestELU"),
    pytest.param("ELU", "elu_param { alpha: 0 }", lambda x: np.maximum(x, 0), exact, id="TestELUasReLU"),
    pytest.param("Sigmoid", "", lambda x: 1 / (1 + np.exp(-x.astype(np.float64))), float_eq, id="TestSigmoid"),
    pytest.param("Swish", "", lambda x: x / (1 + np.exp(-x.astype(np.float64))), float_eq, id="TestSwish"),
    pytest.param("Swish", "swish_param { beta: 1.5 }", lambda x: x / (1 + np.exp(-1.5 * x.astype(np.float64))),
                 float_eq, id="TestSwishWithBeta"),
    pytest.param("Swish", "swish_param { beta: 0.0 }", lambda x: x / 2.0, float_eq, id="TestSwishAsLinear"),
    pytest.param("TanH", "", lambda x: np.expm1(2 * x.astype(np.float64)) / (np.exp(2 * x.astype(np.float64)) + 1),
                 near(1e-4), id="TestTanH"),
    pytest.param("Clip", "clip_param { min: -1, max: 2 }", lambda x: np.clip(x, -1, 2), exact, id="TestClip"),
    pytest.param("Dropout", "", lambda x: x, exact, id="TestDropoutTestPhase"),
    pytest.param("PReLU", "prelu_param { channel_shared: true }", lambda x: np.where(x > 0, x, x * np.float32(0.25)),
                 exact, id="TestPReLUForwardChannelShared"),
    # TestPReLUConsistencyReLU: PReLU with its default 0.25 slopes = ReLU with negative_slope 0.25
    pytest.param("ReLU", "relu_param { negative_slope: 0.25 }",
                 lambda x: neuron("PReLU", "", x, blobs=[np.full(3, 0.25)]), exact, id="TestPReLUConsistencyReLU"),
])
def test_neuron_rules(type_: str, params: str, rule, check) -> None:  # noqa: ANN001
    x = gaussian(NEURON_SHAPE)
    blobs = [np.array(0.25)] if type_ == "PReLU" else None  # channel_shared: one slope, the default filler's
    check(neuron(type_, params, x, blobs=blobs), rule(x))


def test_prelu_forward_per_channel_slopes() -> None:
    """TestPReLUForward: Gaussian slopes per channel: top = max(x, 0) + slope[c] * min(x, 0), exactly."""
    x, slopes = gaussian(NEURON_SHAPE), gaussian((3,), seed=2)
    want = np.maximum(x, 0) + slopes[None, :, None, None] * np.minimum(x, 0)
    exact(neuron("PReLU", "", x, blobs=[slopes]), want)


def test_bnll_bounds() -> None:
    """TestBNLL: top >= 0 and top >= bottom (its only stated checks); plus the value log(1 + e^x)."""
    x = gaussian(NEURON_SHAPE)
    top = neuron("BNLL", "", x)
    assert (top >= 0).all() and (top >= x).all()
    np.testing.assert_allclose(top, np.log1p(np.exp(x.astype(np.float64))), rtol=1e-6)


@pytest.mark.parametrize("ratio", [pytest.param(0.5, id="TestDropoutHalf"),
                                   pytest.param(0.75, id="TestDropoutThreeQuarters")])
def test_dropout_train_keeps_scaled_units_at_the_ratio(ratio: float) -> None:
    """TestDropoutForward (TRAIN): every kept unit is bottom / (1 - ratio) exactly, and the dropped share is
    within 1.96 standard errors of the ratio (0.5 is left unset: it is the default)."""
    x = gaussian(NEURON_SHAPE)
    params = "" if ratio == 0.5 else f"dropout_param {{ dropout_ratio: {ratio} }}"
    top = neuron("Dropout", params, x, phase="TRAIN", seed=3)
    kept = top != 0
    assert (top[kept] == x[kept] * np.float32(1 / (1 - ratio))).all()
    assert abs(1 - kept.mean() - ratio) <= 1.96 * np.sqrt(ratio * (1 - ratio) / x.size)


# TestExpForward / TestLogForward: base -1 means e; top = base^(shift + scale x) / log_base(shift + scale x),
# within 2e-4; the Log cases' bottom is exp of a Gaussian (LogBottomInit)
@pytest.mark.parametrize(("base", "scale", "shift"), [
    pytest.param(-1, 1, 0, id="Base-1"), pytest.param(-1, 1, 1, id="WithShift"),
    pytest.param(2, 1, 0, id="Base2"), pytest.param(2, 1, 1, id="Base2Shift1"),
    pytest.param(2, 3, 0, id="Base2Scale3"), pytest.param(2, 3, 1, id="Base2Shift1Scale3"),
])
@pytest.mark.parametrize("type_", ["Exp", "Log"])
def test_exp_and_log(type_: str, base: float, scale: float, shift: float) -> None:
    x = gaussian(NEURON_SHAPE).astype(np.float64)
    if type_ == "Log":
        x = np.exp(x)
    inner = shift + scale * x
    if type_ == "Exp":
        want = np.exp(inner) if base == -1 else np.power(base, inner)
    else:
        want = np.log(inner) if base == -1 else np.log(inner) / np.log(base)
    params = f"{type_.lower()}_param {{ base: {base} scale: {scale} shift: {shift} }}"
    np.testing.assert_allclose(neuron(type_, params, x.astype(np.float32)), want, rtol=0, atol=2e-4)


@pytest.mark.parametrize(("params", "threshold"), [pytest.param("", 0.0, id="Test"),
                                                   pytest.param("threshold_param { threshold: 0.5 }", 0.5, id="Test2")])
def test_threshold(params: str, threshold: float) -> None:
    """test_threshold_layer.cpp: 2x3x6x5 Gaussian; top is 0 or 1, 0 only where x <= t, 1 only where x > t."""
    x = gaussian((2, 3, 6, 5))
    exact(neuron("Threshold", params, x), (x > threshold).astype(np.float32))


@pytest.mark.parametrize(("power", "scale", "shift"), [
    pytest.param(0.37, 0.83, -2.4, id="TestPower"), pytest.param(0.0, 0.83, -2.4, id="TestPowerZero"),
    pytest.param(1.0, 0.83, -2.4, id="TestPowerOne"), pytest.param(2.0, 0.34, -2.4, id="TestPowerTwo"),
])
def test_power(power: float, scale: float, shift: float) -> None:
    """test_power_layer.cpp TestForward: top = (shift + scale x)^power within max(|want| 1e-4, 1e-5); NaN exactly
    where the reference is NaN (a fractional power of a negative), never NaN for powers 0, 1, 2."""
    x = gaussian(NEURON_SHAPE)
    with np.errstate(invalid="ignore"):
        want = np.power(np.float32(shift) + np.float32(scale) * x, np.float32(power))
    top = neuron("Power", f"power_param {{ power: {power} scale: {scale} shift: {shift} }}", x)
    if power in (0.0, 1.0, 2.0):
        assert not np.isnan(top).any()
    np.testing.assert_array_equal(np.isnan(top), np.isnan(want))
    ok = ~np.isnan(want)
    assert (np.abs(top[ok] - want[ok]) <= np.maximum(np.abs(want[ok] * 1e-4), 1e-5)).all()


def test_softmax_sums_to_one_and_matches_exp_over_sum() -> None:
    """test_softmax_layer.cpp TestForward: 2x10x2x3, softmax over channels: each (n, h, w) sums to 1 within
    1e-3 and every value is exp(x) / sum exp within 1e-4."""
    x = gaussian((2, 10, 2, 3))
    (top,) = run('name: "s" type: "Softmax" bottom: "x" top: "y"', x)
    np.testing.assert_allclose(top.sum(axis=1), 1, atol=1e-3)
    e = np.exp(x.astype(np.float64))
    np.testing.assert_allclose(top, e / e.sum(axis=1, keepdims=True), rtol=0, atol=1e-4)


@pytest.mark.parametrize(("params", "axes", "unit_variance"), [
    pytest.param("", (2, 3), True, id="TestForward"),
    pytest.param("mvn_param { normalize_variance: false }", (2, 3), False, id="TestForwardMeanOnly"),
    pytest.param("mvn_param { across_channels: true }", (1, 2, 3), True, id="TestForwardAcrossChannels"),
])
def test_mvn_mean_zero_variance_one(params: str, axes: tuple[int, ...], unit_variance: bool) -> None:
    """test_mvn_layer.cpp: per (n, c) -- or per n across channels -- mean 0 and mean square 1 within 1e-3."""
    x = gaussian(NEURON_SHAPE) * 3 + 1
    (top,) = run(f'name: "m" type: "MVN" bottom: "x" top: "y" {params}', x)
    np.testing.assert_allclose(top.mean(axis=axes), 0, atol=1e-3)
    if unit_variance:
        np.testing.assert_allclose((top.astype(np.float64) ** 2).mean(axis=axes), 1, atol=1e-3)
    else:  # mean only: the input minus its mean
        np.testing.assert_allclose(top, x - x.mean(axis=axes, keepdims=True), atol=1e-5)


def reference_lrn(x: np.ndarray, size: int, alpha: float, beta: float, across: bool) -> np.ndarray:
    """test_lrn_layer.cpp ReferenceLRNForward: scale = 1 + alpha/size * (sum of squares over the channel
    window) across channels, or 1 + alpha/size^2 * (sum over the clipped spatial window) within."""
    num, channels, height, width = x.shape
    top = np.empty_like(x, dtype=np.float64)
    half = (size - 1) // 2
    for n, c, h, w in itertools.product(range(num), range(channels), range(height), range(width)):
        if across:
            window = x[n, max(c - half, 0):min(c - half + size, channels), h, w]
            scale = 1.0 + (window.astype(np.float64) ** 2).sum() * alpha / size
        else:
            window = x[n, c, max(h - half, 0):min(h - half + size, height), max(w - half, 0):min(w - half + size, width)]
            scale = 1.0 + (window.astype(np.float64) ** 2).sum() * alpha / (size * size)
        top[n, c, h, w] = x[n, c, h, w] / scale**beta
    return top


@pytest.mark.parametrize(("params", "size", "across"), [
    pytest.param("", 5, True, id="TestForwardAcrossChannels"),
    pytest.param("lrn_param { local_size: 15 }", 15, True, id="TestForwardAcrossChannelsLargeRegion"),
    pytest.param("lrn_param { norm_region: WITHIN_CHANNEL local_size: 3 }", 3, False, id="TestForwardWithinChannel"),
])
def test_lrn_against_caffes_reference(params: str, size: int, across: bool) -> None:
    """2x7x3x3 Gaussian, default alpha 1 and beta 0.75, within 1e-5 of the reference."""
    x = gaussian((2, 7, 3, 3))
    (top,) = run(f'name: "l" type: "LRN" bottom: "x" top: "y" {params}', x)
    np.testing.assert_allclose(top, reference_lrn(x, size, 1.0, 0.75, across), rtol=0, atol=1e-5)


@pytest.mark.parametrize("std", [pytest.param(1.0, id="TestTanH"), pytest.param(10000.0, id="TestTanHOverflow")])
def test_tanh_against_the_naive_formula(std: float) -> None:
    """test_tanh_layer.cpp: a 2x3x4x5 Gaussian of std 1 or 10000: (e^2x - 1) / (e^2x + 1), +-1 beyond |x| > 40,
    within max(|want| 1e-4, 1e-5) (the overflow case fails if tanh overflows)."""
    x = gaussian(NEURON_SHAPE) * np.float32(std)
    x64 = x.astype(np.float64)
    with np.errstate(over="ignore", invalid="ignore"):
        naive = np.expm1(2 * x64) / (np.exp(2 * x64) + 1)
    want = np.where(x64 < -40, -1.0, np.where(x64 > 40, 1.0, naive))
    top = neuron("TanH", "", x)
    assert (np.abs(top - want) <= np.maximum(np.abs(want) * 1e-4, 1e-5)).all()


def test_batch_norm_train_normalises_each_channel() -> None:
    """test_batch_norm_layer.cpp TestForward (TRAIN: batch statistics): a 5x2x3x4 Gaussian; per channel, over
    num, height and width, mean 0 and mean square 1 within 1e-3."""
    x = gaussian((5, 2, 3, 4)) * 2 + 0.5
    blobs = [np.zeros(2), np.zeros(2), np.zeros(1)]
    (top,) = run('name: "b" type: "BatchNorm" bottom: "x" top: "y"', x, blobs=blobs, phase="TRAIN")
    np.testing.assert_allclose(top.mean(axis=(0, 2, 3)), 0, atol=1e-3)
    np.testing.assert_allclose((top.astype(np.float64) ** 2).mean(axis=(0, 2, 3)), 1, atol=1e-3)


def test_max_pooling_then_dropout_of_ones() -> None:
    """test_maxpool_dropout_layers.cpp TestForward: max pooling (kernel 3, stride 2) of 2x3x6x5 ones sums to its
    count; an in-place TRAIN Dropout after it (ratio 0.5) sums to between 0 and count x 2."""
    (pooled,) = run('name: "p" type: "Pooling" bottom: "x" top: "y" pooling_param { kernel_size: 3 stride: 2 }',
                    np.ones((2, 3, 6, 5), np.float32))
    assert pooled.sum() == pooled.size
    dropped = neuron("Dropout", "", pooled, phase="TRAIN", seed=1703)
    assert 0 <= dropped.sum() <= pooled.size * 2
