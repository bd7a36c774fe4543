"""Silence, Filter, BatchReindex, Parameter, HDF5Output."""

from __future__ import annotations

import pytest
from layerkit import make, tops

from caffecx.errors import ShapeError


def test_silence_and_hdf5_output_have_no_tops() -> None:
    assert tops('name: "s" type: "Silence" bottom: "a" bottom: "b"', (2, 3), (4,)) == []
    assert tops('name: "h" type: "HDF5Output" bottom: "d" bottom: "l"', (2, 3), (2,)) == []
    with pytest.raises(ShapeError, match="Silence Layer produces 0 top blob"):
        tops('name: "s" type: "Silence" bottom: "a" top: "b"', (2, 3))


def test_filter_keeps_full_shapes_at_setup() -> None:
    text = 'name: "f" type: "Filter" bottom: "x" bottom: "y" bottom: "sel" top: "fx" top: "fy"'
    assert tops(text, (8, 3, 4), (8,), (8, 1)) == [(8, 3, 4), (8,)]
    with pytest.raises(ShapeError, match="Selector blob dimensions must be singletons"):
        tops(text, (8, 3, 4), (8,), (8, 2))
    with pytest.raises(ShapeError, match="same 0th dimension as the selector"):
        tops(text, (8, 3, 4), (7,), (8,))
    with pytest.raises(ShapeError, match="one top per filtered bottom"):
        tops('name: "f" type: "Filter" bottom: "x" bottom: "sel" top: "a" top: "b"', (8, 3), (8,))


def test_batch_reindex() -> None:
    assert tops('name: "r" type: "BatchReindex" bottom: "x" bottom: "idx" top: "y"', (8, 3, 4), (5,)) == [(5, 3, 4)]
    with pytest.raises(ShapeError, match="index bottom must have 1 axis"):
        tops('name: "r" type: "BatchReindex" bottom: "x" bottom: "idx" top: "y"', (8, 3), (5, 1))


def test_parameter_blob_and_top() -> None:
    text = 'name: "p" type: "Parameter" top: "w" parameter_param { shape { dim: 10 dim: 3 } }'
    assert tops(text) == [(10, 3)]
    [blob] = make(text).param_shapes([])
    assert (blob.shape, blob.kind) == ((10, 3), "weight")
