"""Reduction: SUM, ASUM (sum of |x|), SUMSQ (sum of squares) or MEAN over all axes from ``axis`` on.

Caffe rule (ReductionLayer): ``axis`` (default 0, canonicalized) — the top keeps ``bottom.shape[:axis]``
only, so ``axis: 0`` gives a 0-axis scalar (printed by Caffe as ``Top shape: (1)``) and there is no way
to reduce a middle axis alone (unlike ONNX ReduceSum with ``axes``). The result is multiplied by
``coeff`` (default 1); MEAN folds its ``1/dim`` into that factor.

FLOPs: per input element 1 (SUM, MEAN) or 2 (ASUM: abs + add; SUMSQ: mul + add), plus 1 per output
when the effective factor (coeff, divided by dim for MEAN) is not 1. Receptive field: GLOBAL for
inputs with spatial axes (the last axis is always reduced).

Forward: per leading index, the sum of x (SUM, MEAN), of |x| (ASUM) or of x*x (SUMSQ) over the
trailing ``count(axis)`` values, then one multiplication by ``coeff`` (``coeff / dim`` for MEAN, the
factor computed in the run's dtype) when that factor is not 1.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from caffecx.layers._common import axis_index, check_blob_counts, onnx_reshape
from caffecx.layers.base import GLOBAL, Context, Counts, Layer, RunContext, Shape, Window, count, register
from caffecx.layers.spatial import enum_name


@register("Reduction")
class Reduction(Layer):
    """Caffe's ``Reduction``; see the module docstring."""

    def setup(self, bottom_shapes: list[Shape], ctx: Context) -> list[Shape]:
        check_blob_counts(self, bottom_shapes)
        bottom = tuple(bottom_shapes[0])
        axis = axis_index(self, bottom, int(self.lp.reduction_param.axis))
        self.axis = axis
        return [bottom[:axis]]

    def counts(self, bottom_shapes: list[Shape], top_shapes: list[Shape]) -> Counts:
        p = self.lp.reduction_param
        op = enum_name(p, "operation")
        n_in, n_out = count(bottom_shapes[0]), count(top_shapes[0])
        dim = n_in // n_out if n_out else 0
        coeff = p.coeff / dim if op == "MEAN" and dim else p.coeff
        flops = n_in * (2 if op in ("ASUM", "SUMSQ") else 1)
        if coeff != 1:
            flops += n_out
        return Counts(0, flops)

    def window(self, bottom_shapes: list[Shape]) -> Window | None:
        """The reduced axes always include the last one: spatial inputs are seen whole."""
        return GLOBAL if len(bottom_shapes[0]) > 2 else None

    def to_onnx(self, ctx: Any, bottoms: list[str], tops: list[str], blobs: list[np.ndarray]) -> None:
        """The axes from ``axis`` on flattened into one, reduced, then times ``coeff`` (MEAN: over the count)."""
        p, bottom = self.lp.reduction_param, self.bottom_shapes[0]
        op = enum_name(p, "operation")
        ops = {"SUM": "ReduceSum", "MEAN": "ReduceSum", "ASUM": "ReduceL1", "SUMSQ": "ReduceSumSquare"}
        if op not in ops:
            raise self.fail(f"Unknown reduction op: {op}")
        inner = count(bottom, self.axis)
        flat = onnx_reshape(ctx, bottoms[0], bottom, (*bottom[: self.axis], inner))
        coeff = np.float32(p.coeff) / (np.float32(inner) if op == "MEAN" else np.float32(1))
        total = ctx.reduce(ops[op], flat, [self.axis], keepdims=False, out=tops[0] if coeff == 1 else None)
        if coeff != 1:
            ctx.mul_add(total, float(coeff), 0.0, tops[0])

    def forward(self, bottoms: list[np.ndarray], blobs: list[np.ndarray], run: RunContext) -> list[np.ndarray]:
        p = self.lp.reduction_param
        op = enum_name(p, "operation")
        shape = bottoms[0].shape
        x = bottoms[0].reshape(count(shape, 0, self.axis), count(shape, self.axis))
        dtype = np.dtype(run.dtype).type
        if op in ("SUM", "MEAN"):
            top = x.sum(axis=1, dtype=run.dtype)
        elif op == "ASUM":
            top = np.abs(x).sum(axis=1, dtype=run.dtype)
        elif op == "SUMSQ":
            top = np.einsum("ij,ij->i", x, x)
        else:
            raise self.fail(f"Unknown reduction op: {op}")
        coeff = dtype(p.coeff)
        if op == "MEAN":
            coeff = coeff / dtype(x.shape[1])
        if coeff != 1:
            top *= coeff
        return [top.reshape(self.top_shapes[0])]
