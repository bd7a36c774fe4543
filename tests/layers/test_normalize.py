"""Normalize (SSD): scale blob (C,) or a 0-axis scalar when channel_shared (the fork's default)."""

from __future__ import annotations

import pytest
from layerkit import make, tops

from caffecx.errors import ShapeError
from caffecx.layers import Counts

CONV4_3 = (1, 512, 38, 38)


def test_vgg_ssd_conv4_3_norm() -> None:
    text = ('name: "conv4_3_norm" type: "Normalize" bottom: "conv4_3" top: "conv4_3_norm" '
            "norm_param { across_spatial: false channel_shared: false scale_filler { type: \"constant\" value: 20 } }")
    assert tops(text, CONV4_3) == [CONV4_3]
    assert [b.shape for b in make(text).param_shapes([CONV4_3])] == [(512,)]
    assert make(text).counts([CONV4_3], [CONV4_3]) == Counts(0, 4 * 512 * 38 * 38)
    shared = make('name: "n" type: "Normalize" bottom: "x" top: "y"')  # channel_shared defaults to true
    assert [b.shape for b in shared.param_shapes([CONV4_3])] == [()]


def test_needs_two_axes() -> None:
    with pytest.raises(ShapeError, match="Number of axes of bottom blob must be >=2"):
        tops('name: "n" type: "Normalize" bottom: "x" top: "y"', (7,))
