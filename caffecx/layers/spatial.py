"""Shared geometry of the sliding-window layers: reading kernel/stride/pad/dilation, output sizes.

Two parameter families exist in Caffe and they are read differently:

* ``ConvolutionParameter`` (Convolution, Deconvolution, Im2col): ``kernel_size``/``stride``/``pad``/
  ``dilation`` are *repeated* (given once for every spatial axis, or once per axis, N-d capable);
  ``kernel_h/w``, ``stride_h/w``, ``pad_h/w`` are the 2-D-only alternative and may not be mixed with
  the repeated form. Output size uses C++ integer division, which truncates toward zero:
  ``(in + 2*pad - (dilation*(k-1)+1)) / stride + 1`` — so a window one pixel larger than the padded
  input still yields 1 output (``-1 / 2 == 0``), where Python's floor division would give 0.
* ``PoolingParameter``: scalar ``kernel_size``/``stride``/``pad`` or the ``_h``/``_w`` pairs, 2-D only,
  rounded *up* by default (``round_mode: CEIL``), then the clip rule: with any padding, an output whose
  window would start in the bottom/right padding is dropped
  (``if pad and (out-1)*stride >= in+pad: out -= 1``). PyTorch/ONNX ceil-mode differ in when they clip.

Every function takes ``check(condition, message)`` — a layer's ``Layer.check`` — so failures are
located `ShapeError`s carrying Caffe's CHECK wording.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from caffecx.layers.base import Shape, Window

Check = Callable[[bool, str], None]


@dataclass(frozen=True)
class Geometry:
    """Per-spatial-axis window parameters of one layer (axis order: H, W, ... or D, H, W)."""

    kernel: tuple[int, ...]
    stride: tuple[int, ...]
    pad: tuple[int, ...]
    dilation: tuple[int, ...]

    @property
    def extent(self) -> tuple[int, ...]:
        """Effective kernel size with dilation: ``dilation*(kernel-1)+1``."""
        return tuple(d * (k - 1) + 1 for k, d in zip(self.kernel, self.dilation, strict=True))

    def window(self, transposed: bool = False) -> Window:
        return Window(self.kernel, self.stride, self.pad, self.dilation, transposed=transposed)


def has(msg: Any, name: str) -> bool:
    """True when optional field `name` is set (False for fields the schema lacks)."""
    return name in msg.DESCRIPTOR.fields_by_name and msg.HasField(name)


def enum_name(msg: Any, name: str) -> str:
    """The symbolic name of enum field `name` (``"MAX"``, ``"AVE"``, ...)."""
    field = msg.DESCRIPTOR.fields_by_name[name]
    value = getattr(msg, name)
    ev = field.enum_type.values_by_number.get(value)
    return ev.name if ev is not None else str(value)


def c_div(a: int, b: int) -> int:
    """C++ integer division (truncates toward zero)."""
    q = abs(a) // abs(b)
    return q if (a >= 0) == (b > 0) else -q


# -- ConvolutionParameter ---------------------------------------------------------------------------


def conv_axes(bottom: Shape, axis: int, check: Check, min_spatial: int = 0) -> tuple[int, int]:
    """(channel_axis, number of spatial axes) for a conv-family layer with ``convolution_param.axis``."""
    n = len(bottom)
    check(-n <= axis < n, f"axis {axis} out of range for final index {n - 1} of a {n}-axis blob")
    channel_axis = axis + n if axis < 0 else axis
    num_spatial = n - channel_axis - 1
    check(num_spatial >= min_spatial, f"need at least {min_spatial} spatial axes after axis {channel_axis}")
    return channel_axis, num_spatial


def _repeated(values: Sequence[int], n: int, default: int, what: str, check: Check) -> tuple[int, ...]:
    k = len(values)
    allowed = k == 1 or k == n or (default >= 0 and k == 0)
    check(
        allowed,
        f"{what} must be specified once, or once per spatial dimension "
        f"({what} specified {k} times; {n} spatial dims).",
    )
    if k == 0:
        return (default,) * n
    return tuple(int(values[0 if k == 1 else i]) for i in range(n))


def _hw_or_repeated(cp: Any, name: str, n: int, default: int, check: Check) -> tuple[int, ...]:
    if has(cp, f"{name}_h") or has(cp, f"{name}_w"):
        check(n == 2, f"{name}_h & {name}_w can only be used for 2D convolution.")
        check(len(getattr(cp, name)) == 0, f"Either {name} or {name}_h/w should be specified; not both.")
        return (int(getattr(cp, f"{name}_h")), int(getattr(cp, f"{name}_w")))
    return _repeated(list(getattr(cp, name)), n, default, name, check)


def conv_geometry(cp: Any, num_spatial: int, check: Check) -> Geometry:
    """Kernel/stride/pad/dilation from a ``ConvolutionParameter`` for `num_spatial` axes (Caffe's CHECKs)."""
    if has(cp, "kernel_h") or has(cp, "kernel_w"):
        check(num_spatial == 2, "kernel_h & kernel_w can only be used for 2D convolution.")
        check(len(cp.kernel_size) == 0, "Either kernel_size or kernel_h/w should be specified; not both.")
        kernel: tuple[int, ...] = (int(cp.kernel_h), int(cp.kernel_w))
    else:
        kernel = _repeated(list(cp.kernel_size), num_spatial, -1, "kernel_size", check)
    check(all(k > 0 for k in kernel), "Filter dimensions must be nonzero.")
    stride = _hw_or_repeated(cp, "stride", num_spatial, 1, check)
    check(all(s > 0 for s in stride), "Stride dimensions must be nonzero.")
    pad = _hw_or_repeated(cp, "pad", num_spatial, 0, check)
    dilation = _repeated(list(cp.dilation), num_spatial, 1, "dilation", check)
    return Geometry(kernel, stride, pad, dilation)


def conv_out(size: int, kernel: int, stride: int, pad: int, dilation: int = 1) -> int:
    """Caffe's convolution output size along one axis (truncating division, like C++)."""
    extent = dilation * (kernel - 1) + 1
    return c_div(size + 2 * pad - extent, stride) + 1


def deconv_out(size: int, kernel: int, stride: int, pad: int, dilation: int = 1) -> int:
    """Caffe's deconvolution output size along one axis: ``stride*(in-1) + extent - 2*pad``."""
    extent = dilation * (kernel - 1) + 1
    return stride * (size - 1) + extent - 2 * pad


def spatial_out(
    spatial: Sequence[int], geo: Geometry, check: Check, transposed: bool = False
) -> tuple[int, ...]:
    """Output spatial dims of a conv (or deconv) over `spatial`; negative sizes fail like Blob::Reshape."""
    fn = deconv_out if transposed else conv_out
    out = tuple(
        fn(s, k, st, p, d)
        for s, k, st, p, d in zip(spatial, geo.kernel, geo.stride, geo.pad, geo.dilation, strict=True)
    )
    check(
        all(o >= 0 for o in out),
        f"output size {list(out)} is negative: input {list(spatial)} is smaller than the kernel "
        f"extent {list(geo.extent)} with pad {list(geo.pad)}",
    )
    return out


# -- PoolingParameter -------------------------------------------------------------------------------


def pool_geometry(pp: Any, in_hw: Sequence[int], check: Check) -> tuple[Geometry, bool]:
    """(geometry, global_pooling) from a ``PoolingParameter`` over a 2-D input (Caffe's LayerSetUp CHECKs)."""
    is_global = bool(getattr(pp, "global_pooling", False))
    has_k, has_kh, has_kw = has(pp, "kernel_size"), has(pp, "kernel_h"), has(pp, "kernel_w")
    if is_global:
        check(not (has_k or has_kh or has_kw), "With Global_pooling: true Filter size cannot specified")
    else:
        check(
            (not has_k) != (not (has_kh and has_kw)),
            "Filter size is kernel_size OR kernel_h and kernel_w; not both",
        )
        check(has_k or (has_kh and has_kw), "For non-square filters both kernel_h and kernel_w are required.")
    check(
        (not has(pp, "pad") and has(pp, "pad_h") and has(pp, "pad_w"))
        or (not has(pp, "pad_h") and not has(pp, "pad_w")),
        "pad is pad OR pad_h and pad_w are required.",
    )
    check(
        (not has(pp, "stride") and has(pp, "stride_h") and has(pp, "stride_w"))
        or (not has(pp, "stride_h") and not has(pp, "stride_w")),
        "Stride is stride OR stride_h and stride_w are required.",
    )
    if is_global:
        kernel = (int(in_hw[0]), int(in_hw[1]))
    elif has_k:
        kernel = (int(pp.kernel_size),) * 2
    else:
        kernel = (int(pp.kernel_h), int(pp.kernel_w))
    check(all(k > 0 for k in kernel), "Filter dimensions cannot be zero.")
    pad = (int(pp.pad_h), int(pp.pad_w)) if has(pp, "pad_h") else (int(pp.pad),) * 2
    stride = (int(pp.stride_h), int(pp.stride_w)) if has(pp, "stride_h") else (int(pp.stride),) * 2
    check(all(s > 0 for s in stride), "Stride dimensions cannot be zero.")
    if is_global:
        check(pad == (0, 0) and stride == (1, 1), "With Global_pooling: true; only pad = 0 and stride = 1")
    if pad != (0, 0):
        check(
            enum_name(pp, "pool") in ("AVE", "MAX"), "Padding implemented only for average and max pooling."
        )
        check(pad[0] < kernel[0], f"Check failed: pad_h_ < kernel_h_ ({pad[0]} vs. {kernel[0]})")
        check(pad[1] < kernel[1], f"Check failed: pad_w_ < kernel_w_ ({pad[1]} vs. {kernel[1]})")
    return Geometry(kernel, stride, pad, (1, 1)), is_global


def pool_out(size: int, kernel: int, stride: int, pad: int, ceil_mode: bool = True) -> int:
    """Caffe's pooled size along one axis, before the clip rule: ceil (default) or floor rounding."""
    num = size + 2 * pad - kernel
    q = -((-num) // stride) if ceil_mode else num // stride
    return q + 1


def pool_out_hw(in_hw: Sequence[int], geo: Geometry, check: Check, ceil_mode: bool = True) -> tuple[int, int]:
    """Pooled (H, W) with Caffe's clip rule: with padding, drop a last window starting in the padding."""
    out = [
        pool_out(s, k, st, p, ceil_mode)
        for s, k, st, p in zip(in_hw, geo.kernel, geo.stride, geo.pad, strict=True)
    ]
    if any(geo.pad):
        for a in range(2):
            if (out[a] - 1) * geo.stride[a] >= in_hw[a] + geo.pad[a]:
                out[a] -= 1
        for a, axis in enumerate("hw"):
            check(
                (out[a] - 1) * geo.stride[a] < in_hw[a] + geo.pad[a],
                f"Check failed: (pooled_{'height' if axis == 'h' else 'width'}_ - 1) * stride_{axis}_ "
                f"< {'height' if axis == 'h' else 'width'}_ + pad_{axis}_",
            )
    check(all(o >= 0 for o in out), f"pooled size {out} is negative for input {list(in_hw)}")
    return out[0], out[1]


def round_ceil(pp: Any) -> bool:
    """True unless ``round_mode: FLOOR`` (a BVLC 2018 field; older schemas always round up)."""
    if "round_mode" not in pp.DESCRIPTOR.fields_by_name:
        return True
    return enum_name(pp, "round_mode") != "FLOOR"


def require_4d(bottom: Shape, check: Check, what: str = "Input") -> None:
    """Caffe's ``CHECK_EQ(4, bottom[0]->num_axes())`` of the 2-D spatial layers."""
    check(len(bottom) == 4, f"{what} must have 4 axes, corresponding to (num, channels, height, width)")


__all__ = [
    "Check",
    "Geometry",
    "c_div",
    "conv_axes",
    "conv_geometry",
    "conv_out",
    "deconv_out",
    "enum_name",
    "has",
    "pool_geometry",
    "pool_out",
    "pool_out_hw",
    "require_4d",
    "round_ceil",
    "spatial_out",
]
