"""Scale: learned factor shape from axis/num_axes, bias_term, the two-bottom form (layers_2's gain)."""

from __future__ import annotations

import pytest
from layerkit import make, tops

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
