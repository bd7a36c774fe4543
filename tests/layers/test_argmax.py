"""ArgMax: (N, 1|2, top_k) without axis (padded to the bottom's rank), axis replaces one dim."""

from __future__ import annotations

import numpy as np
import pytest
from layerkit import run, tops

from caffecx.errors import ShapeError


def argmax(params: str, bottom: tuple[int, ...]) -> tuple[int, ...]:
    [top] = tops(f'name: "a" type: "ArgMax" bottom: "x" top: "y" argmax_param {{ {params} }}', bottom)
    return top


def test_without_axis() -> None:
    assert argmax("top_k: 2", (2, 30)) == (2, 1, 2)          # layers_2 argmax: Caffe printed 2 1 2
    assert argmax("", (10, 1000)) == (10, 1, 1)
    assert argmax("out_max_val: true top_k: 5", (10, 1000)) == (10, 2, 5)
    assert argmax("top_k: 3", (4, 5, 6, 7)) == (4, 1, 3, 1)   # padded to 4 axes with 1s
    assert argmax("", (7,)) == (7, 1, 1)


def test_with_axis() -> None:
    assert argmax("axis: 1", (2, 21, 8, 8)) == (2, 1, 8, 8)
    assert argmax("axis: 1 top_k: 3 out_max_val: true", (2, 21, 8, 8)) == (2, 3, 8, 8)
    assert argmax("axis: -1 top_k: 2", (2, 21, 8, 8)) == (2, 21, 8, 2)


def test_top_k_limits() -> None:
    with pytest.raises(ShapeError, match="top_k must be less than or equal to the dimension of the axis"):
        argmax("axis: 2 top_k: 9", (2, 21, 8, 8))
    with pytest.raises(ShapeError, match="flattened bottom blob per instance"):
        argmax("top_k: 31", (2, 30))
    with pytest.raises(ShapeError, match="top k must not be less than 1"):
        argmax("top_k: 0", (2, 30))


# -- forward ------------------------------------------------------------------------------------------
def arg(params: str, x: np.ndarray) -> np.ndarray:
    (top,) = run(f'name: "a" type: "ArgMax" bottom: "x" top: "y" argmax_param {{ {params} }}', x)
    return top


def test_per_sample_layout_indices_then_values() -> None:
    x = np.array([[[0.1, 0.9], [0.5, 0.7]], [[3.0, 1.0], [2.0, 4.0]]])  # (2, 2, 2): 4 values per sample
    assert arg("", x).tolist() == [[[1.0]], [[3.0]]]  # (N, 1, 1)
    top = arg("top_k: 2 out_max_val: true", x)
    assert top.shape == (2, 2, 2)
    np.testing.assert_allclose(top, [[[1, 3], [0.9, 0.7]], [[3, 0], [4.0, 3.0]]], rtol=1e-6)
    assert arg("top_k: 3", np.zeros((1, 2, 3, 4))).shape == (1, 1, 3, 1)  # padded to the bottom's axes


def test_ties_go_to_the_larger_index() -> None:
    x = np.array([[5.0, 1.0, 5.0, 5.0, 2.0]])
    assert arg("", x).tolist() == [[[3.0]]]
    assert arg("top_k: 4", x).tolist() == [[[3.0, 2.0, 0.0, 4.0]]]
    assert arg("axis: 1 top_k: 2", x).tolist() == [[3.0, 2.0]]


def test_along_an_axis_indices_or_values_alone() -> None:
    x = np.array([[[1.0, 8.0], [7.0, 2.0], [4.0, 6.0]]])  # (1, 3, 2)
    assert arg("axis: 1", x).tolist() == [[[1.0, 0.0]]]
    assert arg("axis: 1 top_k: 2", x).tolist() == [[[1.0, 0.0], [2.0, 2.0]]]
    assert arg("axis: 1 top_k: 2 out_max_val: true", x).tolist() == [[[7.0, 8.0], [4.0, 6.0]]]
    assert arg("axis: -1", x).tolist() == [[[1.0], [0.0], [1.0]]]
