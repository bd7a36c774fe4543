"""Tile: repeat the bottom ``tiles`` times along ``axis``.

Caffe rule (TileLayer): ``axis`` (default 1, canonicalized), ``tiles`` must be positive; top = bottom
with ``shape[axis] *= tiles``. Data movement only: 0 FLOPs.
"""

from __future__ import annotations

from caffecx.layers._common import axis_index, check_blob_counts
from caffecx.layers.base import Context, Layer, Shape, register


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
        bottom[axis] *= tiles
        return [tuple(bottom)]
