"""LRN: shape, the odd local_size and 4-D CHECKs, counts and windows of both regions."""

from __future__ import annotations

import pytest
from google.protobuf import text_format

from caffecx.errors import ShapeError
from caffecx.layers import Context, Counts, Window, layer_class
from caffecx.proto import caffe_pb2


def lrn(params: str):  # noqa: ANN201
    lp = text_format.Parse(
        f'name: "n" type: "LRN" top: "n" lrn_param {{ {params} }}', caffe_pb2.LayerParameter()
    )
    return layer_class(lp.type)(lp)


def test_across_channels() -> None:
    n = lrn("local_size: 5 alpha: 0.0001 beta: 0.75")
    assert n.setup([(1, 96, 55, 55)], Context()) == [(1, 96, 55, 55)]
    assert n.counts([(1, 96, 55, 55)], [(1, 96, 55, 55)]) == Counts(0, 10 * 96 * 55 * 55)
    assert n.window([(1, 96, 55, 55)]) is None  # spatially pointwise


def test_within_channel() -> None:
    n = lrn("local_size: 3 norm_region: WITHIN_CHANNEL")
    assert n.setup([(2, 12, 7, 7)], Context()) == [(2, 12, 7, 7)]
    assert n.counts([(2, 12, 7, 7)], [(2, 12, 7, 7)]) == Counts(0, 15 * 2 * 12 * 49)
    assert n.window([(2, 12, 7, 7)]) == Window((3, 3), (1, 1), (1, 1), (1, 1))


def test_checks() -> None:
    with pytest.raises(ShapeError, match="odd values for local_size"):
        lrn("local_size: 4").setup([(1, 8, 5, 5)], Context())
    with pytest.raises(ShapeError, match="4 axes"):
        lrn("local_size: 3").setup([(8, 5, 5)], Context())
