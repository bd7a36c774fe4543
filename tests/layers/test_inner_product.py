"""InnerProduct and Embed: axis, transpose, bias, weight layouts and counts."""

from __future__ import annotations

import numpy as np
import pytest
from google.protobuf import text_format
from layerkit import run

from caffecx.errors import ShapeError
from caffecx.layers import GLOBAL, Context, Counts, layer_class
from caffecx.proto import caffe_pb2


def make(text: str):  # noqa: ANN201
    lp = text_format.Parse(text, caffe_pb2.LayerParameter())
    return layer_class(lp.type)(lp)


def ip(params: str):  # noqa: ANN201
    return make(f'name: "fc" type: "InnerProduct" top: "fc" inner_product_param {{ {params} }}')


def test_default_axis_flattens_everything_after_num() -> None:
    f = ip("num_output: 10")
    assert f.setup([(2, 12, 7, 7)], Context()) == [(2, 10)]  # layers_3_v1 ip1: K = 588
    assert [b.shape for b in f.param_shapes([(2, 12, 7, 7)])] == [(10, 588), (10,)]
    assert f.counts([(2, 12, 7, 7)], [(2, 10)]) == Counts(2 * 588 * 10, 2 * 2 * 588 * 10 + 20)
    assert f.window([(2, 12, 7, 7)]) == GLOBAL


def test_axis_2_keeps_the_leading_axes() -> None:
    f = ip("num_output: 7 axis: 2 bias_term: false")
    assert f.setup([(2, 3, 4, 5)], Context()) == [(2, 3, 7)]
    assert [b.shape for b in f.param_shapes([(2, 3, 4, 5)])] == [(7, 20)]
    assert f.counts([(2, 3, 4, 5)], [(2, 3, 7)]) == Counts(6 * 20 * 7, 2 * 6 * 20 * 7)
    assert ip("num_output: 7 axis: -1").setup([(2, 3, 4, 5)], Context()) == [(2, 3, 4, 7)]


def test_transpose_swaps_the_weight_axes() -> None:
    f = ip("num_output: 3 transpose: true")
    assert [b.shape for b in f.param_shapes([(2, 30)])] == [(30, 3), (3,)]  # layers_2 ip_t


def test_axis_out_of_range() -> None:
    with pytest.raises(ShapeError, match="axis 4 out of range"):
        ip("num_output: 3 axis: 4").setup([(2, 3, 4, 5)], Context())


def embed(params: str):  # noqa: ANN201
    return make(f'name: "emb" type: "Embed" top: "e" embed_param {{ {params} }}')


def test_embed_appends_an_axis_and_stores_a_lookup_table() -> None:
    e = embed("num_output: 64 input_dim: 1000")
    assert e.setup([(10, 20)], Context()) == [(10, 20, 64)]
    assert [b.shape for b in e.param_shapes([(10, 20)])] == [(1000, 64), (64,)]
    assert e.counts([(10, 20)], [(10, 20, 64)]) == Counts(0, 200 * 64)
    assert embed("num_output: 8 input_dim: 5 bias_term: false").counts([(3,)], [(3, 8)]) == Counts(0, 0)


def test_embed_checks() -> None:
    with pytest.raises(ShapeError, match="input_dim must be positive"):
        embed("num_output: 64").setup([(10,)], Context())
    with pytest.raises(ShapeError, match="num_output must be positive"):
        embed("input_dim: 64").setup([(10,)], Context())


# -- forward ------------------------------------------------------------------------------------------
def test_forward_rows_times_weight_rows_plus_bias() -> None:
    x = np.array([[1.0, 2.0, 3.0], [0.0, -1.0, 1.0]])
    w = np.array([[1.0, 0.0, 0.0], [1.0, 1.0, 1.0]])  # (num_output, K)
    text = 'name: "ip" type: "InnerProduct" bottom: "x" top: "y" inner_product_param { num_output: 2 }'
    (top,) = run(text, x, blobs=[w, np.array([10.0, 20.0])])
    assert top.tolist() == [[11.0, 26.0], [10.0, 20.0]]
    transposed = text.replace("num_output: 2", "num_output: 2 transpose: true bias_term: false")
    (top,) = run(transposed, x, blobs=[w.T])  # (K, num_output)
    assert top.tolist() == [[1.0, 6.0], [0.0, 0.0]]


def test_forward_axis_2_keeps_the_leading_axes() -> None:
    x = np.arange(24, dtype=np.float64).reshape(2, 3, 2, 2)
    w = np.arange(8, dtype=np.float64).reshape(2, 4) - 3
    text = 'name: "ip" type: "InnerProduct" bottom: "x" top: "y" inner_product_param { num_output: 2 axis: 2 bias_term: false }'
    (top,) = run(text, x, blobs=[w])
    want = np.array([[[sum(x[n, c].reshape(-1)[k] * w[o, k] for k in range(4)) for o in range(2)] for c in range(3)]
                     for n in range(2)])
    np.testing.assert_allclose(top, want)


def test_fillers_are_the_params_fillers() -> None:
    blobs = make('name: "ip" type: "InnerProduct" inner_product_param { num_output: 2 weight_filler { type: "xavier" } }'
                 ).param_shapes([(4, 3)])
    assert blobs[0].filler.type == "xavier" and blobs[1].filler is None
