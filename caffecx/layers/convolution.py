"""Convolution (and the fork alias ``DepthwiseConvolution``, which reads ``convolution_param``).

Caffe rule (BaseConvolutionLayer): the channel axis is ``convolution_param.axis`` (default 1), every
axis after it is spatial (N-d: a 5-D blob gets a 3-D kernel). Output size per spatial axis is
``(in + 2*pad - (dilation*(k-1)+1)) / stride + 1`` with C++ truncating division. Several bottoms are
allowed; each must have the same shape and gets its own top (same weights). CHECKs: ``num_output > 0``,
``channels % group == 0``, ``num_output % group == 0``.

Stored blobs: weight ``(num_output, channels/group, *kernel)``, then bias ``(num_output,)`` when
``bias_term``.

Counts (per bottom/top pair, whole batch): MACs = N * C_out * prod(out) * (C_in/group) * prod(kernel);
FLOPs = 2*MACs + N*C_out*prod(out) bias adds when ``bias_term``. Border taps that fall into the padding
are counted (as a dense GEMM over im2col does), unlike tools that skip them.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from caffecx.layers.base import Context, Counts, Layer, ParamBlob, Shape, Window, register
from caffecx.layers.spatial import Geometry, conv_axes, conv_geometry, spatial_out


@dataclass(frozen=True)
class ConvSpec:
    """Everything a conv-family layer derives from its parameters and bottom shape."""

    channel_axis: int
    channels: int
    num_output: int
    group: int
    bias_term: bool
    geometry: Geometry


@register("Convolution", "DepthwiseConvolution")
class Convolution(Layer):
    """Caffe's ``Convolution``; see the module docstring for the shape, blob and count rules."""

    num_bottoms = (1, None)
    num_tops = (1, None)
    #: Deconvolution swaps the roles of input and output (Caffe's ``reverse_dimensions``).
    transposed: bool = False

    def declared_pad(self) -> tuple[int, ...] | None:
        cp = self.lp.convolution_param
        return (int(cp.pad_h), int(cp.pad_w)) if cp.pad_h or cp.pad_w else tuple(int(p) for p in cp.pad)

    def spec(self, bottom: Shape) -> ConvSpec:
        """Parse ``convolution_param`` against `bottom` with Caffe's LayerSetUp CHECKs."""
        cp = self.lp.convolution_param
        channel_axis, num_spatial = conv_axes(tuple(bottom), int(cp.axis), self.check)
        geo = conv_geometry(cp, num_spatial, self.check)
        channels = int(bottom[channel_axis])
        num_output = int(cp.num_output)
        group = int(cp.group)
        self.check(num_output > 0, f"Check failed: num_output_ > 0 ({num_output} vs. 0)")
        self.check(group > 0, f"group must be positive (got {group})")
        self.check(
            channels % group == 0,
            f"Check failed: channels_ % group_ == 0 ({channels} channels, group {group})",
        )
        self.check(
            num_output % group == 0,
            f"Number of output should be multiples of group. (num_output {num_output}, group {group})",
        )
        return ConvSpec(channel_axis, channels, num_output, group, bool(cp.bias_term), geo)

    def setup(self, bottom_shapes: list[Shape], ctx: Context) -> list[Shape]:
        self.check(
            len(bottom_shapes) == len(self.lp.top),
            f"{self.lp.type} Layer produces one top blob as output for each bottom blob input.",
        )
        first = tuple(bottom_shapes[0])
        for other in bottom_shapes[1:]:
            self.check(tuple(other) == first, "All inputs must have the same shape.")
        s = self.spec(first)
        spatial = first[s.channel_axis + 1 :]
        out = spatial_out(spatial, s.geometry, self.check, transposed=self.transposed)
        top = (*first[: s.channel_axis], s.num_output, *out)
        return [top for _ in bottom_shapes]

    def param_shapes(self, bottom_shapes: list[Shape]) -> list[ParamBlob]:
        s = self.spec(tuple(bottom_shapes[0]))
        if self.transposed:
            weight = (s.channels, s.num_output // s.group, *s.geometry.kernel)
        else:
            weight = (s.num_output, s.channels // s.group, *s.geometry.kernel)
        blobs = [ParamBlob(weight, "weight")]
        if s.bias_term:
            blobs.append(ParamBlob((s.num_output,), "bias"))
        return blobs

    def counts(self, bottom_shapes: list[Shape], top_shapes: list[Shape]) -> Counts:
        s = self.spec(tuple(bottom_shapes[0]))
        kernel = math.prod(s.geometry.kernel)
        macs = flops = 0
        for bottom, top in zip(bottom_shapes, top_shapes, strict=False):
            num = math.prod(bottom[: s.channel_axis])
            out_spatial = math.prod(top[s.channel_axis + 1 :])
            if self.transposed:
                in_spatial = math.prod(bottom[s.channel_axis + 1 :])
                m = num * s.channels * in_spatial * (s.num_output // s.group) * kernel
            else:
                m = num * s.num_output * out_spatial * (s.channels // s.group) * kernel
            macs += m
            flops += 2 * m + (num * s.num_output * out_spatial if s.bias_term else 0)
        return Counts(macs, flops)

    def window(self, bottom_shapes: list[Shape]) -> Window | None:
        return self.spec(tuple(bottom_shapes[0])).geometry.window(transposed=self.transposed)
