"""Accuracy: 0-axis top, optional per-class top (num_labels,), label-count and top_k checks; forward values
(ties count against the example, ignore_label, per-class accuracy) worked by hand."""

from __future__ import annotations

import numpy as np
import pytest
from layerkit import make, run, tops

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


ACC = 'name: "a" type: "Accuracy" bottom: "s" bottom: "l" top: "acc"'
SCORES = np.array([
    [0.1, 0.5, 0.4],   # label 1: the best -> correct at top-1
    [0.3, 0.3, 0.4],   # label 0: 0.3 (itself), 0.3 (tie) and 0.4 are >= -> 3rd: a miss at top-1 and top-2
    [0.5, 0.5, 0.0],   # label 0: tied best -> a miss at top-1 (ties count against), a hit at top-2
    [0.2, 0.2, 0.6],   # label 2: correct
])
LABELS = np.array([1, 0, 0, 2])


@pytest.mark.parametrize(("top_k", "want"), [(1, 2 / 4), (2, 3 / 4), (3, 4 / 4)])
def test_forward_top_k_and_ties(top_k: int, want: float) -> None:
    (acc,) = run(ACC + f" accuracy_param {{ top_k: {top_k} }}", SCORES, LABELS)
    assert acc.shape == () and float(acc) == pytest.approx(want)


def test_forward_ignore_label_and_per_class() -> None:
    text = ACC + ' top: "per_class" accuracy_param { ignore_label: 2 }'
    acc, per_class = run(text, SCORES, LABELS)
    assert float(acc) == pytest.approx(1 / 3)  # label 2 is not counted
    # class 0: 2 seen, 0 right; class 1: 1 of 1; class 2: ignored, never seen -> 0
    np.testing.assert_allclose(per_class, [0.0, 1.0, 0.0])
    (none,) = run(ACC + " accuracy_param { ignore_label: 0 }", SCORES[1:3], LABELS[1:3])
    assert float(none) == 0.0  # nothing counted: 0, not NaN


def test_forward_spatial_axis() -> None:
    # (N=1, C=2, H=1, W=3) with labels per pixel; then the same as (N, W, C) with axis -1
    x = np.array([[[[0.9, 0.1, 0.5]], [[0.1, 0.9, 0.5]]]])
    lab = np.array([[[[0, 0, 1]]]])
    (acc,) = run(ACC, x, lab)
    assert float(acc) == pytest.approx(1 / 3)  # pixel 0 right, pixel 1 wrong, pixel 2 a tie -> wrong
    (acc2,) = run(ACC + " accuracy_param { axis: -1 }", x[:, :, 0, :].transpose(0, 2, 1), lab[:, 0, 0, :])
    assert float(acc2) == float(acc)


def test_forward_refuses_out_of_range_label() -> None:
    with pytest.raises(ShapeError, match=r"label 3 at position 0 is outside \[0, 3\)"):
        run(ACC, SCORES, np.array([3, 0, 0, 2]))
