"""Concat: join bottoms along one axis.

Caffe rule (ConcatLayer): ``axis`` (default 1, negative counts from the end) or the legacy
``concat_dim`` (non-negative only; giving both is an error). All bottoms need the same number of axes and
the same size on every other axis — Caffe's CHECK reads ``All inputs must have the same shape, except at
concat_axis.``; caffecx's message also names both bottoms and their shapes. Top = ``bottom[0]`` shape with
the concat axis summed. Data movement only: 0 FLOPs.

Forward: each bottom copied into its slice of the top (past axis 0, one item of the leading axis per
task); a bottom its producer wrote straight into that slice (the executor's ``RunContext.into``) is
not copied; a single bottom is passed through (Caffe shares its data).
"""

from __future__ import annotations

from typing import Any

import numpy as np

from caffecx.layers._common import axis_index, check_blob_counts, field_set, shape_string
from caffecx.layers._threads import parallel_for
from caffecx.layers.base import Context, Layer, RunContext, Shape, register


@register("Concat")
class Concat(Layer):
    """Caffe's ``Concat``; see the module docstring."""

    num_bottoms = (1, None)
    axis: int = 1

    def setup(self, bottom_shapes: list[Shape], ctx: Context) -> list[Shape]:
        check_blob_counts(self, bottom_shapes)
        p = self.lp.concat_param
        has_dim = field_set(p, "concat_dim")
        self.check(not (field_set(p, "axis") and has_dim), "Either axis or concat_dim should be specified; not both.")
        first = tuple(bottom_shapes[0])
        n = len(first)
        if has_dim:
            axis = int(p.concat_dim)
            self.check(axis < n, "concat_dim out of range.")
        else:
            axis = axis_index(self, first, int(p.axis))
        top = list(first)
        for i, s in enumerate(bottom_shapes[1:], start=1):
            s = tuple(s)
            both = (f"bottom[0] '{self.lp.bottom[0]}' is {shape_string(first)}, "
                    f"bottom[{i}] '{self.lp.bottom[i]}' is {shape_string(s)}")
            self.check(len(s) == n, f"All inputs must have the same #axes. {both}")
            for j in range(n):
                if j != axis and first[j] != s[j]:
                    raise self.fail(f"All inputs must have the same shape, except at concat_axis. "
                                    f"Axis {j}: {first[j]} vs. {s[j]} (concat axis {axis}); {both}")
            top[axis] += s[axis]
        self.axis = axis
        return [tuple(top)]

    def joined_axis(self) -> int | None:
        return self.axis if len(self.lp.bottom) > 1 else None

    def to_onnx(self, ctx: Any, bottoms: list[str], tops: list[str], blobs: list[np.ndarray]) -> None:
        if len(bottoms) == 1:
            ctx.identity(bottoms[0], tops[0])
        else:
            ctx.op("Concat", bottoms, tops[0], axis=self.axis)

    def forward(self, bottoms: list[np.ndarray], blobs: list[np.ndarray], run: RunContext) -> list[np.ndarray]:
        """The bottoms copied into their slices of the top (``run.into[0]`` when the executor made it,
        skipping bottoms their producers already wrote there); past axis 0, one slice of the leading
        axis per task (`parallel_for`)."""
        if len(bottoms) == 1:
            return [bottoms[0]]
        if self.axis == 0:
            return [np.concatenate(bottoms, axis=0)]
        shape = list(bottoms[0].shape)
        shape[self.axis] = sum(b.shape[self.axis] for b in bottoms)
        top = run.into[0] if run.into else None
        if top is None:
            top = np.empty(shape, dtype=np.result_type(*bottoms))
        ends = np.cumsum([0, *(b.shape[self.axis] for b in bottoms)])
        lead = (slice(None),) * self.axis
        slots = [top[(*lead, slice(lo, hi))] for lo, hi in zip(ends[:-1], ends[1:], strict=True)]
        moves = [(b, dst) for b, dst in zip(bottoms, slots, strict=True) if not _is_view_of(b, dst)]

        def item(i: int) -> None:
            for b, dst in moves:
                np.copyto(dst[i], b[i])

        if moves:
            parallel_for(item, shape[0], sum(b.size for b, _ in moves))
        return [top]


def _is_view_of(array: np.ndarray, view: np.ndarray) -> bool:
    """`array` is exactly the memory of `view` (same start, shape and strides)."""
    return (array.shape == view.shape and array.strides == view.strides and array.dtype == view.dtype
            and array.__array_interface__["data"][0] == view.__array_interface__["data"][0])
