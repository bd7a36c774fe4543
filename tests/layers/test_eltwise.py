"""Eltwise: same-shape rule (no broadcasting), coefficient checks, FLOPs per operation."""

from __future__ import annotations

import numpy as np
import pytest
from layerkit import make, run, tops

from caffecx.errors import ShapeError
from caffecx.layers import Counts

S = (3, 8, 10, 5)


def test_sum_of_two_like_layers_1_elt() -> None:
    text = 'name: "elt" type: "Eltwise" bottom: "conv2" bottom: "pool1" top: "elt"'
    assert tops(text, S, S) == [S]
    assert make(text).counts([S, S], [S]) == Counts(0, 1200)


def test_flops_per_operation() -> None:
    three = [S, S, S]
    assert make('name: "m" type: "Eltwise" bottom: "a" bottom: "b" bottom: "c" top: "y" eltwise_param { operation: MAX }'
                ).counts(three, [S]) == Counts(0, 2 * 1200)
    assert make('name: "p" type: "Eltwise" bottom: "a" bottom: "b" bottom: "c" top: "y" eltwise_param { operation: PROD }'
                ).counts(three, [S]) == Counts(0, 2 * 1200)
    # coefficients other than 1 add one multiply per bottom element
    assert make('name: "s" type: "Eltwise" bottom: "a" bottom: "b" top: "y" eltwise_param { coeff: 1 coeff: -1 }'
                ).counts([S, S], [S]) == Counts(0, 1200 + 2 * 1200)
    assert make('name: "s" type: "Eltwise" bottom: "a" bottom: "b" top: "y" eltwise_param { coeff: 1 coeff: 1 }'
                ).counts([S, S], [S]) == Counts(0, 1200)


def test_shape_mismatch_names_both_bottoms_and_shapes() -> None:
    with pytest.raises(ShapeError) as info:
        tops('name: "elt" type: "Eltwise" bottom: "conv2" bottom: "pool1" top: "elt"', S, (3, 8, 10, 6))
    msg = str(info.value)
    assert "layer 'elt'" in msg and "'conv2': 3 8 10 5 (1200)" in msg and "'pool1': 3 8 10 6 (1440)" in msg
    # same count, different shape: still refused (Caffe compares shapes, not counts)
    with pytest.raises(ShapeError):
        tops('name: "elt" type: "Eltwise" bottom: "a" bottom: "b" top: "y"', (2, 6), (6, 2))


def test_coefficient_rules() -> None:
    with pytest.raises(ShapeError, match="one coefficient per bottom blob"):
        tops('name: "e" type: "Eltwise" bottom: "a" bottom: "b" top: "y" eltwise_param { coeff: 1 }', S, S)
    with pytest.raises(ShapeError, match="only takes coefficients for summation"):
        tops('name: "e" type: "Eltwise" bottom: "a" bottom: "b" top: "y" eltwise_param { operation: PROD coeff: 1 coeff: 2 }', S, S)
    with pytest.raises(ShapeError, match="at least 2 bottom"):
        tops('name: "e" type: "Eltwise" bottom: "a" top: "y"', S)


# -- forward ------------------------------------------------------------------------------------------
A, B, C = np.array([1.0, -2.0, 3.0]), np.array([4.0, 5.0, -6.0]), np.array([0.5, 0.5, 10.0])


def elt(params: str, *bottoms: np.ndarray) -> list[float]:
    names = " ".join(f'bottom: "b{i}"' for i in range(len(bottoms)))
    (top,) = run(f'name: "e" type: "Eltwise" {names} top: "y" eltwise_param {{ {params} }}', *bottoms)
    return top.tolist()


def test_sum_prod_max() -> None:
    assert elt("", A, B, C) == [5.5, 3.5, 7.0]
    assert elt("coeff: 1 coeff: -1", A, B) == [-3.0, -7.0, 9.0]
    assert elt("coeff: 2 coeff: 0.5 coeff: -1", A, B, C) == [3.5, -2.0, -7.0]
    assert elt("operation: PROD", A, B, C) == [2.0, -5.0, -180.0]
    assert elt("operation: MAX", A, B, C) == [4.0, 5.0, 10.0]


def test_max_keeps_caffes_strict_comparison_with_nan() -> None:
    # bottom 0 vs 1: a > b ? a : b, so (NaN, 2) gives 2 and (1, NaN) gives NaN; a later bottom replaces the
    # running value only when strictly greater, which a NaN running value never is
    out = elt("operation: MAX", np.array([np.nan, 1.0]), np.array([2.0, np.nan]), np.array([0.0, 5.0]))
    assert out[0] == 2.0 and np.isnan(out[1])
