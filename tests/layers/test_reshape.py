"""Reshape: 0 copies, -1 infers, axis/num_axes select the replaced range (Caffe's reshape tests)."""

from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from layerkit import run, tops

from caffecx.errors import ShapeError

B = (2, 3, 6, 5)


def reshape(dims: list[int], extra: str = "", bottom: tuple[int, ...] = B) -> tuple[int, ...]:
    shape = " ".join(f"dim: {d}" for d in dims)
    [top] = tops(f'name: "r" type: "Reshape" bottom: "x" top: "y" reshape_param {{ shape {{ {shape} }} {extra} }}', bottom)
    return top


@pytest.mark.parametrize(("dims", "extra", "expected"), [
    ([0, -1, 1, 1], "", (2, 90, 1, 1)),                 # flatten output sizes
    ([0, 0, 0, 0], "", B),                              # copy every dimension
    ([0, 3, 10, -1], "", (2, 3, 10, 3)),                # inference of the unspecified
    ([3, 10, -1], "axis: 1", (2, 3, 10, 3)),            # ... with a start axis
    ([1, 1, 1], "axis: 0 num_axes: 0", (1, 1, 1, 2, 3, 6, 5)),   # insert singletons at the start
    ([1, 1, 1], "axis: 2 num_axes: 0", (2, 3, 1, 1, 1, 6, 5)),   # ... in the middle
    ([1, 1, 1], "axis: -1 num_axes: 0", (2, 3, 6, 5, 1, 1, 1)),  # ... at the end (-1 = after the last)
    ([-1], "axis: 1 num_axes: 2", (2, 18, 5)),          # flatten the middle
    ([6, 2, 3, 5], "", (6, 2, 3, 5)),
    ([0, -1], "axis: -3 num_axes: 2", B),               # 0 copies axis start+0 (=2), not axis 0
    ([-1], "axis: 2", (2, 3, 30)),
])
def test_caffe_cases(dims: list[int], extra: str, expected: tuple[int, ...]) -> None:
    assert reshape(dims, extra) == expected


def test_corpus_cases() -> None:
    # faster_rcnn rpn_cls_score_reshape and MobileNet-SSD mbox_conf_reshape
    assert reshape([0, 2, -1, 0], bottom=(1, 18, 38, 50)) == (1, 2, 342, 50)
    assert reshape([0, -1, 21], bottom=(1, 40257)) == (1, 1917, 21)
    # layers_2 reshape: Caffe printed 2 3 288
    assert reshape([0, 3, -1], bottom=(2, 6, 12, 12)) == (2, 3, 288)


@pytest.mark.parametrize(("dims", "extra", "message"), [
    ([-1, -1], "", "at most a single \\(1\\) value of -1"),
    ([0, 0, 0, 0, 0], "", "new shape contains a 0, but there was no corresponding bottom axis to copy"),
    ([7, -1], "", "bottom count \\(180\\) must be divisible by the product of the specified dimensions \\(7\\)"),
    ([2, 3], "", "output count must match input count"),
    ([1], "axis: 5", "axis 5 out of range for 4-D input blob"),
    ([1], "axis: -6", "axis -6 out of range"),
    ([1], "axis: 2 num_axes: 3", "end_axis = axis \\+ num_axes is out of range"),
    ([1], "num_axes: -2", "num_axes must be >= 0, or -1 for all"),
])
def test_errors(dims: list[int], extra: str, message: str) -> None:
    with pytest.raises(ShapeError, match=message):
        reshape(dims, extra)


def test_in_place_is_refused() -> None:
    with pytest.raises(ShapeError, match="Reshape Layer does not allow in-place"):
        tops('name: "r" type: "Reshape" bottom: "x" top: "x" reshape_param { shape { dim: -1 } }', B)


@settings(max_examples=60, deadline=None)
@given(st.lists(st.integers(1, 5), min_size=1, max_size=5), st.data())
def test_any_single_minus_one_keeps_the_count(bottom: list[int], data: st.DataObject) -> None:
    n = len(bottom)
    start = data.draw(st.integers(0, n), label="axis")
    end = data.draw(st.integers(start, n), label="end")
    kept = bottom[start:end]
    # new dims: copy some axes (0), infer one (-1), the rest as they are
    dims = [data.draw(st.sampled_from([0, d]), label="dim") for d in kept] or [1]
    dims[data.draw(st.integers(0, len(dims) - 1), label="infer")] = -1
    top = reshape(dims, f"axis: {start} num_axes: {end - start}", tuple(bottom))
    assert math.prod(top) == math.prod(bottom)
    assert top[:start] == tuple(bottom[:start]) and top[start + len(dims):] == tuple(bottom[end:])


def test_reshape_forward_copies_0_infers_minus_1_and_keeps_the_data_order() -> None:
    x = np.arange(24, dtype=np.float32).reshape(2, 3, 4)
    (top,) = run('name: "r" type: "Reshape" bottom: "x" top: "y" reshape_param { shape { dim: 0 dim: -1 dim: 2 } }', x)
    assert top.shape == (2, 6, 2) and np.shares_memory(top, x)
    assert top.reshape(-1).tolist() == list(range(24))
    (top,) = run('name: "r" type: "Reshape" bottom: "x" top: "y" '
                 'reshape_param { shape { dim: 2 dim: 2 } axis: 2 num_axes: 1 }', x)
    assert top.shape == (2, 3, 2, 2) and top[1, 2, 1, 0] == x[1, 2, 2]
