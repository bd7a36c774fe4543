"""Accuracy: 0-axis top, optional per-class top (num_labels,), label-count and top_k checks."""

from __future__ import annotations

import pytest
from layerkit import make, tops

from caffecx.errors import ShapeError
from caffecx.layers import Counts


def test_like_lenet_test_net() -> None:
    text = 'name: "accuracy" type: "Accuracy" bottom: "ip2" bottom: "label" top: "accuracy"'
    assert tops(text, (100, 10), (100,)) == [()]
    assert make(text).counts([(100, 10), (100,)], [()]) == Counts(0, 1000)


def test_per_class_top_and_axis() -> None:
    text = 'name: "a" type: "Accuracy" bottom: "s" bottom: "l" top: "acc" top: "per_class"'
    assert tops(text, (2, 21, 8, 8), (2, 1, 8, 8)) == [(), (21,)]
    assert tops(text + " accuracy_param { axis: -1 top_k: 5 }", (2, 8, 8, 21), (2, 8, 8)) == [(), (21,)]


def test_checks() -> None:
    with pytest.raises(ShapeError, match="top_k must be less than or equal to the number of classes"):
        tops('name: "a" type: "Accuracy" bottom: "s" bottom: "l" top: "acc" accuracy_param { top_k: 11 }', (100, 10), (100,))
    with pytest.raises(ShapeError, match="Number of labels must match number of predictions"):
        tops('name: "a" type: "Accuracy" bottom: "s" bottom: "l" top: "acc"', (100, 10), (100, 2))
