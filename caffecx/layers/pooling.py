"""Pooling: MAX, AVE and STOCHASTIC over the two spatial axes of a 4-D blob.

Caffe rule (PoolingLayer): ``pooled = ceil((in + 2*pad - kernel) / stride) + 1`` (``round_mode: FLOOR``
rounds down instead), then, when any padding is set, the clip rule drops a last window that would start
inside the bottom/right padding: ``if (pooled-1)*stride >= in+pad: pooled -= 1``. So GoogLeNet's
112x112 with k3 s2 gives 56 (floor-mode tools say 55), and 20 with k4 s2 p1 gives 10 (the 11th window
would start in the padding). ``global_pooling`` uses the whole input as kernel and needs pad 0,
stride 1. CHECKs: kernel given as ``kernel_size`` xor ``kernel_h``+``kernel_w``; ``pad < kernel``;
padding only with MAX/AVE. A MAX pooling may have a second top (the argmax mask, same shape).

Counts (whole batch): no MACs. FLOPs = N*C*prod(out)*prod(kernel) for MAX (one comparison per window
element) and AVE (one add per window element) plus, for AVE, one division per output. STOCHASTIC is
counted as its TEST-phase weighted average: 2 per window element (square-sum and sum) plus 1 division.
Windows clipped at the border are counted at full size.
"""

from __future__ import annotations

import math

from caffecx.layers.base import GLOBAL, Context, Counts, Layer, Shape, Window, register
from caffecx.layers.spatial import Geometry, enum_name, pool_geometry, pool_out_hw, require_4d, round_ceil


def pooling_flops(method: str, num: int, channels: int, out_hw: tuple[int, int], kernel: int) -> int:
    """FLOPs of one pooling over a batch under the convention of the module docstring."""
    outputs = num * channels * out_hw[0] * out_hw[1]
    if method == "AVE":
        return outputs * (kernel + 1)
    if method == "STOCHASTIC":
        return outputs * (2 * kernel + 1)
    return outputs * kernel


@register("Pooling")
class Pooling(Layer):
    """Caffe's ``Pooling``; see the module docstring for the shape rule and counts."""

    num_tops = (1, 2)
    closes_stage = True

    def declared_pad(self) -> tuple[int, ...] | None:
        pp = self.lp.pooling_param
        return (int(pp.pad_h), int(pp.pad_w)) if pp.pad_h or pp.pad_w else (int(pp.pad),)

    def method(self) -> str:
        return enum_name(self.lp.pooling_param, "pool")

    def geometry(self, bottom: Shape) -> tuple[Geometry, bool]:
        require_4d(bottom, self.check)
        return pool_geometry(self.lp.pooling_param, bottom[2:], self.check)

    def setup(self, bottom_shapes: list[Shape], ctx: Context) -> list[Shape]:
        bottom = tuple(bottom_shapes[0])
        max_tops = 2 if self.method() == "MAX" else 1
        self.check(
            len(self.lp.top) <= max_tops,
            f"Pooling Layer produces at most {max_tops} top blob(s) as output.",
        )
        geo, _ = self.geometry(bottom)
        out = pool_out_hw(bottom[2:], geo, self.check, round_ceil(self.lp.pooling_param))
        top = (bottom[0], bottom[1], *out)
        return [top for _ in self.lp.top]

    def counts(self, bottom_shapes: list[Shape], top_shapes: list[Shape]) -> Counts:
        bottom, top = bottom_shapes[0], top_shapes[0]
        geo, _ = self.geometry(tuple(bottom))
        kernel = math.prod(geo.kernel)
        return Counts(0, pooling_flops(self.method(), top[0], top[1], (top[2], top[3]), kernel))

    def window(self, bottom_shapes: list[Shape]) -> Window | None:
        geo, is_global = self.geometry(tuple(bottom_shapes[0]))
        return GLOBAL if is_global else geo.window()
