"""Element-wise activations: shape passthrough, PReLU blobs, FLOPs per element, parameter checks, and the
forward values of each type (hand-worked numbers or a float64 formula written out independently)."""

from __future__ import annotations

import math

import numpy as np
import pytest
from layerkit import make, run, tops

from caffecx.errors import ShapeError
from caffecx.layers import Context, Counts
from caffecx.layers.activations import relu_into

SHAPE = (2, 6, 12, 12)
N = 2 * 6 * 12 * 12


@pytest.mark.parametrize(("type_", "params", "per"), [
    ("ReLU", "", 1), ("ReLU", "relu_param { negative_slope: 0.1 }", 2), ("PReLU", "", 2), ("ELU", "", 4),
    ("Sigmoid", "", 3), ("TanH", "", 5), ("AbsVal", "", 1), ("BNLL", "", 4), ("Threshold", "", 1),
    ("Clip", "clip_param { min: 0 max: 6 }", 2), ("Swish", "", 5), ("Dropout", "", 0),
    ("Power", "", 0 + 0 + 0), ("Power", "power_param { power: 3 scale: 2 shift: -1 }", 3),
    ("Power", "power_param { power: 2 }", 1), ("Power", "power_param { scale: 0 shift: 4 }", 0),
    ("Exp", "", 1), ("Exp", "exp_param { scale: 0.5 }", 2), ("Exp", "exp_param { base: 2 shift: 1 }", 3),
    ("Log", "log_param { shift: 1 }", 2), ("Log", "log_param { base: 10 scale: 3 }", 3),
])
def test_shape_passes_through_and_flops_per_element(type_: str, params: str, per: int) -> None:
    text = f'name: "a" type: "{type_}" bottom: "x" top: "y" {params}'
    assert tops(text, SHAPE) == [SHAPE]
    assert make(text).counts([SHAPE], [SHAPE]) == Counts(0, per * N)


def test_dropout_costs_only_in_train() -> None:
    layer = make('name: "d" type: "Dropout" bottom: "x" top: "x"')
    layer.setup([SHAPE], Context(phase="TRAIN"))
    assert layer.counts([SHAPE], [SHAPE]).flops == 2 * N


def test_prelu_blob_is_per_channel_or_a_0_axis_scalar() -> None:
    per_channel = make('name: "p" type: "PReLU" bottom: "x" top: "y"')
    assert [b.shape for b in per_channel.param_shapes([SHAPE])] == [(6,)]
    assert per_channel.param_shapes([SHAPE])[0].kind == "weight"
    shared = make('name: "p" type: "PReLU" bottom: "x" top: "y" prelu_param { channel_shared: true }')
    assert [b.shape for b in shared.param_shapes([(3, 6)])] == [()]


def test_prelu_needs_two_axes() -> None:
    with pytest.raises(ShapeError, match="Number of axes of bottom blob must be >=2") as info:
        tops('name: "p" type: "PReLU" bottom: "x" top: "y"', (5,))
    assert info.value.location.layer == "p"


def test_neuron_layers_take_one_bottom() -> None:
    with pytest.raises(ShapeError, match="ReLU Layer takes 1 bottom blob"):
        tops('name: "r" type: "ReLU" bottom: "a" bottom: "b" top: "y"', SHAPE, SHAPE)


def test_exp_and_log_bases_must_be_positive() -> None:
    with pytest.raises(ShapeError, match="base must be strictly positive"):
        tops('name: "e" type: "Exp" bottom: "x" top: "y" exp_param { base: -2 }', SHAPE)
    with pytest.raises(ShapeError, match="base must be strictly positive"):
        tops('name: "l" type: "Log" bottom: "x" top: "y" log_param { base: 0 }', SHAPE)


# -- forward ------------------------------------------------------------------------------------------
X = np.array([[-3.0, -1.0, -0.25, 0.0], [0.25, 1.0, 2.0, 30.0]], dtype=np.float32)


def neuron(type_: str, params: str = "", x: np.ndarray = X, **kw: object) -> np.ndarray:
    (top,) = run(f'name: "n" type: "{type_}" bottom: "x" top: "y" {params}', x, **kw)
    assert top.dtype == kw.get("dtype", np.float32)
    return top


def test_relu_and_leaky_relu() -> None:
    assert neuron("ReLU").tolist() == [[0, 0, 0, 0], [0.25, 1, 2, 30]]
    leaky = neuron("ReLU", "relu_param { negative_slope: 0.5 }")
    assert leaky.tolist() == [[-1.5, -0.5, -0.125, 0], [0.25, 1, 2, 30]]


@pytest.mark.parametrize("shape", [(7,), (3, 5, 7, 7), (2, 40000), (40000 * 3 + 17,), (1, 960, 7, 7)])
@pytest.mark.parametrize("slope", [0.0, 0.25])
def test_relu_into_equals_the_scalar_rule_bit_for_bit(shape: tuple[int, ...], slope: float) -> None:
    special = np.array([np.nan, -np.nan, -1, 2, -np.inf, np.inf, -0.0, 0.0, 1e-45, -1e-45], np.float32)
    x = np.resize(special, math.prod(shape)).reshape(shape)
    x.reshape(-1)[::7] = np.random.default_rng(2).standard_normal(x.size)[::7]
    zero, s = np.float32(0), np.float32(slope)
    want = np.maximum(x, zero) + s * np.minimum(x, zero) if slope else np.maximum(x, zero)
    for view in (x, x[..., ::2]):  # contiguous, and strided
        out = np.empty_like(view)
        relu_into(view, s, out)
        assert np.array_equal(out.view(np.int32), want[..., ::2].view(np.int32) if view is not x else
                              want.view(np.int32))
        inplace = view.copy()
        relu_into(inplace, s, inplace)
        assert np.array_equal(inplace.view(np.int32), out.view(np.int32))


def test_prelu_slope_per_channel_axis_1_and_shared() -> None:
    x = np.array([[[-1.0, 2.0], [-1.0, -2.0], [-4.0, 1.0]]])  # (1, 3, 2): channel c scales its row
    (top,) = run('name: "p" type: "PReLU" bottom: "x" top: "y"', x, blobs=[np.array([0.1, 0.2, 0.5])])
    np.testing.assert_allclose(top, [[[-0.1, 2.0], [-0.2, -0.4], [-2.0, 1.0]]], rtol=1e-6)
    shared = 'name: "p" type: "PReLU" bottom: "x" top: "y" prelu_param { channel_shared: true }'
    (top,) = run(shared, x, blobs=[np.array(0.5)])
    np.testing.assert_allclose(top, [[[-0.5, 2.0], [-0.5, -1.0], [-2.0, 1.0]]])


def test_prelu_filler_defaults_to_a_quarter() -> None:
    [slope] = make('name: "p" type: "PReLU" bottom: "x" top: "y"').param_shapes([(2, 3)])
    assert (slope.filler.type, slope.filler.value) == ("constant", pytest.approx(0.25))
    given = make('name: "p" type: "PReLU" bottom: "x" top: "y" prelu_param { filler { type: "constant" value: 0.2 } }')
    assert given.param_shapes([(2, 3)])[0].filler.value == pytest.approx(0.2)


def test_elu_sigmoid_tanh_absval() -> None:
    x = X.astype(np.float64)
    np.testing.assert_allclose(neuron("ELU", "elu_param { alpha: 2 }"),
                               np.where(x > 0, x, 2 * (np.exp(np.minimum(x, 0)) - 1)), rtol=1e-6)
    np.testing.assert_allclose(neuron("Sigmoid"), 1 / (1 + np.exp(-x)), rtol=1e-6)
    np.testing.assert_allclose(neuron("TanH"), np.tanh(x), rtol=1e-6)
    assert neuron("AbsVal").tolist() == np.abs(X).tolist()
    assert neuron("Sigmoid", x=np.array([0.0, -200.0, 200.0])).tolist() == [0.5, 0.0, 1.0]


def test_bnll_is_stable_for_large_inputs() -> None:
    x = np.array([-100.0, -1.0, 0.0, 1.0, 100.0], dtype=np.float32)
    want = [math.log1p(math.exp(-100)), math.log1p(math.exp(-1)), math.log(2), 1 + math.log1p(math.exp(-1)), 100.0]
    top = neuron("BNLL", x=x)
    assert np.isfinite(top).all()
    np.testing.assert_allclose(top, want, rtol=1e-6, atol=1e-40)  # exp(-100) is subnormal in float32


def test_power_general_and_special_cases() -> None:
    x = np.array([0.0, 1.0, 2.0, 3.0])
    # (shift + scale * x) ^ power = (-1 + 2x)^3
    assert neuron("Power", "power_param { power: 3 scale: 2 shift: -1 }", x).tolist() == [-1, 1, 27, 125]
    assert neuron("Power", "power_param { power: 2 }", x).tolist() == [0, 1, 4, 9]
    assert neuron("Power", "", x).tolist() == x.tolist()  # all identity steps skipped
    # scale 0: the input is ignored and the top is shift^power; power 0: 1 everywhere
    assert neuron("Power", "power_param { power: 2 scale: 0 shift: 3 }", x).tolist() == [9] * 4
    assert neuron("Power", "power_param { power: 0 scale: 5 shift: 3 }", x).tolist() == [1] * 4
    assert neuron("Power", "power_param { power: 0 scale: 0 }", x).tolist() == [1] * 4
    assert np.isnan(neuron("Power", "power_param { power: 0.5 shift: -5 }", x)).all()


def test_exp_and_log_bases() -> None:
    x = np.array([-1.0, 0.0, 1.0, 2.0])
    np.testing.assert_allclose(neuron("Exp", "", x), np.exp(x), rtol=1e-6)
    # 2 ^ (1 + 0.5 x)
    np.testing.assert_allclose(neuron("Exp", "exp_param { base: 2 scale: 0.5 shift: 1 }", x),
                               2 ** (1 + 0.5 * x), rtol=1e-6)
    np.testing.assert_allclose(neuron("Log", "log_param { shift: 1 }", x + 1), np.log(x + 2), rtol=1e-6)
    # log10(1 + 3x)
    np.testing.assert_allclose(neuron("Log", "log_param { base: 10 scale: 3 shift: 1 }", x + 1),
                               np.log10(1 + 3 * (x + 1)), rtol=1e-6)


def test_threshold_is_strict_and_clip_maps_nan_to_min() -> None:
    x = np.array([0.05, 0.1, 0.1000001, 2.0])
    assert neuron("Threshold", "threshold_param { threshold: 0.1 }", x).tolist() == [0, 0, 1, 1]
    clipped = neuron("Clip", "clip_param { min: -1 max: 0.6 }", np.array([-5.0, 0.5, 0.7, np.nan]))
    assert clipped.tolist() == [-1.0, 0.5, pytest.approx(0.6), -1.0]


def test_swish() -> None:
    x = X.astype(np.float64)
    np.testing.assert_allclose(neuron("Swish", "swish_param { beta: 1.5 }"), x / (1 + np.exp(-1.5 * x)), rtol=1e-5)


def test_float64_runs_stay_float64() -> None:
    top = neuron("Sigmoid", x=np.array([0.1], dtype=np.float64), dtype=np.float64)
    assert top[0] == pytest.approx(1 / (1 + math.exp(-0.1)), rel=1e-15)


def test_dropout_is_the_identity_in_test() -> None:
    x = np.arange(6, dtype=np.float32)
    (top,) = run('name: "d" type: "Dropout" bottom: "x" top: "x"', x)
    assert top is x


def test_dropout_train_drops_ratio_and_scales_kept_units() -> None:
    x = np.full((200, 100), 2.0, dtype=np.float32)
    text = 'name: "d" type: "Dropout" bottom: "x" top: "x" dropout_param { dropout_ratio: 0.3 }'
    (top,) = run(text, x, phase="TRAIN", seed=7)
    kept = top != 0
    assert abs(1 - kept.mean() - 0.3) < 0.02
    np.testing.assert_allclose(top[kept], 2.0 / 0.7, rtol=1e-6)
    assert abs(top.mean() - 2.0) < 0.05  # the expectation is preserved
    (again,) = run(text, x, phase="TRAIN", seed=7)
    assert (again == top).all()  # the run's rng decides the mask


def test_dropout_scale_train_false_scales_at_test_time() -> None:
    x = np.full((50, 40), 2.0, dtype=np.float32)
    text = 'name: "d" type: "Dropout" bottom: "x" top: "x" dropout_param { dropout_ratio: 0.25 scale_train: false }'
    (train,) = run(text, x, phase="TRAIN")
    assert set(np.unique(train).tolist()) == {0.0, 2.0}
    (test,) = run(text, x, phase="TEST")
    np.testing.assert_allclose(test, 1.5)
