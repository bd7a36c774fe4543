"""Tile: multiply one axis by ``tiles``."""

from __future__ import annotations

import numpy as np
import pytest
from layerkit import run, tops

from caffecx.errors import ShapeError


def test_like_layers_2_tile() -> None:
    assert tops('name: "tile" type: "Tile" bottom: "red" top: "tile" tile_param { axis: 0 tiles: 3 }', (2, 3)) == [(6, 3)]
    assert tops('name: "t" type: "Tile" bottom: "x" top: "y" tile_param { tiles: 4 }', (2, 3, 5)) == [(2, 12, 5)]
    assert tops('name: "t" type: "Tile" bottom: "x" top: "y" tile_param { axis: -1 tiles: 2 }', (2, 3, 5)) == [(2, 3, 10)]


def test_tiles_must_be_positive() -> None:
    with pytest.raises(ShapeError, match="Number of tiles must be positive"):
        tops('name: "t" type: "Tile" bottom: "x" top: "y" tile_param { tiles: 0 }', (2, 3))


def test_tile_repeats_the_trailing_block() -> None:
    x = np.array([[[1.0, 2.0]], [[3.0, 4.0]]])  # (2, 1, 2)
    (top,) = run('name: "t" type: "Tile" bottom: "x" top: "y" tile_param { axis: 0 tiles: 2 }', x)
    assert top.reshape(4, 2).tolist() == [[1, 2], [3, 4], [1, 2], [3, 4]]
    (top,) = run('name: "t" type: "Tile" bottom: "x" top: "y" tile_param { axis: 2 tiles: 3 }', x)
    assert top.tolist() == [[[1, 2, 1, 2, 1, 2]], [[3, 4, 3, 4, 3, 4]]]
    (top,) = run('name: "t" type: "Tile" bottom: "x" top: "y" tile_param { tiles: 2 }', x)
    assert top.tolist() == [[[1, 2], [1, 2]], [[3, 4], [3, 4]]]
