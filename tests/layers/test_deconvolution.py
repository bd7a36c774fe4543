"""Deconvolution forward: a naive scatter (every input pixel stamps its weights onto the output)."""

from __future__ import annotations

import itertools

import numpy as np
import pytest
from layerkit import run


def naive_deconv(x: np.ndarray, w: np.ndarray, b: np.ndarray | None, stride: tuple[int, ...],
                 pad: tuple[int, ...], dilation: tuple[int, ...], group: int) -> np.ndarray:
    """Input pixel ``i`` of channel ``ci`` adds ``x * w[ci, co, t]`` at output ``i*stride - pad +
    t*dilation`` (dropped outside the output), for the ``co`` of its group; then the bias."""
    num, c_in, *spatial = x.shape
    _, og, *kernel = w.shape
    out = [st * (s - 1) + d * (k - 1) + 1 - 2 * p
           for s, st, d, k, p in zip(spatial, stride, dilation, kernel, pad, strict=True)]
    y = np.zeros((num, og * group, *out))
    ig = c_in // group
    for n, ci in itertools.product(range(num), range(c_in)):
        g = ci // ig
        for pos in itertools.product(*(range(s) for s in spatial)):
            for co, taps in itertools.product(range(og), itertools.product(*(range(k) for k in kernel))):
                dst = [i * st - p + t * d for i, st, p, t, d in zip(pos, stride, pad, taps, dilation, strict=True)]
                if all(0 <= v < o for v, o in zip(dst, out, strict=True)):
                    y[(n, g * og + co, *dst)] += float(x[(n, ci, *pos)]) * float(w[(ci, co, *taps)])
    if b is not None:
        y += b.reshape(-1, *(1,) * len(out))
    return y


RNG = np.random.default_rng(3)


@pytest.mark.parametrize(("params", "shape", "wshape", "stride", "pad", "dil", "group"), [
    ("num_output: 3 kernel_size: 2 stride: 2", (2, 4, 3, 3), (4, 3, 2, 2), (2, 2), (0, 0), (1, 1), 1),
    ("num_output: 4 kernel_size: 4 stride: 2 pad: 1", (1, 2, 3, 4), (2, 4, 4, 4), (2, 2), (1, 1), (1, 1), 1),
    ("num_output: 4 kernel_size: 3 stride: 2 pad: 1 group: 2", (1, 4, 3, 3), (4, 2, 3, 3), (2, 2), (1, 1),
     (1, 1), 2),
    ("num_output: 2 kernel_size: 3 dilation: 2 pad: 1", (1, 2, 4, 3), (2, 2, 3, 3), (1, 1), (1, 1), (2, 2), 1),
    ("num_output: 2 kernel_h: 3 kernel_w: 1 stride_h: 3 stride_w: 1 pad_h: 1 pad_w: 0", (1, 1, 2, 3),
     (1, 2, 3, 1), (3, 1), (1, 0), (1, 1), 1),
    ("num_output: 3 kernel_size: 1", (2, 2, 2, 3), (2, 3, 1, 1), (1, 1), (0, 0), (1, 1), 1),
])
def test_deconv_matches_a_naive_scatter(params: str, shape: tuple[int, ...], wshape: tuple[int, ...],
                                        stride: tuple[int, ...], pad: tuple[int, ...], dil: tuple[int, ...],
                                        group: int) -> None:
    x = RNG.standard_normal(shape).astype(np.float32)
    w = RNG.standard_normal(wshape).astype(np.float32)
    b = RNG.standard_normal(wshape[1] * group).astype(np.float32)
    (got,) = run(f'name: "d" type: "Deconvolution" bottom: "x" top: "y" convolution_param {{ {params} }}', x,
                 blobs=[w, b])
    assert got.dtype == np.float32
    np.testing.assert_allclose(got, naive_deconv(x, w, b, stride, pad, dil, group), rtol=1e-5, atol=1e-5)


def test_deconv_hand_worked_stride_2_kernel_3_overlap() -> None:
    # 1-D-like: input [1, 2] along W, kernel [1, 1, 1], stride 2 -> out 2*(2-1)+3 = 5: [1, 1, 1+2, 2, 2]
    x = np.array([[[[1, 2]]]], dtype=np.float32)
    w = np.ones((1, 1, 1, 3), dtype=np.float32)
    (got,) = run('name: "d" type: "Deconvolution" bottom: "x" top: "y" convolution_param { num_output: 1 '
                 'kernel_h: 1 kernel_w: 3 stride_h: 1 stride_w: 2 bias_term: false }', x, blobs=[w])
    assert got[0, 0].tolist() == [[1, 1, 3, 2, 2]]
    # pad 1 crops one pixel each side: [1, 3, 2]
    (got,) = run('name: "d" type: "Deconvolution" bottom: "x" top: "y" convolution_param { num_output: 1 '
                 'kernel_h: 1 kernel_w: 3 stride_h: 1 stride_w: 2 pad_h: 0 pad_w: 1 bias_term: false }', x,
                 blobs=[w])
    assert got[0, 0].tolist() == [[1, 3, 2]]


def test_nd_deconv() -> None:
    x = RNG.standard_normal((1, 2, 2, 3, 2)).astype(np.float32)
    w = RNG.standard_normal((2, 3, 2, 2, 3)).astype(np.float32)
    (got,) = run('name: "d" type: "Deconvolution" bottom: "x" top: "y" convolution_param { num_output: 3 '
                 'kernel_size: 2 kernel_size: 2 kernel_size: 3 stride: 2 bias_term: false }', x, blobs=[w])
    np.testing.assert_allclose(got, naive_deconv(x, w, None, (2, 2, 2), (0, 0, 0), (1, 1, 1), 1),
                               rtol=1e-5, atol=1e-5)
