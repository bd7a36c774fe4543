"""ShuffleChannel: legacy 4-D top, group must divide the channels."""

from __future__ import annotations

import numpy as np
import pytest
from layerkit import run, tops

from caffecx.errors import ShapeError


def test_shapes() -> None:
    text = 'name: "s" type: "ShuffleChannel" bottom: "x" top: "y" shuffle_channel_param { group: 3 }'
    assert tops(text, (1, 240, 28, 28)) == [(1, 240, 28, 28)]
    assert tops(text, (4, 6)) == [(4, 6, 1, 1)]  # Caffe reshapes to (num, channels, height, width)
    with pytest.raises(ShapeError, match="Wrong group size"):
        tops(text, (1, 100, 28, 28))
    with pytest.raises(ShapeError, match="group must be greater than 0"):
        tops(text.replace("group: 3", "group: 0"), (1, 240, 28, 28))


def test_forward_interleaves_groups() -> None:
    x = np.arange(6, dtype=np.float32).reshape(1, 6, 1, 1) * np.ones((1, 1, 2, 2), np.float32)
    text = 'name: "s" type: "ShuffleChannel" bottom: "x" top: "y" shuffle_channel_param { group: 2 }'
    (y,) = run(text, x)
    assert y[0, :, 0, 0].tolist() == [0, 3, 1, 4, 2, 5]  # out channel j*g + i = in channel i*(C/g) + j
    (y,) = run(text.replace("group: 2", "group: 3"), x)
    assert y[0, :, 1, 1].tolist() == [0, 2, 4, 1, 3, 5]
    (y,) = run(text.replace("group: 2", "group: 3"), np.arange(12, dtype=np.float32).reshape(2, 6))
    assert y.shape == (2, 6, 1, 1) and y[1, :, 0, 0].tolist() == [6, 8, 10, 7, 9, 11]
