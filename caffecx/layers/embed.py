"""Embed: a lookup table indexed by the (integer-valued) bottom.

Caffe rule (EmbedLayer): top = ``bottom.shape + (num_output,)``; CHECKs ``num_output > 0`` and
``input_dim > 0``. Stored blobs: weight ``(input_dim, num_output)`` — rows are looked up, which is the
transpose of InnerProduct's layout — then bias ``(num_output,)`` when ``bias_term``.

Counts: no MACs (a copy per row); FLOPs = M*num_output bias adds (M = bottom count).

Fillers: ``weight_filler`` and ``bias_filler`` (constant 0 when absent). Forward: each bottom value is
cast to an int as C's ``static_cast<int>`` does (truncation toward zero) and picks a weight row, then
``+ bias``. Caffe only DCHECKs ``0 <= index < input_dim`` (a release build reads out of bounds);
caffecx refuses an out-of-range index with a located error.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from caffecx.layers._affine import given_filler
from caffecx.layers.base import Context, Counts, Layer, ParamBlob, RunContext, Shape, register


@register("Embed")
class Embed(Layer):
    """Caffe's ``Embed``; see the module docstring."""

    def _params(self) -> tuple[int, int]:
        p = self.lp.embed_param
        n, k = int(p.num_output), int(p.input_dim)
        self.check(n > 0, "EmbedLayer num_output must be positive.")
        self.check(k > 0, "EmbedLayer input_dim must be positive.")
        return k, n

    def setup(self, bottom_shapes: list[Shape], ctx: Context) -> list[Shape]:
        _, n = self._params()
        return [(*tuple(bottom_shapes[0]), n)]

    def param_shapes(self, bottom_shapes: list[Shape]) -> list[ParamBlob]:
        k, n = self._params()
        p = self.lp.embed_param
        blobs = [ParamBlob((k, n), "weight", given_filler(p, "weight_filler"))]
        if p.bias_term:
            blobs.append(ParamBlob((n,), "bias", given_filler(p, "bias_filler")))
        return blobs

    def to_onnx(self, ctx: Any, bottoms: list[str], tops: list[str], blobs: list[np.ndarray]) -> None:
        """Gather rows of the (K, N) weight at the truncated indices, then the bias."""
        index = ctx.op("Cast", bottoms[:1], to=7)
        rows = ctx.op("Gather", [ctx.const(blobs[0], "weight"), index], tops[0] if len(blobs) == 1 else None)
        if len(blobs) > 1:
            ctx.op("Add", [rows, ctx.const(blobs[1], "bias")], tops[0])

    def forward(self, bottoms: list[np.ndarray], blobs: list[np.ndarray], run: RunContext) -> list[np.ndarray]:
        k, _ = self._params()
        values = bottoms[0]
        with np.errstate(invalid="ignore"):
            index = np.trunc(values)
        bad = ~((index >= 0) & (index < k))
        if bad.any():
            first = values.reshape(-1)[np.flatnonzero(bad.reshape(-1))[0]]
            raise self.fail(f"Embed index {first:g} out of range [0, {k}) (input_dim {k})")
        top = blobs[0][index.astype(np.intp)]
        if self.lp.embed_param.bias_term:
            top += blobs[1]
        return [top]

    def counts(self, bottom_shapes: list[Shape], top_shapes: list[Shape]) -> Counts:
        _, n = self._params()
        m = math.prod(bottom_shapes[0])
        return Counts(0, m * n if self.lp.embed_param.bias_term else 0)
