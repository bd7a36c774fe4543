"""Silence, Filter, BatchReindex, Parameter, HDF5Output."""

from __future__ import annotations

import numpy as np
import pytest
from layerkit import make, run, tops

from caffecx.errors import ShapeError
from caffecx.layers import Context


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


# -- forward ------------------------------------------------------------------------------------------
def test_silence_produces_nothing_and_hdf5_output_is_refused() -> None:
    assert run('name: "s" type: "Silence" bottom: "a"', np.ones(3)) == []
    layer = make('name: "h" type: "HDF5Output" bottom: "d" bottom: "l"')
    layer.setup([(2, 3), (2,)], Context())
    assert "writes" in layer.forward_refusal()


def test_filter_keeps_the_selected_items_in_order() -> None:
    x, y = np.arange(12.0).reshape(4, 3), np.array([10.0, 11.0, 12.0, 13.0])
    fx, fy = run('name: "f" type: "Filter" bottom: "x" bottom: "y" bottom: "s" top: "fx" top: "fy"',
                 x, y, np.array([[0.0], [2.0], [0.0], [-1.0]]))
    assert fx.tolist() == [[3, 4, 5], [9, 10, 11]] and fy.tolist() == [11.0, 13.0]
    (none,) = run('name: "f" type: "Filter" bottom: "x" bottom: "s" top: "fx"', x, np.zeros(4))
    assert none.shape == (0, 3)


def test_batch_reindex_gathers_and_checks_the_indices() -> None:
    x = np.arange(8.0).reshape(4, 2)
    (top,) = run('name: "r" type: "BatchReindex" bottom: "x" bottom: "i" top: "y"', x, np.array([3.0, 0.0, 3.0, 1.7, 2.0]))
    assert top.tolist() == [[6, 7], [0, 1], [6, 7], [2, 3], [4, 5]]
    for bad in (4.0, -0.5):
        with pytest.raises(ShapeError, match="out of range"):
            run('name: "r" type: "BatchReindex" bottom: "x" bottom: "i" top: "y"', x, np.array([0.0, bad]))


def test_parameter_top_is_its_blob() -> None:
    blob = np.arange(6, dtype=np.float32).reshape(2, 3)
    (top,) = run('name: "p" type: "Parameter" top: "w" parameter_param { shape { dim: 2 dim: 3 } }', blobs=[blob])
    assert top.tolist() == blob.tolist()
