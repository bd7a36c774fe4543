"""Slice: slice points, even split, legacy slice_dim, Caffe's checks."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from layerkit import run, tops

from caffecx.errors import ShapeError

B = (6, 12, 2, 3)


def test_even_split_like_layers_1_slice() -> None:
    assert tops('name: "s" type: "Slice" bottom: "cat" top: "sa" top: "sb" slice_param { axis: 1 }',
                (3, 16, 10, 5)) == [(3, 8, 10, 5), (3, 8, 10, 5)]


def test_slice_points_give_differences() -> None:
    text = 'name: "s" type: "Slice" bottom: "x" top: "a" top: "b" top: "c" slice_param { slice_point: 2 slice_point: 7 }'
    assert tops(text, B) == [(6, 2, 2, 3), (6, 5, 2, 3), (6, 5, 2, 3)]
    assert tops('name: "s" type: "Slice" bottom: "x" top: "a" top: "b" top: "c" slice_param { axis: 0 }', B) == [(2, 12, 2, 3)] * 3
    assert tops('name: "s" type: "Slice" bottom: "x" top: "a" top: "b" slice_param { slice_dim: 3 slice_point: 1 }', B) == [
        (6, 12, 2, 1), (6, 12, 2, 2)]
    # the last piece may be empty when the last point is the axis size
    assert tops('name: "s" type: "Slice" bottom: "x" top: "a" top: "b" slice_param { slice_point: 12 }', B) == [B, (6, 0, 2, 3)]


@pytest.mark.parametrize(("params", "n_tops", "message"), [
    ("slice_point: 3", 3, "need exactly one fewer point than tops"),
    ("slice_point: 5 slice_point: 5", 3, "must be greater than the previous point"),
    ("slice_point: 13", 2, "beyond the axis size"),
    ("", 5, r"Number of top blobs \(5\) should evenly divide input slice axis \(12\)"),
    ("axis: 1 slice_dim: 1", 2, "Either axis or slice_dim"),
    ("axis: 0 slice_point: 1 slice_point: 2 slice_point: 3 slice_point: 4 slice_point: 5 slice_point: 6", 7,
     "7 tops cannot slice an axis of size 6"),
])
def test_checks(params: str, n_tops: int, message: str) -> None:
    top = " ".join(f'top: "t{i}"' for i in range(n_tops))
    with pytest.raises(ShapeError, match=message):
        tops(f'name: "s" type: "Slice" bottom: "x" {top} slice_param {{ {params} }}', B)


@settings(max_examples=60, deadline=None)
@given(st.integers(1, 40), st.data())
def test_slice_pieces_tile_the_axis(size: int, data: st.DataObject) -> None:
    points = sorted(data.draw(st.sets(st.integers(1, size), max_size=min(size - 1, 6)), label="points"))
    n_top = len(points) + 1
    top = " ".join(f'top: "t{i}"' for i in range(n_top))
    sp = " ".join(f"slice_point: {p}" for p in points)
    out = tops(f'name: "s" type: "Slice" bottom: "x" {top} slice_param {{ axis: 1 {sp} }}', (2, size, 3))
    assert sum(s[1] for s in out) == size
    assert all(s[0] == 2 and s[2] == 3 for s in out)
    assert [s[1] for s in out] == [b - a for a, b in zip([0, *points], [*points, size], strict=True)]


# -- forward ------------------------------------------------------------------------------------------
def test_slice_points_and_even_split_forward() -> None:
    x = np.arange(12.0).reshape(2, 6)
    a, b, c = run('name: "s" type: "Slice" bottom: "x" top: "a" top: "b" top: "c" slice_param { slice_point: 1 slice_point: 4 }', x)
    assert a.tolist() == [[0], [6]] and b.tolist() == [[1, 2, 3], [7, 8, 9]] and c.tolist() == [[4, 5], [10, 11]]
    assert all(t.flags.c_contiguous for t in (a, b, c))
    top, bottom = run('name: "s" type: "Slice" bottom: "x" top: "a" top: "b" slice_param { slice_dim: 0 }', x)
    assert top.tolist() == [x[0].tolist()] and bottom.tolist() == [x[1].tolist()]
    one = np.ones((2, 2), dtype=np.float32)
    assert run('name: "s" type: "Slice" bottom: "x" top: "a"', one)[0] is one
