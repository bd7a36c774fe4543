"""InnerProduct (fully connected).

Caffe rule (InnerProductLayer): ``axis`` (default 1) splits the bottom into M = count(0, axis) rows of
K = count(axis) features; top = ``bottom.shape[:axis] + (num_output,)`` — so ``axis: 2`` on
``(N, C, H, W)`` gives ``(N, C, num_output)``. Stored blobs: weight ``(num_output, K)``, or ``(K,
num_output)`` with ``transpose: true``, then bias ``(num_output,)`` when ``bias_term``.

Counts: MACs = M*K*num_output; FLOPs = 2*MACs + M*num_output bias adds.

Fillers: ``weight_filler`` and ``bias_filler`` (constant 0 when absent). Forward: one matmul,
``x.reshape(M, K) @ W.T`` (``@ W`` with ``transpose``), then ``+ bias``.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from caffecx.layers._affine import given_filler
from caffecx.layers._common import onnx_reshape
from caffecx.layers.base import GLOBAL, Context, Counts, Layer, ParamBlob, RunContext, Shape, Window, register


@register("InnerProduct")
class InnerProduct(Layer):
    """Caffe's ``InnerProduct``; see the module docstring."""

    def dims(self, bottom: Shape) -> tuple[int, int, int, int]:
        """(axis, M, K, N) for this bottom shape."""
        p = self.lp.inner_product_param
        n_axes = len(bottom)
        axis = int(p.axis)
        self.check(-n_axes <= axis < n_axes, f"axis {axis} out of range for a {n_axes}-axis blob")
        axis = axis + n_axes if axis < 0 else axis
        return axis, math.prod(bottom[:axis]), math.prod(bottom[axis:]), int(p.num_output)

    def setup(self, bottom_shapes: list[Shape], ctx: Context) -> list[Shape]:
        bottom = tuple(bottom_shapes[0])
        axis, _, _, n = self.dims(bottom)
        return [(*bottom[:axis], n)]

    def param_shapes(self, bottom_shapes: list[Shape]) -> list[ParamBlob]:
        _, _, k, n = self.dims(tuple(bottom_shapes[0]))
        p = self.lp.inner_product_param
        blobs = [ParamBlob((k, n) if p.transpose else (n, k), "weight", given_filler(p, "weight_filler"))]
        if p.bias_term:
            blobs.append(ParamBlob((n,), "bias", given_filler(p, "bias_filler")))
        return blobs

    def to_onnx(self, ctx: Any, bottoms: list[str], tops: list[str], blobs: list[np.ndarray]) -> None:
        """Flatten at ``axis`` to (M, K), Gemm with the stored (N, K) weight (``transB``; ``transpose: true``
        stores (K, N)), then the top's shape when ``axis`` is not 1."""
        p = self.lp.inner_product_param
        bottom, top = self.bottom_shapes[0], self.top_shapes[0]
        axis, m, _, n = self.dims(bottom)
        x = bottoms[0] if (axis == 1 and len(bottom) == 2) else ctx.op("Flatten", bottoms, axis=axis)
        inputs = [x, ctx.const(blobs[0], "weight"), *(ctx.const(b, "bias") for b in blobs[1:])]
        y = ctx.op("Gemm", inputs, tops[0] if axis == 1 else None, transB=0 if p.transpose else 1)
        if axis != 1:
            onnx_reshape(ctx, y, (m, n), top, tops[0])

    def forward(self, bottoms: list[np.ndarray], blobs: list[np.ndarray], run: RunContext) -> list[np.ndarray]:
        p = self.lp.inner_product_param
        _, m, k, _ = self.dims(tuple(bottoms[0].shape))
        weight = blobs[0] if p.transpose else blobs[0].T
        top = bottoms[0].reshape(m, k) @ weight
        if p.bias_term:
            top += blobs[1]
        return [top.reshape(self.top_shapes[0])]

    def counts(self, bottom_shapes: list[Shape], top_shapes: list[Shape]) -> Counts:
        _, m, k, n = self.dims(tuple(bottom_shapes[0]))
        macs = m * k * n
        return Counts(macs, 2 * macs + (m * n if self.lp.inner_product_param.bias_term else 0))

    def window(self, bottom_shapes: list[Shape]) -> Window | None:
        return GLOBAL
