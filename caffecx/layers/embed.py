"""Embed: a lookup table indexed by the (integer-valued) bottom.

Caffe rule (EmbedLayer): top = ``bottom.shape + (num_output,)``; CHECKs ``num_output > 0`` and
``input_dim > 0``. Stored blobs: weight ``(input_dim, num_output)`` — rows are looked up, which is the
transpose of InnerProduct's layout — then bias ``(num_output,)`` when ``bias_term``.

Counts: no MACs (a copy per row); FLOPs = M*num_output bias adds (M = bottom count).
"""

from __future__ import annotations

import math

from caffecx.layers.base import Context, Counts, Layer, ParamBlob, Shape, register


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
        blobs = [ParamBlob((k, n), "weight")]
        if self.lp.embed_param.bias_term:
            blobs.append(ParamBlob((n,), "bias"))
        return blobs

    def counts(self, bottom_shapes: list[Shape], top_shapes: list[Shape]) -> Counts:
        _, n = self._params()
        m = math.prod(bottom_shapes[0])
        return Counts(0, m * n if self.lp.embed_param.bias_term else 0)
