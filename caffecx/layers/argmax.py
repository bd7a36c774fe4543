"""ArgMax: indices (and optionally values) of the ``top_k`` largest entries.

Caffe rule (ArgMaxLayer): ``top_k`` >= 1. With ``axis`` set: top = bottom shape with that axis replaced
by ``top_k`` (``out_max_val`` then outputs the values instead of the indices), and ``top_k`` may not
exceed that axis. Without ``axis``: each sample's ``count(1)`` values are ranked and the top is
``(N, 1, top_k)`` — or ``(N, 2, top_k)`` with ``out_max_val`` (indices then values) — padded with 1s to
the bottom's number of axes when it has more than 3 (Caffe starts from ``max(ndim, 3)`` ones).

Forward: Caffe ranks ``(value, index)`` pairs with ``std::greater`` (``std::partial_sort``), so among equal
values the LARGER index comes first (NumPy's ``argmax`` would give the smaller). Indices are written
as floats. Without ``axis`` the top holds, per sample, the k indices (and then the k values with
``out_max_val``); with ``axis`` it holds the indices, or the values alone with ``out_max_val``.

FLOPs: one comparison per bottom element per k (a selection pass per k). Receptive field: GLOBAL
without ``axis`` or along a spatial axis (>= 2), else pointwise.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from caffecx.layers._common import axis_index, check_blob_counts, field_set, onnx_reshape
from caffecx.layers.base import GLOBAL, Context, Counts, Layer, RunContext, Shape, Window, count, register


def ranked(values: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
    """(indices, values) of the `k` largest along the last axis, best first, equal values by larger index
    first (Caffe's ``std::greater`` on ``(value, index)`` pairs)."""
    dim = values.shape[-1]
    backwards = values[..., ::-1]  # in reverse order, a stable ascending rank puts larger indices first
    if k == 1:
        order = np.argmax(backwards, axis=-1)[..., None]
    else:
        order = np.argsort(-backwards, axis=-1, kind="stable")[..., :k]
    index = dim - 1 - order
    return index, np.take_along_axis(values, index, axis=-1)


@register("ArgMax")
class ArgMax(Layer):
    """Caffe's ``ArgMax``; see the module docstring."""

    #: The canonical axis ranked along, or None for Caffe's per-sample ranking (fixed by ``setup``).
    axis: int | None = None

    def setup(self, bottom_shapes: list[Shape], ctx: Context) -> list[Shape]:
        check_blob_counts(self, bottom_shapes)
        p = self.lp.argmax_param
        bottom = tuple(bottom_shapes[0])
        k = int(p.top_k)
        self.check(k >= 1, "top k must not be less than 1.")
        if field_set(p, "axis"):
            axis = axis_index(self, bottom, int(p.axis))
            self.check(k <= bottom[axis], "top_k must be less than or equal to the dimension of the axis.")
            top = list(bottom)
            top[axis] = k
            self.axis = axis
            return [tuple(top)]
        self.axis = None
        self.check(len(bottom) >= 1, "ArgMax needs a bottom with at least one axis")
        self.check(k <= count(bottom, 1),
                   "top_k must be less than or equal to the dimension of the flattened bottom blob per instance.")
        top = [1] * max(len(bottom), 3)
        top[0] = bottom[0]
        top[2] = k
        if p.out_max_val:
            top[1] = 2
        return [tuple(top)]

    def counts(self, bottom_shapes: list[Shape], top_shapes: list[Shape]) -> Counts:
        return Counts(0, int(self.lp.argmax_param.top_k) * count(bottom_shapes[0]))

    def window(self, bottom_shapes: list[Shape]) -> Window | None:
        """Without ``axis`` (or along a spatial axis) every output sees the whole input."""
        p = self.lp.argmax_param
        if not field_set(p, "axis"):
            return GLOBAL
        n = len(bottom_shapes[0])
        axis = int(p.axis) + n if p.axis < 0 else int(p.axis)
        return GLOBAL if axis >= 2 else None

    def to_onnx(self, ctx: Any, bottoms: list[str], tops: list[str], blobs: list[np.ndarray]) -> None:
        """TopK (largest, sorted) along ``axis``, or over each flattened sample laid out as Caffe's
        ``(N, 1 or 2, k)``; indices as floats. Ties: ONNX ranks the smaller index first, Caffe the larger."""
        p, bottom, top = self.lp.argmax_param, self.bottom_shapes[0], self.top_shapes[0]
        k = ctx.ints([int(p.top_k)], "k")
        if self.axis is not None:
            values, index = ctx.ops("TopK", [bottoms[0], k], [ctx.fresh("values"), ctx.fresh("indices")],
                                    axis=self.axis)
            ctx.identity(values, tops[0]) if p.out_max_val else ctx.op("Cast", [index], tops[0], to=1)
            return
        flat = onnx_reshape(ctx, bottoms[0], bottom, (bottom[0], count(bottom, 1)))
        values, index = ctx.ops("TopK", [flat, k], [ctx.fresh("values"), ctx.fresh("indices")], axis=1)
        parts = [ctx.op("Cast", [index], to=1), *([values] if p.out_max_val else [])]
        rows = [onnx_reshape(ctx, v, (bottom[0], int(p.top_k)), (bottom[0], 1, int(p.top_k))) for v in parts]
        both = rows[0] if len(rows) == 1 else ctx.op("Concat", rows, axis=1)
        onnx_reshape(ctx, both, (bottom[0], len(rows), int(p.top_k)), top, tops[0])

    def forward(self, bottoms: list[np.ndarray], blobs: list[np.ndarray], run: RunContext) -> list[np.ndarray]:
        p = self.lp.argmax_param
        x, k = bottoms[0], int(p.top_k)
        if self.axis is None:
            index, value = ranked(x.reshape(x.shape[0], -1), k)
            parts = [index, value] if p.out_max_val else [index]
            top = np.stack(parts, axis=1).astype(run.dtype)
        else:
            index, value = ranked(np.moveaxis(x, self.axis, -1), k)
            top = np.moveaxis(value if p.out_max_val else index.astype(run.dtype), -1, self.axis)
        return [np.ascontiguousarray(top).reshape(self.top_shapes[0])]
