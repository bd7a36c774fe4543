"""Permute (SSD): listed axes first, the rest in order."""

from __future__ import annotations

import numpy as np
import pytest
from layerkit import run, tops

from caffecx.errors import ShapeError


def permute(order: list[int], bottom: tuple[int, ...]) -> tuple[int, ...]:
    o = " ".join(f"order: {i}" for i in order)
    [top] = tops(f'name: "p" type: "Permute" bottom: "x" top: "y" permute_param {{ {o} }}', bottom)
    return top


def test_ssd_nchw_to_nhwc() -> None:
    assert permute([0, 2, 3, 1], (1, 12, 19, 19)) == (1, 19, 19, 12)   # conv11_mbox_loc_perm
    assert permute([0, 2], (2, 3, 4, 5)) == (2, 4, 3, 5)                 # unlisted axes follow in order
    assert permute([], (2, 3, 4, 5)) == (2, 3, 4, 5)


def test_bad_orders() -> None:
    with pytest.raises(ShapeError, match="order should be less than the input dimension"):
        permute([0, 4], (2, 3, 4, 5))
    with pytest.raises(ShapeError, match="duplicate orders"):
        permute([1, 1], (2, 3, 4, 5))


def test_forward_transposes_and_identity_shares() -> None:
    x = np.arange(120, dtype=np.float32).reshape(2, 3, 4, 5)
    (y,) = run('name: "p" type: "Permute" bottom: "x" top: "y" permute_param { order: 0 order: 2 order: 3 order: 1 }', x)
    np.testing.assert_array_equal(y, x.transpose(0, 2, 3, 1))
    assert y.flags.c_contiguous
    assert y[1, 2, 3, 0] == x[1, 0, 2, 3]
    (y,) = run('name: "p" type: "Permute" bottom: "x" top: "y" permute_param { order: 1 }', x)
    np.testing.assert_array_equal(y, x.transpose(1, 0, 2, 3))
    (y,) = run('name: "p" type: "Permute" bottom: "x" top: "y" permute_param { order: 0 order: 1 }', x)
    np.testing.assert_array_equal(y, x)
