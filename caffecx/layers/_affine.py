"""The broadcast rule Scale and Bias share (Caffe's ScaleLayer / BiasLayer).

The operand (a learned blob, or ``bottom[1]``) covers ``bottom[0]`` axes ``axis .. axis+operand.ndim-1``
and is broadcast over the rest: ``outer = count(0, axis)``, ``inner = count(axis + operand.ndim)``.
A learned operand takes its shape from ``bottom[0].shape[axis : axis+num_axes]`` (``num_axes: -1`` =
to the end, ``0`` = a scalar). A 0-axis operand always applies at axis 0.

Forward: ``at_axis`` reshapes the operand so that NumPy broadcasting applies it (no tiling, no copy).
"""

from __future__ import annotations

from typing import Any

import numpy as np

from caffecx.layers._common import axis_index
from caffecx.layers.base import Layer, Shape


def learned_shape(layer: Layer, bottom: Shape, axis: int, num_axes: int, what: str) -> Shape:
    """Shape of the learned operand (LayerSetUp with one bottom), with Caffe's CHECKs."""
    start = axis_index(layer, bottom, axis)
    layer.check(num_axes >= -1, "num_axes must be non-negative, or -1 to extend to the end of bottom[0]")
    if num_axes >= 0:
        layer.check(len(bottom) >= start + num_axes,
                    f"{what} blob's shape extends past bottom[0]'s shape when applied starting with "
                    f"bottom[0] axis = {start}")
    end = len(bottom) if num_axes == -1 else start + num_axes
    return tuple(bottom[start:end])


def check_operand(layer: Layer, bottom: Shape, operand: Shape, axis: int, what: str) -> int:
    """Reshape's CHECKs of ``operand`` against ``bottom``; returns the canonical axis it applies at."""
    start = 0 if len(operand) == 0 else axis_index(layer, bottom, axis)
    layer.check(len(bottom) >= start + len(operand),
                f"{what} blob's shape extends past bottom[0]'s shape when applied starting with "
                f"bottom[0] axis = {start}")
    for i, d in enumerate(operand):
        layer.check(bottom[start + i] == d,
                    f"dimension mismatch between bottom[0]->shape({start + i}) and {what}->shape({i}) "
                    f"({bottom[start + i]} vs. {d})")
    return start


def at_axis(operand: np.ndarray, ndim: int, start: int) -> np.ndarray:
    """`operand` as a view numpy broadcasts over an `ndim`-axis array at axes ``start .. start+operand.ndim-1``
    (outer axes before, inner axes after get size 1): Caffe's outer/scale_dim/inner loop as one broadcast."""
    lead = 0 if operand.ndim == 0 else start
    return operand.reshape((1,) * lead + operand.shape + (1,) * (ndim - lead - operand.ndim))


def onnx_at_axis(ctx: Any, name: str, operand: Shape, ndim: int, start: int) -> str:
    """ONNX value `name` (shape `operand`, a bottom) reshaped as `at_axis` reshapes an array; its first
    dim is left to ONNX (``-1``) so that a batch-sized operand (``axis: 0``) stays free."""
    lead = 0 if len(operand) == 0 else start
    shape = [1] * lead + list(operand) + [1] * (ndim - lead - len(operand))
    if operand:
        shape[lead] = -1
    return ctx.op("Reshape", [name, ctx.ints(shape)])


def onnx_operand(ctx: Any, blob: np.ndarray, ndim: int, start: int, hint: str) -> str:
    """A learned operand as an initializer already shaped for ONNX broadcasting (`at_axis`)."""
    return ctx.const(at_axis(blob, ndim, start), hint)


def onnx_operand_of(ctx: Any, bottoms: list[str], bottom_shapes: list[Shape], blobs: list[np.ndarray],
                    start: int, hint: str) -> str:
    """Scale's / Bias's operand in ONNX: the second bottom (`onnx_at_axis`) or else the first stored blob
    (`onnx_operand`), shaped to broadcast over the first bottom from axis `start`."""
    ndim = len(bottom_shapes[0])
    if len(bottoms) > 1:
        return onnx_at_axis(ctx, bottoms[1], bottom_shapes[1], ndim, start)
    return onnx_operand(ctx, blobs[0], ndim, start, hint)


def constant_filler(value: float) -> Any:
    """A ``FillerParameter`` ``constant`` with `value` (Caffe's built-in default of some layers)."""
    from caffecx.proto import caffe_pb2

    return caffe_pb2.FillerParameter(type="constant", value=value)


def given_filler(msg: Any, name: str) -> Any:
    """The ``FillerParameter`` field `name` of `msg` when set, else None (Caffe's default constant 0)."""
    return getattr(msg, name) if msg.HasField(name) else None
