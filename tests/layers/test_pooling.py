"""Pooling and SPP: Caffe's ceil rounding, the clip rule, global pooling, CHECKs and counts."""

from __future__ import annotations

import pytest
from google.protobuf import text_format

from caffecx.errors import ShapeError
from caffecx.layers import GLOBAL, Context, Counts, Window, layer_class
from caffecx.proto import caffe_pb2


def pool(params: str, tops: int = 1, type_: str = "Pooling", field: str = "pooling_param"):  # noqa: ANN201
    top = " ".join(f'top: "t{i}"' for i in range(tops))
    lp = text_format.Parse(
        f'name: "p" type: "{type_}" {top} {field} {{ {params} }}', caffe_pb2.LayerParameter()
    )
    return layer_class(lp.type)(lp)


def shape(params: str, bottom: tuple[int, ...]) -> tuple[int, ...]:
    return pool(params).setup([bottom], Context())[0]


def test_googlenet_ceil_rounding() -> None:
    assert shape("pool: MAX kernel_size: 3 stride: 2", (1, 64, 112, 112)) == (1, 64, 56, 56)
    assert shape("pool: MAX kernel_size: 3 stride: 2", (1, 192, 56, 56)) == (1, 192, 28, 28)
    assert shape("pool: MAX kernel_size: 3 stride: 2", (1, 480, 28, 28)) == (1, 480, 14, 14)
    assert shape("pool: MAX kernel_size: 3 stride: 2", (1, 832, 14, 14)) == (1, 832, 7, 7)


def test_floor_round_mode() -> None:
    assert shape("pool: MAX kernel_size: 3 stride: 2 round_mode: FLOOR", (1, 64, 112, 112)) == (1, 64, 55, 55)


def test_clip_rule_drops_a_window_starting_in_the_padding() -> None:
    # ceil((5+2-2)/2)+1 = 4, but window 4 would start at 3*2-1 = 5, in the padding: Caffe keeps 3
    assert shape("pool: MAX kernel_size: 2 stride: 2 pad: 1", (1, 1, 5, 5)) == (1, 1, 3, 3)
    # no padding, no clip: ceil((5-2)/2)+1 = 3 with the last window hanging over the edge
    assert shape("pool: MAX kernel_size: 2 stride: 2", (1, 1, 5, 5)) == (1, 1, 3, 3)
    # layers_1 pool1b: W 9 -> 5 (floor would give 4), H 20 -> 10
    assert shape("pool: AVE kernel_size: 4 stride: 2 pad: 1", (3, 8, 20, 9)) == (3, 8, 10, 5)


def test_rectangular_kernel_pad_and_stride() -> None:
    p = "pool: AVE kernel_h: 3 kernel_w: 1 stride_h: 2 stride_w: 1 pad_h: 1 pad_w: 0"
    assert shape(p, (2, 3, 9, 4)) == (2, 3, 5, 4)
    assert pool(p).window([(2, 3, 9, 4)]) == Window((3, 1), (2, 1), (1, 0), (1, 1))


def test_global_pooling_takes_the_whole_input() -> None:
    p = pool("pool: AVE global_pooling: true")
    assert p.setup([(2, 2048, 7, 7)], Context()) == [(2, 2048, 1, 1)]
    assert p.window([(2, 2048, 7, 7)]) == GLOBAL
    assert p.counts([(2, 2048, 7, 7)], [(2, 2048, 1, 1)]) == Counts(0, 2 * 2048 * (49 + 1))


def test_max_pooling_may_have_a_mask_top_but_ave_may_not() -> None:
    assert (
        pool("pool: MAX kernel_size: 2 stride: 2", tops=2).setup([(1, 3, 8, 8)], Context())
        == [(1, 3, 4, 4)] * 2
    )
    with pytest.raises(ShapeError, match="at most 1 top"):
        pool("pool: AVE kernel_size: 2 stride: 2", tops=2).setup([(1, 3, 8, 8)], Context())


def test_counts_convention() -> None:
    # MAX: one comparison per window element; AVE: one add per element + one division per output
    assert pool("pool: MAX kernel_size: 3 stride: 2").counts([(1, 2, 9, 9)], [(1, 2, 4, 4)]) == Counts(
        0, 32 * 9
    )
    assert pool("pool: AVE kernel_size: 3 stride: 2").counts([(1, 2, 9, 9)], [(1, 2, 4, 4)]) == Counts(
        0, 32 * 10
    )


@pytest.mark.parametrize(
    ("params", "bottom", "message"),
    [
        ("pool: MAX kernel_size: 2 pad: 2", (1, 1, 8, 8), r"pad_h_ < kernel_h_ \(2 vs. 2\)"),
        (
            "pool: STOCHASTIC kernel_size: 3 pad: 1",
            (1, 1, 8, 8),
            "Padding implemented only for average and max",
        ),
        ("pool: MAX kernel_size: 2 kernel_h: 2 kernel_w: 2", (1, 1, 8, 8), "not both"),
        # Caffe's first CHECK already fires (with its "not both" wording) when a kernel is missing
        ("pool: MAX kernel_h: 2", (1, 1, 8, 8), "kernel_size OR kernel_h and kernel_w"),
        ("pool: MAX", (1, 1, 8, 8), "kernel_size OR kernel_h and kernel_w"),
        ("pool: AVE global_pooling: true kernel_size: 2", (1, 1, 8, 8), "Filter size cannot specified"),
        ("pool: AVE global_pooling: true stride: 2", (1, 1, 8, 8), "only pad = 0 and stride = 1"),
        ("pool: MAX kernel_size: 2 pad: 1 pad_h: 1 pad_w: 1", (1, 1, 8, 8), "pad is pad OR pad_h and pad_w"),
        ("pool: MAX kernel_size: 2", (1, 8, 8), "Input must have 4 axes"),
    ],
)
def test_caffe_checks(params: str, bottom: tuple[int, ...], message: str) -> None:
    with pytest.raises(ShapeError, match=message):
        pool(params).setup([bottom], Context())


def spp(params: str):  # noqa: ANN201
    return pool(params, type_="SPP", field="spp_param")


def test_spp_concatenates_flattened_levels() -> None:
    s = spp("pyramid_height: 3 pool: MAX")
    assert s.setup([(2, 6, 13, 13)], Context()) == [(2, 6 * (1 + 4 + 16))]
    assert s.window([(2, 6, 13, 13)]) == GLOBAL
    # levels: 1x1 (k13), 2x2 (k7), 4x4 (k4): one comparison per window element
    assert s.counts([(2, 6, 13, 13)], [(2, 126)]) == Counts(0, 12 * (169 + 4 * 49 + 16 * 16))


def test_spp_pyramid_height_1_keeps_the_pooling_shape() -> None:
    assert spp("pyramid_height: 1 pool: AVE").setup([(2, 6, 12, 12)], Context()) == [(2, 6, 1, 1)]


def test_spp_inherits_the_pooling_pad_check() -> None:
    # 5 rows at 4 bins: kernel 2, pad (8-5+1)//2 = 2, and Caffe's pooling CHECK pad < kernel aborts
    with pytest.raises(ShapeError, match="pyramid level 2"):
        spp("pyramid_height: 3 pool: MAX").setup([(1, 1, 5, 5)], Context())
