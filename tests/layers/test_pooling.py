"""Pooling and SPP: Caffe's ceil rounding, the clip rule, global pooling, CHECKs and counts."""

from __future__ import annotations

import itertools

import numpy as np
import pytest
from google.protobuf import text_format
from layerkit import make, run

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



# -- forward ------------------------------------------------------------------------------------------

FLT_MAX = float(np.finfo(np.float32).max)


def caffe_pool(x: np.ndarray, method: str, kernel: tuple[int, int], stride: tuple[int, int],
               pad: tuple[int, int], out: tuple[int, int]) -> tuple[np.ndarray, np.ndarray]:
    """Caffe's Forward_cpu loops, transcribed: (top, mask) in float64."""
    x = x.astype(np.float64)
    n, c, h, w = x.shape
    top = np.zeros((n, c, *out))
    mask = np.full((n, c, *out), -1.0)
    for i, j, ph, pw in itertools.product(range(n), range(c), range(out[0]), range(out[1])):
        hs, ws = ph * stride[0] - pad[0], pw * stride[1] - pad[1]
        if method == "MAX":
            he, we = min(hs + kernel[0], h), min(ws + kernel[1], w)
            best = -FLT_MAX
            for y, z in itertools.product(range(max(hs, 0), he), range(max(ws, 0), we)):
                if x[i, j, y, z] > best:
                    best, mask[i, j, ph, pw] = x[i, j, y, z], y * w + z
            top[i, j, ph, pw] = best
        else:
            he, we = min(hs + kernel[0], h + pad[0]), min(ws + kernel[1], w + pad[1])
            size = (he - hs) * (we - ws)
            region = x[i, j, max(hs, 0):min(he, h), max(ws, 0):min(we, w)]
            top[i, j, ph, pw] = region.sum() / size
    return top, mask


def pool_run(params: str, x: np.ndarray, tops: int = 1, dtype: type = np.float32) -> list[np.ndarray]:
    names = " ".join(f'top: "t{i}"' for i in range(tops))
    return run(f'name: "p" type: "Pooling" bottom: "x" {names} pooling_param {{ {params} }}', x, dtype=dtype)


def test_ave_divisor_counts_the_padding_but_not_the_ceil_overrun() -> None:
    x = np.arange(16, dtype=np.float32).reshape(1, 1, 4, 4)
    (top,) = pool_run("pool: AVE kernel_size: 3 stride: 2 pad: 1", x)
    # windows per axis start -1, 1, 3 and are clipped to the PADDED extent 5: sizes 3, 3, 2
    want = [[(0 + 1 + 4 + 5) / 9, (1 + 2 + 3 + 5 + 6 + 7) / 9, (3 + 7) / 6],
            [(4 + 5 + 8 + 9 + 12 + 13) / 9, 90 / 9, (7 + 11 + 15) / 6],
            [(12 + 13) / 6, (13 + 14 + 15) / 6, 15 / 4]]
    np.testing.assert_allclose(top[0, 0], want, rtol=1e-6)


def test_ave_without_padding_divides_the_ceil_overrun_window_by_its_clipped_size() -> None:
    # 5 wide, k 2 s 2, no pad: 3 windows, the last covers only column 4 -> divisor 1 (no padding to count)
    x = np.arange(5, dtype=np.float32).reshape(1, 1, 1, 5)
    (top,) = pool_run("pool: AVE kernel_h: 1 kernel_w: 2 stride_h: 1 stride_w: 2", x)
    assert top[0, 0].tolist() == [[0.5, 2.5, 4.0]]


def test_max_padding_never_wins_and_mask_is_the_flat_index() -> None:
    x = -np.arange(1, 17, dtype=np.float32).reshape(1, 1, 4, 4)
    top, mask = pool_run("pool: MAX kernel_size: 3 stride: 2 pad: 1", x, tops=2)
    assert top[0, 0].tolist() == [[-1, -2, -4], [-5, -6, -8], [-13, -14, -16]]
    assert mask.dtype == np.float32
    assert mask[0, 0].tolist() == [[0, 1, 3], [4, 5, 7], [12, 13, 15]]


def test_max_ties_keep_the_first_position_in_scan_order() -> None:
    x = np.ones((1, 1, 2, 4), dtype=np.float32)
    _, mask = pool_run("pool: MAX kernel_size: 2 stride: 2", x, tops=2)
    assert mask[0, 0].tolist() == [[0, 2]]


def test_max_clip_rule_and_ceil_overrun() -> None:
    x = np.arange(25, dtype=np.float32).reshape(1, 1, 5, 5)
    top, mask = pool_run("pool: MAX kernel_size: 2 stride: 2 pad: 1", x, tops=2)
    assert top.shape == (1, 1, 3, 3)  # the 4th window would start in the padding
    assert top[0, 0].tolist() == [[0, 2, 4], [10, 12, 14], [20, 22, 24]]
    top, _ = pool_run("pool: MAX kernel_size: 2 stride: 2", x, tops=2)  # ceil: the last window hangs over
    assert top[0, 0].tolist() == [[6, 8, 9], [16, 18, 19], [21, 23, 24]]


def test_max_of_only_minus_infinity_is_minus_flt_max_with_mask_minus_one() -> None:
    x = np.full((1, 1, 2, 2), -np.inf, dtype=np.float32)
    top, mask = pool_run("pool: MAX kernel_size: 2", x, tops=2)
    assert top.item() == -FLT_MAX and mask.item() == -1
    x = np.array([[[[np.nan, 1], [2, np.nan]]]], dtype=np.float32)  # NaN never beats (strict '>')
    top, mask = pool_run("pool: MAX kernel_size: 1 stride: 1", x, tops=2)
    assert top[0, 0].tolist() == [[-FLT_MAX, 1], [2, -FLT_MAX]]
    top, mask = pool_run("pool: MAX kernel_size: 2", x, tops=2)
    assert top.item() == 2 and mask.item() == 2


@pytest.mark.parametrize("params", [
    "pool: MAX kernel_size: 3 stride: 2",
    "pool: MAX kernel_size: 3 stride: 2 pad: 1",
    "pool: AVE kernel_size: 3 stride: 2 pad: 1",
    "pool: AVE kernel_size: 4 stride: 2 pad: 1",
    "pool: AVE kernel_h: 3 kernel_w: 2 stride_h: 1 stride_w: 3 pad_h: 2 pad_w: 1",
    "pool: MAX kernel_h: 3 kernel_w: 2 stride_h: 1 stride_w: 3 pad_h: 2 pad_w: 1",
    "pool: AVE global_pooling: true",
    "pool: MAX global_pooling: true",
    "pool: AVE kernel_size: 5 pad: 2",  # 1x1 output through the reduction path, padding counted
    "pool: MAX kernel_size: 7 pad: 2 round_mode: FLOOR",
])
def test_pooling_matches_caffes_loops(params: str) -> None:
    rng = np.random.default_rng(1)
    x = rng.standard_normal((2, 3, 5, 7)).astype(np.float32)
    layer = make(f'name: "p" type: "Pooling" bottom: "x" top: "t" pooling_param {{ {params} }}')
    (shape,) = layer.setup([x.shape], Context())
    geo = layer.parsed
    want, want_mask = caffe_pool(x, layer.method(), geo.kernel, geo.stride, geo.pad, shape[2:])
    tops = pool_run(params, x, tops=2 if layer.method() == "MAX" else 1)
    np.testing.assert_allclose(tops[0], want, rtol=1e-6, atol=1e-6)
    if len(tops) == 2:
        assert tops[1].tolist() == want_mask.tolist()
    (top64,) = pool_run(params, x, dtype=np.float64)
    assert top64.dtype == np.float64
    np.testing.assert_allclose(top64, want, rtol=1e-12, atol=1e-12)


def test_stochastic_pooling_is_refused() -> None:
    layer = make('name: "p" type: "Pooling" bottom: "x" top: "t" pooling_param { pool: STOCHASTIC kernel_size: 2 }')
    layer.setup([(1, 1, 4, 4)], Context())
    assert "STOCHASTIC" in layer.forward_refusal()
    spp_layer = make('name: "s" type: "SPP" bottom: "x" top: "t" spp_param { pyramid_height: 2 pool: STOCHASTIC }')
    spp_layer.setup([(1, 1, 4, 4)], Context())
    assert "STOCHASTIC" in spp_layer.forward_refusal()


# Caffe's own test_pooling_layer.cpp: its active forward cases, inputs and EXPECT values as it states them
MAGIC6 = [35, 1, 6, 26, 19, 24, 3, 32, 7, 21, 23, 25, 31, 9, 2, 22, 27, 20, 8, 28, 33, 17, 10, 15, 30, 5, 34, 12,
          14, 16, 4, 36, 29, 13, 18, 11]  # MATLAB's magic(6), as Caffe's test fills it


@pytest.mark.parametrize(("kernel", "size", "given", "want", "want_mask"), [
    ((2, 2), (3, 5), [1, 2, 5, 2, 3, 9, 4, 1, 4, 8, 1, 2, 5, 2, 3],  # TestForwardSquare
     [9, 5, 5, 8, 9, 5, 5, 8], [5, 2, 2, 9, 5, 12, 12, 9]),
    ((3, 2), (6, 6), MAGIC6,  # TestForwardRectHigh
     [35, 32, 26, 27, 27, 32, 33, 33, 27, 27, 31, 34, 34, 27, 27, 36, 36, 34, 18, 18],
     [0, 7, 3, 16, 16, 7, 20, 20, 16, 16, 12, 26, 26, 16, 16, 31, 31, 26, 34, 34]),
    ((2, 3), (6, 6), MAGIC6,  # TestForwardRectWide
     [35, 32, 26, 26, 32, 32, 27, 27, 33, 33, 33, 27, 34, 34, 34, 17, 36, 36, 34, 18],
     [0, 7, 3, 3, 7, 7, 16, 16, 20, 20, 20, 16, 26, 26, 26, 21, 31, 31, 26, 34]),
])
def test_caffes_own_max_pooling_cases(kernel: tuple[int, int], size: tuple[int, int], given: list[int],
                                      want: list[int], want_mask: list[int]) -> None:
    """TestForwardMax / TestForwardMaxTopMask: 2 images x 2 channels of the same plane, stride 1."""
    x = np.tile(np.array(given, dtype=np.float32).reshape(size), (2, 2, 1, 1))
    top, mask = pool_run(f"pool: MAX kernel_h: {kernel[0]} kernel_w: {kernel[1]}", x, tops=2)
    (only,) = pool_run(f"pool: MAX kernel_h: {kernel[0]} kernel_w: {kernel[1]}", x)
    out_size = (size[0] - kernel[0] + 1, size[1] - kernel[1] + 1)
    for got in (top, only):
        np.testing.assert_array_equal(got, np.tile(np.array(want, np.float32).reshape(out_size), (2, 2, 1, 1)))
    np.testing.assert_array_equal(mask, np.tile(np.array(want_mask, np.float32).reshape(out_size), (2, 2, 1, 1)))


def test_caffes_own_ave_pooling_case() -> None:
    """TestForwardAve: a 3x3 plane of 2s, kernel 3, stride 1, pad 1: the padding counts in the divisor."""
    (top,) = pool_run("pool: AVE kernel_size: 3 stride: 1 pad: 1", np.full((1, 1, 3, 3), 2, dtype=np.float32))
    corner, edge = 8 / 9, 4 / 3
    np.testing.assert_allclose(top[0, 0], [[corner, edge, corner], [edge, 2, edge], [corner, edge, corner]],
                               atol=1e-5)


@pytest.mark.parametrize(("params", "want"), [
    ("kernel_size: 3 stride: 2", (3, 2)),  # TestSetup
    ("kernel_size: 3 stride: 2 pad: 1 pool: AVE", (4, 3)),  # TestSetupPadded
    ("global_pooling: true pool: AVE", (1, 1)),  # TestSetupGlobalPooling
])
def test_caffes_own_pooling_setup_cases(params: str, want: tuple[int, int]) -> None:
    """Caffe's set-up tests, on their fixture's 2x3x6x5 bottom."""
    assert shape(params, (2, 3, 6, 5)) == (2, 3, *want)
