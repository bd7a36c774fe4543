"""Im2col: unfolds convolution windows into channels, reading ``convolution_param``.

Caffe rule (Im2colLayer): same kernel/stride/pad/dilation parsing and CHECKs as Convolution, at least
one spatial axis; top = bottom with ``channels * prod(kernel)`` on the channel axis and the
convolution output size ``(in + 2*pad - extent) / stride + 1`` on each spatial axis. ``num_output`` and
``group`` are ignored. No stored blobs.

Counts: none (a copy).
"""

from __future__ import annotations

import math

from caffecx.layers.base import Context, Layer, Shape, Window, register
from caffecx.layers.spatial import Geometry, conv_axes, conv_geometry, spatial_out


@register("Im2col")
class Im2col(Layer):
    """Caffe's ``Im2col``; see the module docstring."""

    def spec(self, bottom: Shape) -> tuple[int, Geometry]:
        cp = self.lp.convolution_param
        channel_axis, num_spatial = conv_axes(bottom, int(cp.axis), self.check, min_spatial=1)
        return channel_axis, conv_geometry(cp, num_spatial, self.check)

    def setup(self, bottom_shapes: list[Shape], ctx: Context) -> list[Shape]:
        bottom = tuple(bottom_shapes[0])
        axis, geo = self.spec(bottom)
        out = spatial_out(bottom[axis + 1 :], geo, self.check)
        return [(*bottom[:axis], bottom[axis] * math.prod(geo.kernel), *out)]

    def window(self, bottom_shapes: list[Shape]) -> Window | None:
        return self.spec(tuple(bottom_shapes[0]))[1].window()
