"""Im2col: unfolds convolution windows into channels, reading ``convolution_param``.

Caffe rule (Im2colLayer): same kernel/stride/pad/dilation parsing and CHECKs as Convolution, at least
one spatial axis; top = bottom with ``channels * prod(kernel)`` on the channel axis and the
convolution output size ``(in + 2*pad - extent) / stride + 1`` on each spatial axis. ``num_output`` and
``group`` are ignored. No stored blobs.

Counts: none (a copy).

Forward: Caffe's column layout per image: channel axis ``c*K + tap`` (taps in row-major kernel order),
then the output positions; padding (and any overrun of the truncating output size) reads zeros.
"""

from __future__ import annotations

import math

import numpy as np

from caffecx.layers._windows import pad_for_windows, window_view
from caffecx.layers.base import Context, Layer, RunContext, Shape, Window, register
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
        self.parsed = (axis, geo)
        return [(*bottom[:axis], bottom[axis] * math.prod(geo.kernel), *out)]

    def forward(self, bottoms: list[np.ndarray], blobs: list[np.ndarray], run: RunContext) -> list[np.ndarray]:
        axis, geo = self.parsed
        x = np.asarray(bottoms[0], dtype=run.dtype)
        top = self.top_shapes[0]
        out = top[axis + 1 :]
        if math.prod(top) == 0:
            return [np.zeros(top, dtype=run.dtype)]
        x = x.reshape(math.prod(x.shape[:axis]), *x.shape[axis:])
        xp = pad_for_windows(x, out, geo.kernel, geo.stride, geo.pad, geo.dilation)
        view = window_view(xp, out, geo.kernel, geo.stride, geo.dilation)
        return [np.ascontiguousarray(view).reshape(top)]

    def window(self, bottom_shapes: list[Shape]) -> Window | None:
        return self.spec(tuple(bottom_shapes[0]))[1].window()
