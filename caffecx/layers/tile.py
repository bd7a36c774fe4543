"""Tile: repeat the bottom ``tiles`` times along ``axis``.

Caffe rule (TileLayer): ``axis`` (default 1, canonicalized), ``tiles`` must be positive; top = bottom
with ``shape[axis] *= tiles``. Data movement only: 0 FLOPs.

Forward: the block ``shape[axis:]`` of each outer index is repeated ``tiles`` times in a row (so axis
``a`` of size d becomes ``x0..x(d-1), x0..x(d-1), ...``, like ``np.tile``, not ``np.repeat``).
"""

from __future__ import annotations

from typing import Any

import numpy as np

from caffecx.layers._common import axis_index, check_blob_counts
from caffecx.layers.base import Context, Layer, RunContext, Shape, count, register


@register("Tile")
class Tile(Layer):
    """Caffe's ``Tile``; see the module docstring."""

    def setup(self, bottom_shapes: list[Shape], ctx: Context) -> list[Shape]:
        check_blob_counts(self, bottom_shapes)
        p = self.lp.tile_param
        bottom = list(bottom_shapes[0])
        axis = axis_index(self, bottom, int(p.axis))
        tiles = int(p.tiles)
        self.check(tiles > 0, "Number of tiles must be positive.")
        self.axis, self.tiles = axis, tiles
        bottom[axis] *= tiles
        return [tuple(bottom)]

    def to_onnx(self, ctx: Any, bottoms: list[str], tops: list[str], blobs: list[np.ndarray]) -> None:
        repeats = [self.tiles if i == self.axis else 1 for i in range(len(self.bottom_shapes[0]))]
        ctx.op("Tile", [bottoms[0], ctx.ints(repeats, "repeats")], tops[0])

    def forward(self, bottoms: list[np.ndarray], blobs: list[np.ndarray], run: RunContext) -> list[np.ndarray]:
        x = bottoms[0]
        outer, inner = count(x.shape, 0, self.axis), count(x.shape, self.axis)
        block = x.reshape(outer, 1, inner)
        tiled = np.broadcast_to(block, (outer, self.tiles, inner))
        return [tiled.reshape(self.top_shapes[0])]
