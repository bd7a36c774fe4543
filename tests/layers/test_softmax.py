"""Softmax: shape passthrough along any axis; 5 FLOPs per element."""

from __future__ import annotations

import math

import numpy as np
import pytest
from layerkit import make, run, tops

from caffecx.errors import ShapeError
from caffecx.layers import Counts


def test_softmax() -> None:
    assert tops('name: "sm" type: "Softmax" bottom: "resh" top: "sm" softmax_param { axis: 1 }', (2, 3, 288)) == [(2, 3, 288)]
    assert make('name: "p" type: "Softmax" bottom: "x" top: "y"').counts([(3, 6)], [(3, 6)]) == Counts(0, 5 * 18)
    assert tops('name: "p" type: "Softmax" bottom: "x" top: "y" softmax_param { axis: -1 }', (1, 1917, 21)) == [(1, 1917, 21)]
    with pytest.raises(ShapeError, match="axis 2 out of range for 2-D Blob"):
        tops('name: "p" type: "Softmax" bottom: "x" top: "y" softmax_param { axis: 2 }', (3, 6))


def test_receptive_field_window() -> None:
    from caffecx.layers import GLOBAL

    assert make('name: "p" type: "Softmax" bottom: "x" top: "y"').window([(1, 21, 8, 8)]) is None
    assert make('name: "p" type: "Softmax" bottom: "x" top: "y" softmax_param { axis: -1 }').window([(1, 21, 8, 8)]) == GLOBAL
    assert make('name: "r" type: "Reduction" bottom: "x" top: "y" reduction_param { axis: 1 }').window([(1, 21, 8, 8)]) == GLOBAL
    assert make('name: "a" type: "ArgMax" bottom: "x" top: "y" argmax_param { axis: 1 }').window([(1, 21, 8, 8)]) is None
    assert make('name: "a" type: "ArgMax" bottom: "x" top: "y"').window([(1, 21, 8, 8)]) == GLOBAL


# -- forward ------------------------------------------------------------------------------------------
def naive_softmax(x: np.ndarray, axis: int) -> np.ndarray:
    e = np.exp(x.astype(np.float64) - x.max(axis=axis, keepdims=True))
    return e / e.sum(axis=axis, keepdims=True)


@pytest.mark.parametrize("axis", [0, 1, 2, -1])
def test_softmax_along_any_axis(axis: int) -> None:
    x = np.random.default_rng(1).normal(size=(2, 3, 4)).astype(np.float32) * 3
    (top,) = run(f'name: "s" type: "Softmax" bottom: "x" top: "y" softmax_param {{ axis: {axis} }}', x)
    np.testing.assert_allclose(top, naive_softmax(x, axis), rtol=1e-5)
    np.testing.assert_allclose(top.sum(axis=axis), 1.0, rtol=1e-6)


def test_softmax_subtracts_the_max_first() -> None:
    (top,) = run('name: "s" type: "Softmax" bottom: "x" top: "y"', np.array([[1000.0, 1000.0, 999.0]]))
    e = math.exp(-1)
    np.testing.assert_allclose(top, [[1 / (2 + e), 1 / (2 + e), e / (2 + e)]], rtol=1e-6)  # no overflow
