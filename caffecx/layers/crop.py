"""Crop: crops bottom[0] to the shape of bottom[1] from ``crop_param.axis`` on.

Caffe rule (CropLayer, BVLC master): axes before ``axis`` (default 2) keep bottom[0]'s size; every axis
``i >= axis`` takes bottom[1]'s size. Offsets: none given = 0 everywhere; one value = the same offset on
every cropped axis; several = exactly one per cropped axis (``axis + len(offset) == num_axes``).
CHECK per cropped axis: ``bottom0[i] - offset >= bottom1[i]``. bottom[1] only supplies a shape (its data
is never read). Note FCN-era forks with ``crop_h/crop_w``-style offsets differ; this is BVLC's rule.

Counts: none (a copy). Receptive field: unchanged (a crop shifts, it does not widen).

Forward: ``top = bottom0[..., off_i : off_i + bottom1.shape[i], ...]`` on the cropped axes (a view).
"""

from __future__ import annotations

from typing import Any

import numpy as np

from caffecx.layers.base import Context, Layer, RunContext, Shape, register


@register("Crop")
class Crop(Layer):
    """Caffe's ``Crop``; see the module docstring."""

    num_bottoms = (2, 2)

    def offsets(self, bottom: Shape) -> tuple[int, list[int]]:
        """(start axis, offset per cropped axis) with Caffe's LayerSetUp CHECKs."""
        p = self.lp.crop_param
        n = len(bottom)
        axis = int(p.axis)
        self.check(-n <= axis < n, f"crop axis {axis} out of range for a {n}-axis blob")
        axis = axis + n if axis < 0 else axis
        given = [int(o) for o in p.offset]
        if len(given) > 1:
            self.check(
                axis + len(given) == n,
                "number of offset values specified must be equal to the number of dimensions following axis.",
            )
            return axis, given
        return axis, [given[0] if given else 0] * (n - axis)

    def setup(self, bottom_shapes: list[Shape], ctx: Context) -> list[Shape]:
        data, like = tuple(bottom_shapes[0]), tuple(bottom_shapes[1])
        axis, offsets = self.offsets(data)
        self.check(
            len(like) >= len(data),
            f"bottom[1] has {len(like)} axes; cropping {len(data)}-axis data needs as many",
        )
        top = list(data)
        for i in range(axis, len(data)):
            off = offsets[i - axis]
            self.check(
                data[i] - off >= like[i],
                f"the crop for dimension {i} is out-of-bounds with size {like[i]} and offset {off} "
                f"(input size {data[i]})",
            )
            top[i] = like[i]
        self.parsed = (axis, offsets)
        return [tuple(top)]

    def to_onnx(self, ctx: Any, bottoms: list[str], tops: list[str], blobs: list[np.ndarray]) -> None:
        """Slice on the cropped axes."""
        axis, offsets = self.parsed
        top = self.top_shapes[0]
        ends = [o + top[axis + i] for i, o in enumerate(offsets)]
        ctx.op("Slice", [bottoms[0], ctx.ints(offsets, "starts"), ctx.ints(ends, "ends"),
                         ctx.ints(range(axis, len(top)), "axes")], tops[0])

    def forward(self, bottoms: list[np.ndarray], blobs: list[np.ndarray], run: RunContext) -> list[np.ndarray]:
        axis, offsets = self.parsed
        top = self.top_shapes[0]
        index = tuple(slice(None) if i < axis else slice(offsets[i - axis], offsets[i - axis] + top[i])
                      for i in range(len(top)))
        return [np.asarray(bottoms[0], dtype=run.dtype)[index]]
