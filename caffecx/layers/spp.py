"""SPP: spatial pyramid pooling over a 4-D blob.

Caffe rule (SPPLayer): level ``i`` of ``pyramid_height`` uses ``bins = 2**i`` and an internal Pooling
with ``kernel = ceil(in/bins)``, ``stride = kernel``, ``pad = (kernel*bins - in + 1) // 2`` per axis,
so the internal Pooling's ceil + clip rule and its CHECKs apply (``pad < kernel`` fails e.g. for a 5x5
input at ``bins=4``: kernel 2, pad 2 — Caffe aborts). Each level is flattened and concatenated:
top = ``(N, sum_i C*ph_i*pw_i)``, usually ``C * (1 + 4 + 16 + ...)``. Quirk: with
``pyramid_height: 1`` Caffe returns the single Pooling's top unflattened, ``(N, C, 1, 1)``.

Counts: the sum of the levels' Pooling counts (see `caffecx.layers.pooling`).

Forward: each level is the Pooling forward (same clip and AVE border-divisor rules), flattened per
image in (C, h, w) order, the levels concatenated in order 0, 1, ... along axis 1. STOCHASTIC refused
(Caffe's Pooling has no CPU forward for it).
"""

from __future__ import annotations

from typing import Any

import numpy as np

from caffecx.layers._common import onnx_reshape
from caffecx.layers.base import GLOBAL, Context, Counts, Layer, RunContext, Shape, Window, register
from caffecx.layers.pooling import pool2d, pool_onnx, pooling_flops, stochastic_refusal
from caffecx.layers.spatial import Geometry, enum_name, pool_out_hw, require_4d


def spp_level(size: int, bins: int) -> tuple[int, int]:
    """(kernel, pad) of one axis at one pyramid level: Caffe's ``SPPLayer::GetPoolingParam``."""
    kernel = -(-size // bins)
    remainder = kernel * bins - size
    return kernel, (remainder + 1) // 2


@register("SPP")
class SPP(Layer):
    """Caffe's ``SPP``; see the module docstring."""

    closes_stage = True

    def method(self) -> str:
        return enum_name(self.lp.spp_param, "pool")

    def levels(self, bottom: Shape) -> list[tuple[Geometry, tuple[int, int]]]:
        """(pooling geometry, pooled (H, W)) of every pyramid level."""
        require_4d(bottom, self.check)
        h, w = int(bottom[2]), int(bottom[3])
        self.check(h > 0 and w > 0, "Input dimensions cannot be zero.")
        height = int(self.lp.spp_param.pyramid_height)
        self.check(height > 0, f"pyramid_height must be positive (got {height})")
        result = []
        for level in range(height):
            bins = 2**level
            (kh, ph), (kw, pw) = spp_level(h, bins), spp_level(w, bins)
            geo = Geometry((kh, kw), (kh, kw), (ph, pw), (1, 1))
            if ph or pw:
                self.check(
                    self.method() in ("AVE", "MAX"), "Padding implemented only for average and max pooling."
                )
                self.check(
                    ph < kh, f"pyramid level {level}: Check failed: pad_h_ < kernel_h_ ({ph} vs. {kh})"
                )
                self.check(
                    pw < kw, f"pyramid level {level}: Check failed: pad_w_ < kernel_w_ ({pw} vs. {kw})"
                )
            result.append((geo, pool_out_hw((h, w), geo, self.check)))
        return result

    def setup(self, bottom_shapes: list[Shape], ctx: Context) -> list[Shape]:
        bottom = tuple(bottom_shapes[0])
        levels = self.levels(bottom)
        self.parsed = levels
        n, c = bottom[0], bottom[1]
        if len(levels) == 1:
            return [(n, c, *levels[0][1])]
        return [(n, sum(c * oh * ow for _, (oh, ow) in levels))]

    def forward_refusal(self) -> str | None:
        return stochastic_refusal(self.method())

    def to_onnx(self, ctx: Any, bottoms: list[str], tops: list[str], blobs: list[np.ndarray]) -> None:
        """Each pyramid level by `pool_onnx`, flattened per sample and concatenated."""
        self.check(self.method() in ("MAX", "AVE"), f"{self.method()} pooling has no ONNX mapping")
        bottom = self.bottom_shapes[0]
        if len(self.parsed) == 1:
            geo, out = self.parsed[0]
            pool_onnx(ctx, bottoms[0], self.method(), geo, bottom[2:], out, tops[0])
            return
        flat = [onnx_reshape(ctx, pool_onnx(ctx, bottoms[0], self.method(), geo, bottom[2:], out),
                            (*bottom[:2], *out), (bottom[0], bottom[1] * out[0] * out[1]))
                for geo, out in self.parsed]
        ctx.op("Concat", flat, tops[0], axis=1)

    def forward(self, bottoms: list[np.ndarray], blobs: list[np.ndarray], run: RunContext) -> list[np.ndarray]:
        x = np.asarray(bottoms[0], dtype=run.dtype)
        pooled = [pool2d(x, self.method(), geo, out)[0] for geo, out in self.parsed]
        if len(pooled) == 1:
            return [pooled[0]]
        return [np.concatenate([p.reshape(x.shape[0], -1) for p in pooled], axis=1)]

    def counts(self, bottom_shapes: list[Shape], top_shapes: list[Shape]) -> Counts:
        bottom = tuple(bottom_shapes[0])
        flops = sum(
            pooling_flops(self.method(), bottom[0], bottom[1], out, geo.kernel[0] * geo.kernel[1])
            for geo, out in self.levels(bottom)
        )
        return Counts(0, flops)

    def window(self, bottom_shapes: list[Shape]) -> Window | None:
        return GLOBAL
