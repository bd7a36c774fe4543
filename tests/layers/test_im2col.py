"""Im2col forward: Caffe's column layout (channel axis = c*K + tap, taps row-major)."""

from __future__ import annotations

import numpy as np
from layerkit import run


def test_im2col_hand_worked_2x2_windows() -> None:
    x = np.arange(9, dtype=np.float32).reshape(1, 1, 3, 3)
    (top,) = run('name: "i" type: "Im2col" bottom: "x" top: "y" convolution_param { kernel_size: 2 }', x)
    assert top.shape == (1, 4, 2, 2)
    assert top[0, 0].tolist() == [[0, 1], [3, 4]]  # tap (0, 0)
    assert top[0, 1].tolist() == [[1, 2], [4, 5]]  # tap (0, 1)
    assert top[0, 3].tolist() == [[4, 5], [7, 8]]  # tap (1, 1)


def test_im2col_channels_outer_taps_inner_with_padding_and_stride() -> None:
    x = np.arange(2 * 3 * 3, dtype=np.float32).reshape(1, 2, 3, 3)
    (top,) = run('name: "i" type: "Im2col" bottom: "x" top: "y" '
                 'convolution_param { kernel_size: 3 pad: 1 stride: 2 }', x)
    assert top.shape == (1, 18, 2, 2)
    for c in range(2):
        padded = np.pad(x[0, c], 1)
        for t in range(9):
            i, j = divmod(t, 3)
            assert top[0, c * 9 + t].tolist() == padded[i:i + 3:2, j:j + 3:2].tolist()


def test_im2col_dilation() -> None:
    x = np.arange(16, dtype=np.float32).reshape(1, 1, 4, 4)
    (top,) = run('name: "i" type: "Im2col" bottom: "x" top: "y" '
                 'convolution_param { kernel_size: 2 dilation: 2 }', x)
    assert top[0, :, 0, 0].tolist() == [0, 2, 8, 10]
