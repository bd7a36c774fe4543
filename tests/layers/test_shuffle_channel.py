"""ShuffleChannel: legacy 4-D top, group must divide the channels."""

from __future__ import annotations

import pytest
from layerkit import tops

from caffecx.errors import ShapeError


def test_shapes() -> None:
    text = 'name: "s" type: "ShuffleChannel" bottom: "x" top: "y" shuffle_channel_param { group: 3 }'
    assert tops(text, (1, 240, 28, 28)) == [(1, 240, 28, 28)]
    assert tops(text, (4, 6)) == [(4, 6, 1, 1)]  # Caffe reshapes to (num, channels, height, width)
    with pytest.raises(ShapeError, match="Wrong group size"):
        tops(text, (1, 100, 28, 28))
    with pytest.raises(ShapeError, match="group must be greater than 0"):
        tops(text.replace("group: 3", "group: 0"), (1, 240, 28, 28))
