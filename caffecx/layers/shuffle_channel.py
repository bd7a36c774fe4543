"""ShuffleChannel (ShuffleNet fork layer): interleave the channels of ``group`` groups.

Caffe rule (ShuffleChannelLayer): ``group`` > 0; the top is reshaped with the legacy 4-D accessors,
``(num, channels, height, width)`` — so a 2-axis bottom ``(N, C)`` gives a ``(N, C, 1, 1)`` top.
The forward pass requires channels divisible by ``group`` ("Wrong group size."); caffecx checks that at
set-up. Data movement only: 0 FLOPs.

Forward: output channel ``j * group + i`` is input channel ``i * (C / group) + j`` — a reshape to
``(N, group, C / group, rest)``, a swap of the two group axes, and a reshape back.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from caffecx.layers._common import check_blob_counts, legacy_dim, onnx_reshape
from caffecx.layers.base import Context, Layer, RunContext, Shape, register


@register("ShuffleChannel")
class ShuffleChannel(Layer):
    """The fork's ``ShuffleChannel``; see the module docstring."""

    def setup(self, bottom_shapes: list[Shape], ctx: Context) -> list[Shape]:
        check_blob_counts(self, bottom_shapes)
        group = int(self.lp.shuffle_channel_param.group)
        self.check(group > 0, "group must be greater than 0")
        bottom = tuple(bottom_shapes[0])
        top = tuple(legacy_dim(self, bottom, i) for i in range(4))
        self.check(top[1] % group == 0, f"Wrong group size. ({top[1]} channels in {group} groups)")
        self.group = group
        return [top]

    def to_onnx(self, ctx: Any, bottoms: list[str], tops: list[str], blobs: list[np.ndarray]) -> None:
        """Reshape to (N, group, C/group, H*W), swap the two channel axes, reshape back."""
        n, c, h, w = self.top_shapes[0]
        grouped = onnx_reshape(ctx, bottoms[0], self.bottom_shapes[0], (n, self.group, c // self.group, h * w))
        swapped = ctx.op("Transpose", [grouped], perm=[0, 2, 1, 3])
        onnx_reshape(ctx, swapped, (n, c // self.group, self.group, h * w), self.top_shapes[0], tops[0])

    def forward(self, bottoms: list[np.ndarray], blobs: list[np.ndarray], run: RunContext) -> list[np.ndarray]:
        n, c = self.top_shapes[0][:2]
        x = np.asarray(bottoms[0], dtype=run.dtype).reshape(n, self.group, c // self.group, -1)
        return [np.ascontiguousarray(x.transpose(0, 2, 1, 3)).reshape(self.top_shapes[0])]
