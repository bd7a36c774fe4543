"""Element-wise activations: shape passthrough, PReLU blobs, FLOPs per element, parameter checks."""

from __future__ import annotations

import pytest
from layerkit import make, tops

from caffecx.errors import ShapeError
from caffecx.layers import Context, Counts

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
