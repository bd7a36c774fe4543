"""Embed forward: rows of the (input_dim, num_output) table picked by the truncated bottom values, + bias."""

from __future__ import annotations

import numpy as np
import pytest
from layerkit import make, run

from caffecx.errors import ShapeError

TABLE = np.arange(12, dtype=np.float64).reshape(4, 3)  # input_dim 4, num_output 3
EMBED = 'name: "emb" type: "Embed" bottom: "i" top: "e" embed_param { num_output: 3 input_dim: 4 '


def test_lookup_appends_an_axis_and_adds_the_bias() -> None:
    idx = np.array([[0.0, 3.0], [2.0, 2.0]])
    (top,) = run(EMBED + "}", idx, blobs=[TABLE, np.array([0.5, 0.0, -0.5])])
    assert top.shape == (2, 2, 3)
    assert top[0, 1].tolist() == [9.5, 10.0, 10.5] and top[1, 0].tolist() == [6.5, 7.0, 7.5]
    (top,) = run(EMBED + "bias_term: false }", idx, blobs=[TABLE])
    assert top[0, 0].tolist() == [0.0, 1.0, 2.0]


def test_values_are_truncated_like_static_cast_int() -> None:
    (top,) = run(EMBED + "bias_term: false }", np.array([2.9, -0.5, 1.0001]), blobs=[TABLE])
    assert top[:, 0].tolist() == [6.0, 0.0, 3.0]


@pytest.mark.parametrize("bad", [4.0, -1.0, np.nan])
def test_an_index_out_of_range_is_a_located_error(bad: float) -> None:
    with pytest.raises(ShapeError, match="out of range") as info:
        run(EMBED + "bias_term: false }", np.array([1.0, bad]), blobs=[TABLE])
    assert info.value.location.layer == "emb"


def test_fillers_are_the_params_fillers() -> None:
    w, b = make(EMBED + 'weight_filler { type: "gaussian" } }').param_shapes([(5,)])
    assert (w.shape, w.filler.type, b.shape, b.filler) == ((4, 3), "gaussian", (3,), None)
