"""ONNX export of planned Caffe nets: `export_onnx` builds and checks the model, `write_onnx` writes it.

Each layer module carries its own mapping (``Layer.to_onnx``) beside its shape rule and forward pass;
`caffecx.export.context.OnnxContext` is the builder they write into; `caffecx.export.exporter` walks the
plan (names, graph inputs and outputs, weights, checks).
"""

from __future__ import annotations

from caffecx.export.context import DEFAULT_OPSET, MIN_OPSET, OnnxContext
from caffecx.export.exporter import (
    Selection,
    check_onnx,
    export_onnx,
    inferred_shapes,
    select_layers,
    write_onnx,
)

__all__ = [
    "DEFAULT_OPSET",
    "MIN_OPSET",
    "OnnxContext",
    "Selection",
    "check_onnx",
    "export_onnx",
    "inferred_shapes",
    "select_layers",
    "write_onnx",
]
