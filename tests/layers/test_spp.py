"""SPP forward: per level the Pooling forward, flattened, levels concatenated in order."""

from __future__ import annotations

import numpy as np
from layerkit import run


def spp_run(params: str, x: np.ndarray) -> np.ndarray:
    (top,) = run(f'name: "s" type: "SPP" bottom: "x" top: "t" spp_param {{ {params} }}', x)
    return top


def test_spp_forward_flattens_each_level_then_concatenates() -> None:
    x = np.arange(2 * 2 * 5 * 5, dtype=np.float32).reshape(2, 2, 5, 5)
    top = spp_run("pyramid_height: 2 pool: MAX", x)
    assert top.shape == (2, 2 * (1 + 4))
    # level 0: one 5x5 window per channel; level 1: kernel 3, pad (6-5+1)//2 = 1, stride 3 -> 2x2
    level0 = x.max(axis=(2, 3))
    want1 = np.stack([x[:, :, :2, :2].max(axis=(2, 3)), x[:, :, :2, 2:].max(axis=(2, 3)),
                      x[:, :, 2:, :2].max(axis=(2, 3)), x[:, :, 2:, 2:].max(axis=(2, 3))], axis=2)
    np.testing.assert_array_equal(top, np.concatenate([level0, want1.reshape(2, -1)], axis=1))


def test_spp_ave_uses_the_pooling_border_divisor() -> None:
    x = np.ones((1, 1, 5, 5), dtype=np.float32)
    top = spp_run("pyramid_height: 2 pool: AVE", x)
    # level 1: windows [-1, 2) and [2, 5) clipped to the padded extent 6: 3 rows each, but the first
    # covers one padded row: 2 real rows -> sums 4, 6, 6, 9 over 9 cells
    np.testing.assert_allclose(top[0], [1, 4 / 9, 6 / 9, 6 / 9, 1], rtol=1e-6)


def test_spp_pyramid_height_1_returns_the_pooled_map() -> None:
    x = np.arange(8, dtype=np.float32).reshape(1, 2, 2, 2)
    top = spp_run("pyramid_height: 1 pool: AVE", x)
    assert top.shape == (1, 2, 1, 1) and top.ravel().tolist() == [1.5, 5.5]


def test_spp_three_levels_match_manual_pooling() -> None:
    x = np.random.default_rng(4).standard_normal((2, 3, 8, 6)).astype(np.float32)
    top = spp_run("pyramid_height: 3 pool: MAX", x)
    # level 2 (4 bins): H 8 -> kernel 2 pad 0; W 6 -> kernel 2, pad (8-6+1)//2 = 1: windows start -1, 1, 3, 5
    padded = np.pad(x, ((0, 0), (0, 0), (0, 0), (1, 1)), constant_values=-np.inf)
    level2 = padded.reshape(2, 3, 4, 2, 4, 2).max(axis=(3, 5))
    assert top.shape == (2, 3 * (1 + 4 + 16))
    np.testing.assert_array_equal(top[:, 3 * 5:], level2.reshape(2, -1))
    np.testing.assert_array_equal(top[:, :3], x.max(axis=(2, 3)))
