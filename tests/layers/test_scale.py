"""Scale: learned factor shape from axis/num_axes, bias_term, the two-bottom form (layers_2's gain)."""

from __future__ import annotations

import math

import numpy as np
import pytest
from layerkit import make, run, tops

from caffecx.errors import ShapeError
from caffecx.layers import Counts


def blobs(text: str, *bottoms: tuple[int, ...]) -> list[tuple[tuple[int, ...], str]]:
    return [(b.shape, b.kind) for b in make(text).param_shapes(list(bottoms))]


def test_default_is_per_channel_with_bias_like_layers_1_sc2() -> None:
    text = 'name: "sc2" type: "Scale" bottom: "c" top: "c" scale_param { bias_term: true }'
    assert tops(text, (3, 8, 10, 5)) == [(3, 8, 10, 5)]
    assert blobs(text, (3, 8, 10, 5)) == [((8,), "weight"), ((8,), "bias")]
    assert make(text).counts([(3, 8, 10, 5)], [(3, 8, 10, 5)]) == Counts(0, 2 * 1200)


def test_axis_and_num_axes_pick_the_factor_shape() -> None:
    b = (2, 3, 4, 5)
    assert blobs('name: "s" type: "Scale" bottom: "x" top: "y" scale_param { num_axes: -1 }', b) == [((3, 4, 5), "weight")]
    assert blobs('name: "s" type: "Scale" bottom: "x" top: "y" scale_param { axis: 2 num_axes: 2 }', b) == [((4, 5), "weight")]
    assert blobs('name: "s" type: "Scale" bottom: "x" top: "y" scale_param { axis: -1 }', b) == [((5,), "weight")]
    assert blobs('name: "s" type: "Scale" bottom: "x" top: "y" scale_param { num_axes: 0 bias_term: true }', b) == [
        ((), "weight"), ((), "bias")]


def test_factor_past_the_end_is_refused() -> None:
    with pytest.raises(ShapeError, match="scale blob's shape extends past bottom\\[0\\]'s shape"):
        tops('name: "s" type: "Scale" bottom: "x" top: "y" scale_param { axis: 2 num_axes: 3 }', (2, 3, 4, 5))


def test_two_bottom_axis_0_scales_each_sample_like_layers_2_gain() -> None:
    text = 'name: "gain" type: "Scale" bottom: "bias" bottom: "gain" top: "gained" scale_param { axis: 0 }'
    assert tops(text, (2, 6, 12, 12), (2,)) == [(2, 6, 12, 12)]
    assert blobs(text, (2, 6, 12, 12), (2,)) == []
    with_bias = text.replace("axis: 0", "axis: 0 bias_term: true")
    assert blobs(with_bias, (2, 6, 12, 12), (2, 6)) == [((2, 6), "bias")]


def test_two_bottom_shape_mismatch_names_the_axes() -> None:
    text = 'name: "g" type: "Scale" bottom: "a" bottom: "b" top: "y" scale_param { axis: 0 }'
    with pytest.raises(ShapeError, match=r"dimension mismatch between bottom\[0\]->shape\(0\) and scale->shape\(0\) \(2 vs. 3\)"):
        tops(text, (2, 6, 12, 12), (3,))
    # a 0-axis factor applies anywhere
    assert tops(text.replace("axis: 0", "axis: 3"), (2, 6, 12, 12), ()) == [(2, 6, 12, 12)]


# -- forward ------------------------------------------------------------------------------------------
def caffe_loops(x: np.ndarray, operand: np.ndarray, axis: int, op: str) -> np.ndarray:
    """Caffe's outer / operand / inner loops, written out (the reference for the broadcast)."""
    axis = 0 if operand.ndim == 0 else axis
    outer, dim = math.prod(x.shape[:axis]), operand.size
    inner = x.size // (outer * dim)
    flat, op_flat, out = x.reshape(-1), operand.reshape(-1), np.empty(x.size)
    for n in range(outer):
        for d in range(dim):
            for i in range(inner):
                k = (n * dim + d) * inner + i
                out[k] = flat[k] * op_flat[d] if op == "mul" else flat[k] + op_flat[d]
    return out.reshape(x.shape)


X = np.arange(24, dtype=np.float64).reshape(2, 3, 2, 2) - 11.5


def test_per_channel_scale_then_bias() -> None:
    text = 'name: "sc" type: "Scale" bottom: "x" top: "y" scale_param { bias_term: true }'
    (top,) = run(text, X, blobs=[np.array([2.0, -1.0, 0.5]), np.array([10.0, 20.0, 30.0])])
    want = X * np.array([2.0, -1.0, 0.5])[:, None, None] + np.array([10.0, 20.0, 30.0])[:, None, None]
    np.testing.assert_allclose(top, want)
    assert top[0, 1, 0, 0] == 7.5 + 20.0  # x = -7.5 times -1, plus 20


@pytest.mark.parametrize(("params", "shape"), [
    ("axis: 2 num_axes: 2", (2, 2)), ("num_axes: -1", (3, 2, 2)), ("axis: -1", (2,)), ("axis: 0 num_axes: 2", (2, 3)),
    ("num_axes: 0", ()), ("axis: 3 num_axes: 0", ()),
])
def test_learned_factor_applies_at_axis_over_num_axes(params: str, shape: tuple[int, ...]) -> None:
    factor = np.arange(1, 1 + math.prod(shape), dtype=np.float64).reshape(shape) * 0.5
    (top,) = run(f'name: "s" type: "Scale" bottom: "x" top: "y" scale_param {{ {params} }}', X, blobs=[factor])
    axis = 2 if params.startswith("axis: 2") else 3 if params.startswith(("axis: -1", "axis: 3")) else \
        0 if params.startswith("axis: 0") else 1
    np.testing.assert_allclose(top, caffe_loops(X, factor, axis, "mul"))


def test_two_bottoms_scale_each_sample_and_take_the_bias_as_blob_0() -> None:
    gain = np.array([2.0, -3.0])
    text = 'name: "g" type: "Scale" bottom: "x" bottom: "g" top: "y" scale_param { axis: 0 }'
    (top,) = run(text, X, gain)
    np.testing.assert_allclose(top, caffe_loops(X, gain, 0, "mul"))
    with_bias = text.replace("axis: 0", "axis: 0 bias_term: true")
    bias = np.array([1.0, 2.0])
    (top,) = run(with_bias, X, gain, blobs=[bias])
    np.testing.assert_allclose(top, caffe_loops(caffe_loops(X, gain, 0, "mul"), bias, 0, "add"))
    # a (N, C) second bottom at axis 0: its bias spans the same two axes
    gains = np.array([[1.0, 2.0, 3.0], [-1.0, -2.0, -3.0]])
    (top,) = run(with_bias, X, gains, blobs=[gains * 10])
    np.testing.assert_allclose(top, caffe_loops(caffe_loops(X, gains, 0, "mul"), gains * 10, 0, "add"))


def test_fillers_default_to_one_for_the_factor_and_zero_for_the_bias() -> None:
    text = 'name: "sc" type: "Scale" bottom: "x" top: "y" scale_param { bias_term: true }'
    factor, bias = make(text).param_shapes([(2, 3)])
    assert (factor.filler.type, factor.filler.value) == ("constant", 1.0)
    assert bias.filler is None
    given = text.replace("bias_term: true", 'bias_term: true filler { type: "uniform" } bias_filler { type: "gaussian" }')
    factor, bias = make(given).param_shapes([(2, 3)])
    assert (factor.filler.type, bias.filler.type) == ("uniform", "gaussian")
