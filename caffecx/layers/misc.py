"""Small plumbing layers: Silence, Filter, BatchReindex, Parameter, HDF5Output. All 0 FLOPs.

Caffe rules:

* Silence: swallows 1+ bottoms, no tops.
* Filter: bottoms ``x_1..x_k, selector``; k tops. The selector must be ``(N, 1, ...)`` and every
  ``x_i.shape(0)`` must equal N. Which items pass is data-dependent; at set-up Caffe gives each top its
  bottom's full shape (``first_reshape_``), and so does caffecx.
* BatchReindex: bottoms ``data, permut`` (``permut`` 1-D); top = ``(permut.shape(0),) + data.shape[1:]``.
* Parameter: no bottoms; one top and one stored learnable blob, both of ``parameter_param.shape``.
* HDF5Output: two bottoms (data, label) written to ``hdf5_output_param.file_name``; no tops.

Forward: Silence produces nothing. Filter keeps the items whose selector value is non-zero (NaN counts
as non-zero, as C's truth test), in order: its tops' first axis is known only at run time (Caffe's
``Reshape`` before each ``Forward`` resizes them), so the planned full-batch shapes are only an upper
bound and layers after it were set up for the full batch. BatchReindex gathers ``data[int(permut[i])]``
(each float index CHECKed in ``[0, N)``, then truncated). Parameter's top is its stored blob (shared, as Caffe's
``ShareData``; filled with zeros when no weights are loaded, as Caffe leaves a fresh blob). HDF5Output
is refused: it writes files.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from caffecx.layers._common import check_blob_counts, shape_string
from caffecx.layers.base import Context, Layer, ParamBlob, RunContext, Shape, register


@register("Silence")
class Silence(Layer):
    """Caffe's ``Silence``; see the module docstring."""

    num_bottoms = (1, None)
    num_tops = (0, 0)

    def setup(self, bottom_shapes: list[Shape], ctx: Context) -> list[Shape]:
        check_blob_counts(self, bottom_shapes)
        return []

    def forward(self, bottoms: list[np.ndarray], blobs: list[np.ndarray], run: RunContext) -> list[np.ndarray]:
        return []


@register("Filter")
class Filter(Layer):
    """Caffe's ``Filter``; see the module docstring."""

    num_bottoms = (2, None)
    num_tops = (1, None)
    data_dependent_top = True

    def setup(self, bottom_shapes: list[Shape], ctx: Context) -> list[Shape]:
        check_blob_counts(self, bottom_shapes)
        self.check(len(self.lp.top) == len(bottom_shapes) - 1,
                   f"Filter needs one top per filtered bottom: {len(bottom_shapes) - 1} expected, "
                   f"{len(self.lp.top)} given")
        selector = tuple(bottom_shapes[-1])
        self.check(len(selector) >= 1, "the selector blob needs at least one axis")
        self.check(all(d == 1 for d in selector[1:]),
                   f"Selector blob dimensions must be singletons (1), except the first ({shape_string(selector)})")
        for i, s in enumerate(bottom_shapes[:-1]):
            self.check(len(s) >= 1 and s[0] == selector[0],
                       f"Each bottom should have the same 0th dimension as the selector blob "
                       f"(bottom[{i}] {shape_string(s)} vs. selector {shape_string(selector)})")
        return [tuple(s) for s in bottom_shapes[:-1]]

    def forward(self, bottoms: list[np.ndarray], blobs: list[np.ndarray], run: RunContext) -> list[np.ndarray]:
        selector = bottoms[-1]
        keep = np.flatnonzero(selector.reshape(selector.shape[0]) != 0)
        return [np.take(b, keep, axis=0) for b in bottoms[:-1]]


@register("BatchReindex")
class BatchReindex(Layer):
    """Caffe's ``BatchReindex``; see the module docstring."""

    num_bottoms = (2, 2)

    def setup(self, bottom_shapes: list[Shape], ctx: Context) -> list[Shape]:
        check_blob_counts(self, bottom_shapes)
        data, permut = tuple(bottom_shapes[0]), tuple(bottom_shapes[1])
        self.check(len(permut) == 1, f"the index bottom must have 1 axis ({shape_string(permut)})")
        self.check(len(data) >= 1, "the data bottom needs at least one axis")
        return [(permut[0], *data[1:])]

    def to_onnx(self, ctx: Any, bottoms: list[str], tops: list[str], blobs: list[np.ndarray]) -> None:
        ctx.op("Gather", [bottoms[0], ctx.op("Cast", [bottoms[1]], to=7)], tops[0], axis=0)

    def forward(self, bottoms: list[np.ndarray], blobs: list[np.ndarray], run: RunContext) -> list[np.ndarray]:
        data, permut = bottoms
        n = data.shape[0]
        bad = ~((permut >= 0) & (permut < n))  # Caffe CHECKs the float values, then truncates them
        if bad.any():
            raise self.fail(f"Index specified for reindex layer out of range: {permut[np.flatnonzero(bad)[0]]:g} "
                            f"not in [0, {n})")
        return [np.take(data, permut.astype(np.intp), axis=0)]


@register("Parameter")
class Parameter(Layer):
    """Caffe's ``Parameter``; see the module docstring."""

    num_bottoms = (0, 0)

    def _shape(self) -> Shape:
        shape = tuple(int(d) for d in self.lp.parameter_param.shape.dim)
        self.check(all(d >= 0 for d in shape), f"negative dimension in parameter_param.shape {shape}")
        return shape

    def setup(self, bottom_shapes: list[Shape], ctx: Context) -> list[Shape]:
        check_blob_counts(self, bottom_shapes)
        return [self._shape()]

    def param_shapes(self, bottom_shapes: list[Shape]) -> list[ParamBlob]:
        return [ParamBlob(self._shape(), "weight")]

    def to_onnx(self, ctx: Any, bottoms: list[str], tops: list[str], blobs: list[np.ndarray]) -> None:
        ctx.identity(ctx.const(blobs[0], "blob"), tops[0])

    def forward(self, bottoms: list[np.ndarray], blobs: list[np.ndarray], run: RunContext) -> list[np.ndarray]:
        return [blobs[0]]


@register("HDF5Output")
class HDF5Output(Layer):
    """Caffe's ``HDF5Output``; see the module docstring."""

    num_bottoms = (2, 2)
    num_tops = (0, 0)

    def setup(self, bottom_shapes: list[Shape], ctx: Context) -> list[Shape]:
        check_blob_counts(self, bottom_shapes)
        return []

    def forward_refusal(self) -> str | None:
        return "HDF5Output writes its bottoms to an HDF5 file; caffecx does not write files in a forward pass"
