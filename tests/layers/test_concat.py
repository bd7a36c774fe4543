"""Concat: axis / legacy concat_dim, and the mismatch error of layers_1_concat_mismatch."""

from __future__ import annotations

import re

import numpy as np
import pytest
from layerkit import run, tops
from paths import NETS

from caffecx.errors import ShapeError


def test_channels_like_layers_1_cat() -> None:
    assert tops('name: "cat" type: "Concat" bottom: "a" bottom: "b" top: "c"', (3, 8, 10, 5), (3, 8, 10, 5)) == [(3, 16, 10, 5)]


def test_axis_and_legacy_concat_dim() -> None:
    a, b = (2, 3, 4), (2, 3, 7)
    assert tops('name: "c" type: "Concat" bottom: "a" bottom: "b" top: "c" concat_param { axis: -1 }', a, b) == [(2, 3, 11)]
    assert tops('name: "c" type: "Concat" bottom: "a" bottom: "b" top: "c" concat_param { concat_dim: 2 }', a, b) == [(2, 3, 11)]
    assert tops('name: "c" type: "Concat" bottom: "a" top: "c" concat_param { axis: 0 }', a) == [a]
    with pytest.raises(ShapeError, match="Either axis or concat_dim should be specified; not both"):
        tops('name: "c" type: "Concat" bottom: "a" bottom: "b" top: "c" concat_param { axis: 2 concat_dim: 2 }', a, b)
    with pytest.raises(ShapeError, match="axis 3 out of range for 3-D Blob"):
        tops('name: "c" type: "Concat" bottom: "a" bottom: "b" top: "c" concat_param { axis: 3 }', a, b)


def test_mismatch_names_layer_and_both_shapes_like_caffes_log() -> None:
    log = (NETS / "layers_1_concat_mismatch.log").read_text()
    m = re.search(r"Check failed: .* \((\d+) vs\. (\d+)\) (All inputs must have the same shape, except at concat_axis\.)", log)
    assert m is not None
    with pytest.raises(ShapeError) as info:
        # pool1 (2x2 s2) and pool1b (AVE 3x3 s2 p1) of conv1's 20x9 output: 10x5 vs 11x5
        tops('name: "cat" type: "Concat" bottom: "pool1" bottom: "pool1b" top: "cat"', (3, 8, 10, 5), (3, 8, 11, 5))
    msg = str(info.value)
    assert info.value.location.layer == "cat" and msg.startswith("layer 'cat': ")
    assert m.group(3) in msg
    assert f"{m.group(1)} vs. {m.group(2)}" in msg
    assert "'pool1' is 3 8 10 5 (1200)" in msg and "'pool1b' is 3 8 11 5 (1320)" in msg


def test_axis_count_mismatch() -> None:
    with pytest.raises(ShapeError, match="same #axes"):
        tops('name: "c" type: "Concat" bottom: "a" bottom: "b" top: "c"', (2, 3), (2, 3, 1))


# -- forward ------------------------------------------------------------------------------------------
def test_concat_forward_along_axis_and_concat_dim() -> None:
    a, b = np.arange(6.0).reshape(1, 2, 3), np.arange(10.0, 13.0).reshape(1, 1, 3)
    (top,) = run('name: "c" type: "Concat" bottom: "a" bottom: "b" top: "y"', a, b)
    assert top.tolist() == [[[0, 1, 2], [3, 4, 5], [10, 11, 12]]]
    (top,) = run('name: "c" type: "Concat" bottom: "a" bottom: "b" top: "y" concat_param { axis: -1 }',
                 a, np.full((1, 2, 1), 9.0))
    assert top.tolist() == [[[0, 1, 2, 9], [3, 4, 5, 9]]]
    (top,) = run('name: "c" type: "Concat" bottom: "a" bottom: "b" top: "y" concat_param { concat_dim: 0 }', a, a)
    assert top.shape == (2, 2, 3) and (top[1] == a[0]).all()


def test_a_single_bottom_is_passed_through() -> None:
    a = np.ones((2, 3), dtype=np.float32)
    (top,) = run('name: "c" type: "Concat" bottom: "a" top: "y"', a)
    assert top is a
