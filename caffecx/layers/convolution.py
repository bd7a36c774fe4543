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

Forward (Caffe's ``forward_cpu_gemm``): zero padding, one GEMM per group of the weights
``(C_out/g, C_in/g*K)`` against the column buffer ``(C_in/g*K, P)``, then the bias per output channel.
Here: 1x1/stride 1/pad 0 is a plain matmul (Caffe's ``is_1x1_``), depthwise (group = channels =
num_output) a sum over kernel taps of contiguous shifts of the padded input's phase planes, anything
else strided windows into one batched GEMM over the groups. Windows Caffe's truncating output size lets run past the padded input
read zeros, as im2col does.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np

from caffecx.layers._threads import MACS_PER_PASS, blocks, parallel_for, workers
from caffecx.layers._windows import (
    crop_shifted,
    onnx_window_pads,
    pad_for_windows,
    phase_shifts,
    window_view,
)
from caffecx.layers.activations import relu_into
from caffecx.layers.base import Context, Counts, Layer, ParamBlob, RunContext, Shape, Window, register
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
    writes_into = True
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
        self.parsed = s
        return [top for _ in bottom_shapes]

    def param_shapes(self, bottom_shapes: list[Shape]) -> list[ParamBlob]:
        s = self.spec(tuple(bottom_shapes[0]))
        if self.transposed:
            weight = (s.channels, s.num_output // s.group, *s.geometry.kernel)
        else:
            weight = (s.num_output, s.channels // s.group, *s.geometry.kernel)
        cp = self.lp.convolution_param
        blobs = [ParamBlob(weight, "weight", filler=cp.weight_filler)]
        if s.bias_term:
            blobs.append(ParamBlob((s.num_output,), "bias", filler=cp.bias_filler))
        return blobs

    # -- forward ----------------------------------------------------------------------------------
    def to_onnx(self, ctx: Any, bottoms: list[str], tops: list[str], blobs: list[np.ndarray]) -> None:
        """Conv / ConvTranspose (groups, dilation, N-d) sharing one weight initializer over every bottom.
        Conv's end pads reproduce Caffe's truncating output size; ConvTranspose's symmetric pads give
        Caffe's ``stride*(in-1) + extent - 2*pad`` (no output_padding exists in Caffe)."""
        s, geo = self.parsed, self.parsed.geometry
        self.check(s.channel_axis == 1, f"ONNX convolutions take channels on axis 1 (axis: {s.channel_axis})")
        weights = [ctx.const(blobs[0], "weight"), *(ctx.const(b, "bias") for b in blobs[1:])]
        attrs = {"kernel_shape": list(geo.kernel), "strides": list(geo.stride), "dilations": list(geo.dilation),
                 "group": s.group}
        for x, top in zip(bottoms, tops, strict=True):
            if self.transposed:
                ctx.op("ConvTranspose", [x, *weights], top, pads=[*geo.pad, *geo.pad], **attrs)
                continue
            pads = onnx_window_pads(self.bottom_shapes[0][2:], self.top_shapes[0][2:], geo.extent, geo.stride,
                                    geo.pad)
            ctx.op("Conv", [x, *weights], top, pads=pads, **attrs)

    def forward(self, bottoms: list[np.ndarray], blobs: list[np.ndarray], run: RunContext) -> list[np.ndarray]:
        """One top per bottom, all with the same weights (see the module docstring)."""
        s = self.parsed
        weight = np.asarray(blobs[0], dtype=run.dtype)
        bias = np.asarray(blobs[1], dtype=run.dtype) if len(blobs) > 1 else None
        then = None
        if len(blobs) > 2:  # a ReLU folded in by the executor (`absorb_relu`): its negative slope
            slope = blobs[2].astype(run.dtype)[()]

            def then(y: np.ndarray) -> None:
                relu_into(y, slope, y)

        tops = []
        for j, (x, top_shape) in enumerate(zip(bottoms, self.top_shapes, strict=True)):
            lead = math.prod(top_shape[: s.channel_axis])
            x = np.asarray(x, dtype=run.dtype).reshape(lead, s.channels, *x.shape[s.channel_axis + 1 :])
            into = run.into[j] if j < len(run.into) else None
            into = None if into is None else into.reshape(lead, s.num_output, *top_shape[s.channel_axis + 1 :])
            y = self.compute(x, weight, top_shape[s.channel_axis + 1 :], bias, then, into)
            tops.append(y.reshape(top_shape))
        return tops

    def absorb_relu(self, blobs: list[np.ndarray], slope: float) -> list[np.ndarray] | None:
        """The blobs with a following in-place ReLU folded in: ``[weight, bias, slope]`` (a zero bias when
        the layer had none); the forward applies it to each block of the top as the block is made."""
        if len(blobs) > 2 or self.parsed.channel_axis != 1:
            return None
        bias = blobs[1] if len(blobs) > 1 else np.zeros(self.parsed.num_output, dtype=blobs[0].dtype)
        return [blobs[0], bias, np.asarray(slope, dtype=blobs[0].dtype)]

    def absorb_channel_affine(self, blobs: list[np.ndarray], scale: np.ndarray,
                              shift: np.ndarray) -> list[np.ndarray] | None:
        """``W' = W * scale[o]``, ``b' = b * scale + shift`` over output channels (a bias is added when
        the layer had none); only a plain convolution with channels on axis 1 absorbs a map."""
        if self.transposed or self.parsed.channel_axis != 1 or scale.shape != (self.parsed.num_output,):
            return None
        dtype = blobs[0].dtype
        weight = blobs[0].astype(np.float64) * scale.reshape(-1, *(1,) * (blobs[0].ndim - 1))
        bias = blobs[1].astype(np.float64) * scale + shift if len(blobs) > 1 else shift
        return [weight.astype(dtype), bias.astype(dtype)]

    def compute(self, x: np.ndarray, weight: np.ndarray, out: Shape, bias: np.ndarray | None,
                then: Then = None, into: np.ndarray | None = None) -> np.ndarray:
        """``(num, C_in, *in)`` -> ``(num, C_out, *out)`` plus the bias per output channel, then ``then``
        in place (written into `into` when given, else a fresh array)."""
        return conv_nd(x, weight, self.parsed.geometry, self.parsed.group, tuple(out), bias, then, into)

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


# -- the convolution itself (shared with layers that need a plain N-d conv) ---------------------------


#: An in-place map applied to each block of a convolution's top as it is made (a folded ReLU).
Then = Callable[[np.ndarray], None] | None


def _nothing(y: np.ndarray) -> None:
    """No map after the bias."""


def conv_nd(x: np.ndarray, weight: np.ndarray, geo: Geometry, group: int, out: Shape,
            bias: np.ndarray | None = None, then: Then = None, into: np.ndarray | None = None) -> np.ndarray:
    """Caffe's grouped, dilated N-d convolution: ``x (num, C_in, *in)``, ``weight (C_out, C_in/group,
    *kernel)``, optional ``bias (C_out,)`` -> ``(num, C_out, *out)`` in ``x``'s dtype (written into
    `into`, an array of that shape, when given), then the in-place map ``then`` (a folded ReLU). The GEMMs (and the bias and `then`, on each block while it is in
    cache) run in parallel (`parallel_for`): one image per task, each with its own column buffer (K
    times the image), or for a single image over blocks of output channels or of output positions."""
    num, channels = x.shape[:2]
    c_out = weight.shape[0]
    then = then or _nothing
    if math.prod(out) == 0 or num == 0:
        top = np.zeros((num, c_out, *out), dtype=x.dtype)
        return top if bias is None else top + bias.reshape(-1, *(1,) * len(out))
    if group == channels == c_out:
        return depthwise(x, weight, geo, out, bias, then, into)
    k, positions = math.prod(geo.kernel), math.prod(out)
    w = weight.reshape(group, c_out // group, channels // group * k)
    b = None if bias is None else bias.reshape(group, c_out // group, 1)
    top = _new_or(into, (num, c_out, *out), x.dtype).reshape(num, group, c_out // group, positions)
    work = num * c_out * positions * (channels // group) * k // MACS_PER_PASS
    if num > 1:
        def image(i: int) -> None:
            np.matmul(w, _columns(x[i : i + 1], geo, group, out)[0], out=top[i])
            if b is not None:
                top[i] += b
            then(top[i])

        parallel_for(image, num, work)
    else:
        cols = _columns(x, geo, group, out)
        by_rows = c_out // group >= min(positions, 128)  # cut the weights' rows unless they are few
        cuts = blocks(c_out // group if by_rows else positions, workers() + 1)

        def block(i: int) -> None:
            r, p = (cuts[i], slice(None)) if by_rows else (slice(None), cuts[i])
            np.matmul(w[:, r], cols[..., p], out=top[:, :, r, p])
            if b is not None:
                top[:, :, r, p] += b[:, r]
            then(top[:, :, r, p])

        parallel_for(block, len(cuts), work)
    return top.reshape(num, c_out, *out)


def _new_or(into: np.ndarray | None, shape: Shape, dtype: Any) -> np.ndarray:
    """`into` (the array the executor asked the top to be written into) or a new one of `shape`."""
    return np.empty(shape, dtype=dtype) if into is None else into


def _columns(x: np.ndarray, geo: Geometry, group: int, out: Shape) -> np.ndarray:
    """Caffe's column buffer of images ``x``: ``(num, group, C_in/group * K, P)`` (the input itself for a
    1x1, stride-1, unpadded kernel: Caffe's ``is_1x1_``), copied from the windows a block of channels
    per task."""
    num, channels = x.shape[:2]
    if all(k == 1 for k in geo.kernel) and all(st == 1 for st in geo.stride) and not any(geo.pad):
        return x.reshape(num, group, channels // group, -1)
    xp = pad_for_windows(x, out, geo.kernel, geo.stride, geo.pad, geo.dilation)
    view = window_view(xp, out, geo.kernel, geo.stride, geo.dilation)
    cols = np.empty(view.shape, dtype=x.dtype)
    parts = blocks(channels, 2 * (workers() + 1))
    parallel_for(lambda i: np.copyto(cols[:, parts[i]], view[:, parts[i]]), len(parts), cols.size)
    return cols.reshape(num, group, channels // group * math.prod(geo.kernel), math.prod(out))


def depthwise(x: np.ndarray, weight: np.ndarray, geo: Geometry, out: Shape,
              bias: np.ndarray | None = None, then: Then = None, into: np.ndarray | None = None) -> np.ndarray:
    """Depthwise conv of ``x (num, C, *in)``: the sum over kernel taps of each tap's shifted view
    times that tap's per-channel weight (one multiply-add pass per tap), every tap a contiguous slice
    of one phase plane of the padded input (`phase_shifts`), then the bias as the rows are cropped and
    ``then`` in place (into `into` when given); blocks of channels in parallel, each padded and summed
    on its own."""
    num, channels = x.shape[:2]
    w = weight.reshape(channels, -1)
    b = np.zeros(channels, dtype=x.dtype) if bias is None else bias
    top = _new_or(into, (num, channels, *out), x.dtype)
    spread = (1,) * len(out)

    def channel_block(c: slice) -> None:
        flat, taps_, length, plane = phase_shifts(x[:, c], out, geo.kernel, geo.stride, geo.pad, geo.dilation)
        acc = np.empty((num, c.stop - c.start, length), dtype=x.dtype)
        tmp = np.empty_like(acc)
        for flat_tap, (phase, off) in enumerate(taps_):
            np.multiply(flat[..., phase, off : off + length], w[c, flat_tap : flat_tap + 1],
                        out=tmp if flat_tap else acc)
            if flat_tap:
                acc += tmp
        np.add(crop_shifted(acc, out, plane), b[c].reshape(-1, *spread), out=top[:, c])
        if then is not None:
            then(top[:, c])

    parts = blocks(channels, 2 * (workers() + 1))
    parallel_for(lambda i: channel_block(parts[i]), len(parts), 2 * top.size * math.prod(geo.kernel))
    return top
