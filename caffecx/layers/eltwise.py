"""Eltwise: element-wise PROD, SUM (with optional per-bottom coefficients) or MAX of 2+ bottoms.

Caffe rule (EltwiseLayer): every bottom must have exactly ``bottom[0]``'s shape (no broadcasting — unlike
ONNX Add/Mul); ``coeff`` is either absent or one per bottom; coefficients are only allowed for SUM.
Top = ``bottom[0]`` shape. No stored blobs.

FLOPs for n bottoms of `count` elements: SUM = (n-1)*count adds, plus n*count muls when some coeff != 1;
PROD = (n-1)*count muls; MAX = (n-1)*count comparisons.

Forward: SUM accumulates ``coeff_i * x_i`` in bottom order, PROD multiplies in bottom order. MAX takes
``x0 > x1 ? x0 : x1``, then replaces the running value only where a later bottom is strictly greater; NaNs
follow those comparisons (``(NaN, 2)`` gives 2, ``(1, NaN)`` gives NaN), not ``np.maximum``'s propagation.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from caffecx.layers._common import check_blob_counts, shape_string
from caffecx.layers._threads import blockwise
from caffecx.layers.activations import relu_into
from caffecx.layers.base import Context, Counts, Layer, RunContext, Shape, count, register
from caffecx.layers.spatial import enum_name


@register("Eltwise")
class Eltwise(Layer):
    """Caffe's ``Eltwise``; see the module docstring."""

    num_bottoms = (2, None)

    def op(self) -> str:
        return enum_name(self.lp.eltwise_param, "operation")

    def setup(self, bottom_shapes: list[Shape], ctx: Context) -> list[Shape]:
        check_blob_counts(self, bottom_shapes)
        p = self.lp.eltwise_param
        n_coeff = len(p.coeff)
        self.check(n_coeff in (0, len(bottom_shapes)), "Eltwise Layer takes one coefficient per bottom blob.")
        self.check(not (self.op() == "PROD" and n_coeff), "Eltwise layer only takes coefficients for summation.")
        first = tuple(bottom_shapes[0])
        for i, s in enumerate(bottom_shapes[1:], start=1):
            self.check(tuple(s) == first,
                       f"bottom[0] '{self.lp.bottom[0]}': {shape_string(first)}, bottom[{i}] "
                       f"'{self.lp.bottom[i]}': {shape_string(s)} — Eltwise inputs must have the same shape")
        return [first]

    def counts(self, bottom_shapes: list[Shape], top_shapes: list[Shape]) -> Counts:
        n = len(bottom_shapes)
        c = count(top_shapes[0])
        flops = (n - 1) * c
        if self.op() == "SUM" and any(k != 1 for k in self.lp.eltwise_param.coeff):
            flops += n * c
        return Counts(0, flops)

    def to_onnx(self, ctx: Any, bottoms: list[str], tops: list[str], blobs: list[np.ndarray]) -> None:
        """SUM (each bottom times its coefficient, then Sum), PROD (a chain of Mul), MAX (Max)."""
        op = self.op()
        if op == "SUM":
            coeffs = [float(np.float32(c)) for c in self.lp.eltwise_param.coeff] or [1.0] * len(bottoms)
            terms = [ctx.mul_add(b, c, 0.0) for b, c in zip(bottoms, coeffs, strict=True)]
            ctx.op("Sum", terms, tops[0])
        elif op == "PROD":
            y = bottoms[0]
            for i, b in enumerate(bottoms[1:], start=2):
                y = ctx.op("Mul", [y, b], tops[0] if i == len(bottoms) else None)
        elif op == "MAX":
            ctx.op("Max", bottoms, tops[0])
        else:
            raise self.fail(f"Unknown elementwise operation {op}.")

    def forward(self, bottoms: list[np.ndarray], blobs: list[np.ndarray], run: RunContext) -> list[np.ndarray]:
        """Caffe's PROD/SUM/MAX; then a folded in-place ReLU (`absorb_relu`) when the executor gave one."""
        op = self.op()
        slope = blobs[0].astype(run.dtype)[()] if blobs else None
        if op == "SUM":
            dtype = np.dtype(run.dtype).type
            coeffs = [dtype(c) for c in self.lp.eltwise_param.coeff] or [dtype(1)] * len(bottoms)
            top = np.empty(np.broadcast_shapes(*(b.shape for b in bottoms)), dtype=np.result_type(*bottoms))
            blockwise(lambda *arrays: _weighted_sum(arrays[:-1], coeffs, arrays[-1], slope), *bottoms, top)
            return [top]
        if op == "PROD":
            top = bottoms[0] * bottoms[1]
            for b in bottoms[2:]:
                top *= b
        elif op == "MAX":
            top = np.where(bottoms[0] > bottoms[1], bottoms[0], bottoms[1])
            for b in bottoms[2:]:
                np.copyto(top, b, where=b > top)
        else:
            raise self.fail(f"Unknown elementwise operation {op}.")
        if slope is not None:
            relu_into(top, slope, top)
        return [top]

    def absorb_relu(self, blobs: list[np.ndarray], slope: float) -> list[np.ndarray] | None:
        """A following in-place ReLU folded in (the executor's fold): its slope as the only blob."""
        return None if blobs else [np.asarray(slope, dtype=np.float64)]


def _weighted_sum(terms: tuple[np.ndarray, ...], coeffs: list[Any], out: np.ndarray, slope: Any) -> None:
    """Caffe's SUM into `out`: ``coeff[0]*b0``, then ``+= coeff[i]*bi`` in bottom order (a coefficient
    of 1 takes the bottom as it is), then a folded ReLU."""
    if coeffs[0] == 1 and coeffs[1] == 1:
        np.add(terms[0], terms[1], out=out)
        start = 2
    else:
        np.multiply(terms[0], coeffs[0], out=out) if coeffs[0] != 1 else np.copyto(out, terms[0])
        start = 1
    for b, c in zip(terms[start:], coeffs[start:], strict=True):
        out += b if c == 1 else b * c
    if slope is not None:
        relu_into(out, slope, out)
