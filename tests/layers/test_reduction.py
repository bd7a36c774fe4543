"""Reduction: keeps bottom.shape[:axis]; axis 0 gives a 0-axis scalar; FLOPs per operation."""

from __future__ import annotations

import numpy as np
import pytest
from layerkit import make, run, tops

from caffecx.layers import Counts


@pytest.mark.parametrize(("params", "expected"), [
    ("reduction_param { operation: ASUM axis: 2 }", (2, 3)),      # layers_2 red
    ("reduction_param { operation: MEAN axis: 1 coeff: 2 }", (2,)),  # layers_2 red2
    ("", ()),                                                       # default axis 0: a scalar
    ("reduction_param { axis: -1 }", (2, 3)),
])
def test_top_keeps_the_leading_axes(params: str, expected: tuple[int, ...]) -> None:
    assert tops(f'name: "r" type: "Reduction" bottom: "x" top: "y" {params}', (2, 3, 288)) == [expected]


def test_flops() -> None:
    b = [(2, 3, 288)]

    def flops(params: str, top: tuple[int, ...]) -> int:
        return make(f'name: "r" type: "Reduction" bottom: "x" top: "y" {params}').counts(b, [top]).flops

    assert flops("reduction_param { operation: SUM axis: 2 }", (2, 3)) == 1728
    assert flops("reduction_param { operation: ASUM axis: 2 }", (2, 3)) == 2 * 1728
    assert flops("reduction_param { operation: SUMSQ axis: 2 coeff: 0.5 }", (2, 3)) == 2 * 1728 + 6
    assert flops("reduction_param { operation: MEAN axis: 1 }", (2,)) == 1728 + 2
    assert make('name: "r" type: "Reduction" bottom: "x" top: "y"').counts(b, [()]) == Counts(0, 1728)


# -- forward ------------------------------------------------------------------------------------------
X = np.array([[[1.0, -2.0], [3.0, -4.0]], [[0.5, 0.5], [-1.0, 2.0]]])  # (2, 2, 2)


@pytest.mark.parametrize(("params", "expected"), [
    ("operation: SUM axis: 1", [-2.0, 2.0]),
    ("operation: ASUM axis: 1", [10.0, 4.0]),
    ("operation: SUMSQ axis: 1", [30.0, 5.5]),
    ("operation: MEAN axis: 1", [-0.5, 0.5]),
    ("operation: MEAN axis: 1 coeff: 2", [-1.0, 1.0]),
    ("operation: SUM axis: 2 coeff: -1", [[1.0, 1.0], [-1.0, -1.0]]),
    ("operation: ASUM axis: -1", [[3.0, 7.0], [1.0, 3.0]]),
    ("operation: SUM", 0.0),
    ("operation: MEAN coeff: 4", 0.0),
    ("operation: SUMSQ coeff: 0.5", 17.75),
])
def test_reductions_over_the_trailing_axes(params: str, expected: object) -> None:
    (top,) = run(f'name: "r" type: "Reduction" bottom: "x" top: "y" reduction_param {{ {params} }}', X)
    assert top.tolist() == expected
