"""LRN: shape, the odd local_size and 4-D CHECKs, counts and windows of both regions."""

from __future__ import annotations

import itertools

import numpy as np
import pytest
from google.protobuf import text_format
from layerkit import run

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



# -- forward ------------------------------------------------------------------------------------------


def lrn_run(params: str, x: np.ndarray, dtype: type = np.float32) -> np.ndarray:
    (top,) = run(f'name: "n" type: "LRN" bottom: "x" top: "y" lrn_param {{ {params} }}', x, dtype=dtype)
    return top


def test_across_channels_hand_worked_with_zero_padded_ends() -> None:
    x = np.array([1, 2, 3], dtype=np.float32).reshape(1, 3, 1, 1)
    # alpha/size = 1, k = 1, beta = 1: scales 1+(1+4), 1+(1+4+9), 1+(4+9)
    top = lrn_run("local_size: 3 alpha: 3 beta: 1 k: 1", x)
    np.testing.assert_allclose(top.ravel(), [1 / 6, 2 / 15, 3 / 14], rtol=1e-6)


def test_within_channel_ignores_k_and_divides_by_the_full_window() -> None:
    x = np.array([[[[1, 2], [3, 4]]]], dtype=np.float32)
    # every 3x3 window (pad 1) covers all 4 pixels: avg = 30/9; (1 + 0.9*30/9)^-0.5 = 1/2; k is unused
    top = lrn_run("local_size: 3 alpha: 0.9 beta: 0.5 k: 5 norm_region: WITHIN_CHANNEL", x)
    np.testing.assert_allclose(top[0, 0], [[0.5, 1], [1.5, 2]], rtol=1e-6)


def naive_lrn(x: np.ndarray, size: int, alpha: float, beta: float, k: float, within: bool) -> np.ndarray:
    x = x.astype(np.float64)
    n, c, h, w = x.shape
    half = (size - 1) // 2
    y = np.empty_like(x)
    for i, ch, r, q in itertools.product(range(n), range(c), range(h), range(w)):
        if within:
            win = x[i, ch, max(r - half, 0):r + half + 1, max(q - half, 0):q + half + 1]
            scale = 1 + alpha * float((win**2).sum()) / size**2
        else:
            win = x[i, max(ch - half, 0):ch + half + 1, r, q]
            scale = k + alpha / size * float((win**2).sum())
        y[i, ch, r, q] = x[i, ch, r, q] * scale**-beta
    return y


@pytest.mark.parametrize("within", [False, True])
@pytest.mark.parametrize("size", [1, 3, 5])
def test_lrn_matches_a_naive_loop(within: bool, size: int) -> None:
    x = np.random.default_rng(2).standard_normal((2, 4, 3, 5)).astype(np.float32) * 3
    region = "WITHIN_CHANNEL" if within else "ACROSS_CHANNELS"
    params = f"local_size: {size} alpha: 0.7 beta: 0.75 k: 1.5 norm_region: {region}"
    f32 = [float(np.float32(v)) for v in (0.7, 0.75, 1.5)]  # the proto stores floats, as Caffe reads them
    want = naive_lrn(x, size, *f32, within)
    got = lrn_run(params, x)
    assert got.dtype == np.float32
    np.testing.assert_allclose(got, want, rtol=2e-6, atol=1e-6)
    np.testing.assert_allclose(lrn_run(params, x, dtype=np.float64), want, rtol=1e-12)
