"""Split: N copies of the bottom's shape (Caffe's auto-inserted *_split layers), never in place."""

from __future__ import annotations

import numpy as np
import pytest
from layerkit import run, tops

from caffecx.errors import ShapeError


def test_three_tops_like_layers_1_pool1_split() -> None:
    text = 'name: "pool1_pool1_0_split" type: "Split" bottom: "pool1" top: "s0" top: "s1" top: "s2"'
    assert tops(text, (3, 8, 10, 5)) == [(3, 8, 10, 5)] * 3


def test_in_place_is_refused() -> None:
    with pytest.raises(ShapeError, match="Split Layer does not allow in-place computation"):
        tops('name: "s" type: "Split" bottom: "x" top: "x" top: "y"', (2, 3))


def test_split_tops_share_the_bottom() -> None:
    x = np.arange(4, dtype=np.float32)
    tops_ = run('name: "s" type: "Split" bottom: "x" top: "a" top: "b" top: "c"', x)
    assert len(tops_) == 3 and all(t is x for t in tops_)
