"""Softmax: shape passthrough along any axis; 5 FLOPs per element."""

from __future__ import annotations

import pytest
from layerkit import make, tops

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
