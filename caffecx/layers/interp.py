"""Interp (PSPNet / DeepLab fork): bilinear resize with align-corners sampling.

Fork rule (hszhao/PSPNet InterpLayer::Reshape), with ``in_eff = in + pad_beg + pad_end`` (pads must be
<= 0: cropping only), tried in this order:

1. ``shrink_factor`` only: ``out = (in_eff - 1) / shrink + 1``;
2. ``zoom_factor`` only: ``out = in_eff + (in_eff - 1) * (zoom - 1)``;
3. ``height`` and ``width``: taken as they are;
4. both factors: shrink first, then zoom the shrunk size.

Factors must be >= 1 and every size > 0. The same size for (H, W). DeepLab-v2's original additionally
requires exactly one of the three forms; PSPNet's accepts the combination (4).

Forward (``caffe_cpu_interp2``): the input is cropped to ``[-pad_beg, -pad_beg + in_eff)`` on both axes;
equal sizes copy the crop; otherwise, per axis, ``r = float(in_eff - 1) / (out - 1)`` (0 when out = 1), the
source ``r * i`` in float, its integer part ``i0`` and next index ``i0 + 1`` (``i0`` at the last row), the
weights ``l1 = r*i - i0``, ``l0 = 1 - l1``; ``top = h0 * (w0*a + w1*b) + h1 * (w0*c + w1*d)``.

Counts: no MACs; 9 FLOPs per output element (6 multiplies, 3 adds of the 4-tap blend
``h0*(w0*a + w1*b) + h1*(w0*c + w1*d)``).
Receptive field: approximated per axis from the align-corners ratio r = (in_eff-1)/(out-1): r >= 1 is a
window of stride r (kernel 2 when r is fractional, else 1); r < 1 a transposed window of stride 1/r and
kernel 1/r + 1 (each output blends two neighbouring inputs).
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from caffecx.layers.base import Context, Counts, Layer, RunContext, Shape, Window, register
from caffecx.layers.spatial import c_div, has, require_4d


@register("Interp")
class Interp(Layer):
    """The forks' ``Interp``; see the module docstring."""

    def sizes(self, bottom: Shape) -> tuple[tuple[int, int], tuple[int, int]]:
        """((H_eff, W_eff), (H_out, W_out)) with the fork's CHECKs."""
        p = self.lp.interp_param
        require_4d(bottom, self.check)
        beg, end = int(p.pad_beg), int(p.pad_end)
        self.check(beg <= 0, "Only supports non-pos padding (cropping) for now")
        self.check(end <= 0, "Only supports non-pos padding (cropping) for now")
        eff = (bottom[2] + beg + end, bottom[3] + beg + end)
        shrink, zoom = has(p, "shrink_factor"), has(p, "zoom_factor")

        def shrunk(size: int) -> int:
            s = int(p.shrink_factor)
            self.check(s >= 1, "Shrink factor must be positive")
            return c_div(size - 1, s) + 1

        def zoomed(size: int) -> int:
            z = int(p.zoom_factor)
            self.check(z >= 1, "Zoom factor must be positive")
            return size + (size - 1) * (z - 1)

        if shrink and not zoom:
            out = (shrunk(eff[0]), shrunk(eff[1]))
        elif zoom and not shrink:
            out = (zoomed(eff[0]), zoomed(eff[1]))
        elif has(p, "height") and has(p, "width"):
            out = (int(p.height), int(p.width))
        elif shrink and zoom:
            out = (zoomed(shrunk(eff[0])), zoomed(shrunk(eff[1])))
        else:
            raise self.fail("Interp needs shrink_factor, zoom_factor, or height and width")
        self.check(eff[0] > 0, "height should be positive")
        self.check(eff[1] > 0, "width should be positive")
        self.check(out[0] > 0, "height should be positive")
        self.check(out[1] > 0, "width should be positive")
        return eff, out

    def setup(self, bottom_shapes: list[Shape], ctx: Context) -> list[Shape]:
        bottom = tuple(bottom_shapes[0])
        self.eff, out = self.sizes(bottom)
        self.crop = -int(self.lp.interp_param.pad_beg)
        return [(bottom[0], bottom[1], *out)]

    def to_onnx(self, ctx: Any, bottoms: list[str], tops: list[str], blobs: list[np.ndarray]) -> None:
        """The crop (``pad_beg``/``pad_end``) as a Slice, then a bilinear Resize with ``align_corners``."""
        (h1, w1), (h2, w2) = self.eff, self.top_shapes[0][2:]
        x, o = bottoms[0], self.crop
        if (h1, w1) != tuple(self.bottom_shapes[0][2:]):
            x = ctx.op("Slice", [x, ctx.ints([o, o], "starts"), ctx.ints([o + h1, o + w1], "ends"),
                                 ctx.ints([2, 3], "axes")], tops[0] if (h1, w1) == (h2, w2) else None)
        if (h1, w1) == (h2, w2):
            if x == bottoms[0]:
                ctx.identity(x, tops[0])
            return
        if ctx.opset >= 18:
            sizes, extra = ctx.ints([h2, w2], "sizes"), {"axes": [2, 3]}
        else:
            sizes, extra = ctx.ints(self.top_shapes[0], "sizes"), {}
        ctx.op("Resize", [x, "", "", sizes], tops[0], mode="linear", coordinate_transformation_mode="align_corners",
               **extra)

    def forward(self, bottoms: list[np.ndarray], blobs: list[np.ndarray], run: RunContext) -> list[np.ndarray]:
        o = self.crop
        (h1, w1), (h2, w2) = self.eff, self.top_shapes[0][2:]
        x = np.asarray(bottoms[0], dtype=run.dtype)[:, :, o:o + h1, o:o + w1]
        if (h1, w1) == (h2, w2):
            return [np.ascontiguousarray(x)]
        i0, i1, l0, l1 = _taps(h1, h2, run.dtype)
        j0, j1, m0, m1 = _taps(w1, w2, run.dtype)
        # the column blend w0*a + w1*b is the same for every output row reading an input row: blend the
        # input rows once, then blend pairs of blended rows (the same arithmetic as Caffe's per pixel)
        cols = m0 * np.take(x, j0, axis=3) + m1 * np.take(x, j1, axis=3)
        top = np.take(cols, i0, axis=2)
        top *= l0[:, None]
        top += np.take(cols, i1, axis=2) * l1[:, None]
        return [top]

    def counts(self, bottom_shapes: list[Shape], top_shapes: list[Shape]) -> Counts:
        return Counts(0, 9 * math.prod(top_shapes[0]))

    def window(self, bottom_shapes: list[Shape]) -> Window | None:
        eff, out = self.sizes(tuple(bottom_shapes[0]))
        ratios = [(e - 1) / (o - 1) if o > 1 else float(e) for e, o in zip(eff, out, strict=True)]
        beg = int(self.lp.interp_param.pad_beg)
        if all(r >= 1 for r in ratios):
            kernel = tuple(1 if float(r).is_integer() else 2 for r in ratios)
            stride = tuple(int(r) if float(r).is_integer() else r for r in ratios)
            return Window(kernel, stride, (beg, beg), (1, 1))  # type: ignore[arg-type]
        inv = [1 / r if r > 0 else 1.0 for r in ratios]
        stride = tuple(int(v) if v.is_integer() else v for v in inv)
        kernel = tuple(s + 1 for s in stride)
        return Window(kernel, stride, (0, 0), (1, 1), transposed=True)  # type: ignore[arg-type]


def _taps(size_in: int, size_out: int, dtype: type) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Source indices (i0, i0 + step) and weights (l0, l1) of one axis, with Caffe's float arithmetic."""
    ratio = np.float32(size_in - 1) / np.float32(size_out - 1) if size_out > 1 else np.float32(0)
    pos = ratio * np.arange(size_out, dtype=np.float32)
    i0 = pos.astype(np.int64)
    i1 = i0 + (i0 < size_in - 1)
    l1 = (pos - i0.astype(np.float32)).astype(dtype)
    return i0, i1, (np.asarray(1, dtype=dtype) - l1), l1
