"""The builder a layer's ``to_onnx`` writes into: nodes, initializers and unique value names.

A layer mapping sees only this context, the ONNX names of its bottoms, the names its tops must get and
its blobs (float32, reshaped as the plan declares them). It appends nodes with `OnnxContext.op` (one
output) or `OnnxContext.ops` (several), constants with `OnnxContext.const` / `OnnxContext.ints`
(initializers, never graph inputs), and asks `OnnxContext.fresh` for the name of any intermediate value
(``<layer>/<hint>``, made unique against every Caffe blob name and every name already given).

Conventions: float32 values (Caffe's ``Dtype``); opset ``>= 13`` semantics (Softmax on one axis, Split
sizes and Reduce* axes as inputs where the opset takes them); ``dynamic_batch`` marks a graph whose
first axis is symbolic, so a mapping never bakes the batch into a shape (`caffecx.layers._common.onnx_reshape`
copies the leading dims a reshape keeps with ONNX's ``0``).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import onnx
from onnx import helper, numpy_helper

#: The lowest opset the mappings are written for, and the default (onnxruntime 1.17+ runs it).
MIN_OPSET = 13
DEFAULT_OPSET = 18


def _claim(taken: set[str], base: str) -> str:
    """``base``, or ``base_2``, ``base_3``... the first not in ``taken``; recorded as taken."""
    name, k = base, 1
    while name in taken:
        k += 1
        name = f"{base}_{k}"
    taken.add(name)
    return name


@dataclass
class OnnxContext:
    """Nodes and initializers of the graph being built (see the module docstring)."""

    opset: int = DEFAULT_OPSET
    dynamic_batch: bool = False
    nodes: list[onnx.NodeProto] = field(default_factory=list)
    initializers: list[onnx.TensorProto] = field(default_factory=list)
    used: set[str] = field(default_factory=set)
    #: The layer being translated: node names and temporaries start with it.
    layer: str = ""
    _node_names: set[str] = field(default_factory=set)

    # -- names ------------------------------------------------------------------------------------
    def fresh(self, hint: str) -> str:
        """A value name no blob and no other value has: ``<layer>/<hint>`` (``_2``, ``_3``... if taken)."""
        return _claim(self.used, f"{self.layer}/{hint}" if self.layer else hint)

    def fresh_version(self, blob: str, k: int) -> str:
        """The name of the `k`-th value of an in-place blob that is not its last: ``<blob>/<k>``."""
        return _claim(self.used, f"{blob}/{k}")

    def _node_name(self, op_type: str) -> str:
        """``<layer>`` for a layer's first node, ``<layer>/<op>`` (made unique) for the others."""
        name = self.layer or op_type
        return _claim(self._node_names, name if name not in self._node_names else f"{name}/{op_type}")

    # -- nodes ------------------------------------------------------------------------------------
    def ops(self, op_type: str, inputs: Sequence[str], outputs: Sequence[str], **attrs: Any) -> list[str]:
        """Append one node with several outputs; returns the output names."""
        attrs = {k: v for k, v in attrs.items() if v is not None}
        self.nodes.append(helper.make_node(op_type, list(inputs), list(outputs),
                                           name=self._node_name(op_type), **attrs))
        return list(outputs)

    def op(self, op_type: str, inputs: Sequence[str], out: str | None = None, **attrs: Any) -> str:
        """Append one node; `out` names its output (default: a fresh ``<layer>/<op>`` name)."""
        return self.ops(op_type, inputs, [out or self.fresh(op_type.lower())], **attrs)[0]

    def const(self, array: Any, hint: str = "const", dtype: Any = np.float32) -> str:
        """An initializer holding `array` (float32 unless `dtype` says otherwise)."""
        name = self.fresh(hint)
        self.initializers.append(numpy_helper.from_array(np.array(array, dtype=dtype, order="C"), name))
        return name

    def ints(self, values: Sequence[int], hint: str = "shape") -> str:
        """A 1-D int64 initializer (shapes, axes, pads, repeats)."""
        return self.const(np.asarray(list(values), dtype=np.int64).reshape(-1), hint, np.int64)

    # -- small idioms every mapping shares --------------------------------------------------------
    def identity(self, x: str, out: str) -> str:
        return self.op("Identity", [x], out)

    def reduce(self, op_type: str, x: str, axes: Sequence[int], keepdims: bool = True,
               out: str | None = None) -> str:
        """``Reduce*`` over `axes`: axes as an input from opset 18 (ReduceSum from 13), else an attribute."""
        as_input = self.opset >= 18 or (op_type == "ReduceSum" and self.opset >= 13)
        if as_input:
            return self.op(op_type, [x, self.ints(axes, "axes")], out, keepdims=int(keepdims))
        return self.op(op_type, [x], out, axes=list(axes), keepdims=int(keepdims))

    def scalar(self, value: float, hint: str = "scalar") -> str:
        """A float32 scalar initializer (a 0-axis tensor: broadcasts over anything)."""
        return self.const(np.asarray(value, dtype=np.float32), hint)

    def mul_add(self, x: str, scale: float, shift: float, out: str | None = None) -> str:
        """``x * scale + shift``, skipping the steps that are identities (as Caffe's neuron layers do)."""
        y = x
        if scale != 1:
            y = self.op("Mul", [y, self.scalar(scale, "scale")], out if shift == 0 else None)
        if shift != 0:
            y = self.op("Add", [y, self.scalar(shift, "shift")], out)
        if y == x and out is not None:
            y = self.identity(x, out)
        return y


__all__ = ["DEFAULT_OPSET", "MIN_OPSET", "OnnxContext"]
