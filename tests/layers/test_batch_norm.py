"""BatchNorm: three stat blobs (mean, variance, factor), 2 FLOPs per element."""

from __future__ import annotations

from layerkit import make, tops

from caffecx.layers import Counts


def test_three_stat_blobs_and_passthrough_like_layers_1_bn2() -> None:
    text = 'name: "bn2" type: "BatchNorm" bottom: "conv2" top: "conv2"'
    assert tops(text, (3, 8, 10, 5)) == [(3, 8, 10, 5)]
    blobs = make(text).param_shapes([(3, 8, 10, 5)])
    assert [(b.shape, b.kind, b.learnable) for b in blobs] == [((8,), "stat", False), ((8,), "stat", False),
                                                               ((1,), "stat", False)]
    assert make(text).counts([(3, 8, 10, 5)], [(3, 8, 10, 5)]) == Counts(0, 2 * 1200)


def test_channels_are_axis_1_of_a_2_axis_bottom() -> None:
    blobs = make('name: "b" type: "BatchNorm" bottom: "x" top: "y"').param_shapes([(64, 500)])
    assert [b.shape for b in blobs] == [(500,), (500,), (1,)]
