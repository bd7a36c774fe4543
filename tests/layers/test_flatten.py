"""Flatten: axis / end_axis (Caffe's own test cases on a 2x3x6x5 blob)."""

from __future__ import annotations

import numpy as np
import pytest
from layerkit import run, tops

from caffecx.errors import ShapeError

B = (2, 3, 6, 5)


@pytest.mark.parametrize(("params", "expected"), [
    ("", (2, 90)),
    ("flatten_param { axis: 2 }", (2, 3, 30)),
    ("flatten_param { end_axis: -2 }", (2, 18, 5)),
    ("flatten_param { axis: 0 end_axis: -2 }", (36, 5)),
    ("flatten_param { axis: -3 end_axis: 2 }", (2, 18, 5)),
    ("flatten_param { axis: 3 end_axis: 3 }", B),
    ("flatten_param { axis: 2 end_axis: 1 }", (2, 3, 1, 6, 5)),  # empty range: count(2, 2) == 1 is inserted
])
def test_axis_ranges(params: str, expected: tuple[int, ...]) -> None:
    assert tops(f'name: "f" type: "Flatten" bottom: "x" top: "y" {params}', B) == [expected]


def test_like_layers_1_flat() -> None:
    assert tops('name: "flat" type: "Flatten" bottom: "sb" top: "flat"', (3, 8, 10, 5)) == [(3, 400)]


def test_errors() -> None:
    with pytest.raises(ShapeError, match="axis 4 out of range for 4-D Blob with shape 2 3 6 5 \\(180\\)"):
        tops('name: "f" type: "Flatten" bottom: "x" top: "y" flatten_param { axis: 4 }', B)
    with pytest.raises(ShapeError, match="comes before"):
        tops('name: "f" type: "Flatten" bottom: "x" top: "y" flatten_param { axis: 3 end_axis: 1 }', B)
    with pytest.raises(ShapeError, match="does not allow in-place"):
        tops('name: "f" type: "Flatten" bottom: "x" top: "x"', B)


def test_flatten_forward_is_a_view() -> None:
    x = np.arange(180, dtype=np.float32).reshape(B)
    (top,) = run('name: "f" type: "Flatten" bottom: "x" top: "y" flatten_param { axis: 1 end_axis: 2 }', x)
    assert top.shape == (2, 18, 5) and np.shares_memory(top, x)
    assert top[1, 7].tolist() == x[1, 1, 1].tolist()
