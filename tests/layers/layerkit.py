"""Test helpers for layer modules: build a layer from prototxt text, read Caffe's set-up log."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
from google.protobuf import text_format

from caffecx.layers import Context, Layer, RunContext, layer_class
from caffecx.layers.base import Shape


def make(text: str) -> Layer:
    """A layer instance from ``LayerParameter`` text (``name: "x" type: "ReLU" ...``)."""
    from caffecx.proto import caffe_pb2

    lp = text_format.Parse(text, caffe_pb2.LayerParameter())
    cls = layer_class(lp.type)
    assert cls is not None, f"type {lp.type} is not registered"
    return cls(lp)


def tops(text: str, *bottoms: Shape, ctx: Context | None = None) -> list[Shape]:
    """Top shapes of the layer described by `text` for these bottom shapes."""
    return make(text).setup([tuple(b) for b in bottoms], ctx or Context())


def run(
    text: str,
    *bottoms: np.ndarray,
    blobs: list[np.ndarray] | None = None,
    phase: str = "TEST",
    dtype: type = np.float32,
    seed: int = 0,
    ctx: Context | None = None,
) -> list[np.ndarray]:
    """Set the layer described by `text` up for these bottoms (as the plan does) and run its forward.

    ``blobs`` default to none (a layer with stored blobs needs them given, in ``param_shapes`` order).
    """
    layer = make(text)
    arrays = [np.asarray(b, dtype=dtype) for b in bottoms]
    shapes = [tuple(a.shape) for a in arrays]
    context = ctx or Context(phase=phase)
    layer.phase = phase
    tops = layer.setup(shapes, context)
    layer.bottom_shapes, layer.top_shapes = shapes, [tuple(t) for t in tops]
    refusal = layer.forward_refusal()
    assert refusal is None, refusal
    run_ctx = RunContext(phase=phase, dtype=dtype, rng=np.random.default_rng(seed))
    outs = layer.forward(arrays, [np.asarray(b, dtype=dtype) for b in (blobs or [])], run_ctx)
    if not layer.data_dependent_top:
        for out, want in zip(outs, layer.top_shapes, strict=True):
            assert tuple(out.shape) == tuple(want), (out.shape, want)
    return outs


@dataclass
class Step:
    """One layer of a Caffe set-up log: its bottoms, tops and printed top shapes."""

    name: str
    bottoms: list[str] = field(default_factory=list)
    tops: list[str] = field(default_factory=list)
    top_shapes: list[Shape] = field(default_factory=list)
    bottom_shapes: list[Shape] = field(default_factory=list)


_LINE = re.compile(r"\] (.*)$")


def setup_log(path: Path, net_index: int = 0) -> list[Step]:
    """The layers of the `net_index`-th net a glog set-up log builds, with bottom and top shapes."""
    nets: list[list[Step]] = []
    for raw in path.read_text().splitlines():
        m = _LINE.search(raw)
        if not m:
            continue
        text = m.group(1)
        if text.startswith("Initializing net from parameters"):
            nets.append([])
        elif not nets:
            continue
        elif text.startswith("Creating Layer "):
            nets[-1].append(Step(text[len("Creating Layer "):].strip()))
        elif nets[-1] and (mb := re.fullmatch(r"(\S+) <- (\S+)", text)) and mb.group(1) == nets[-1][-1].name:
            nets[-1][-1].bottoms.append(mb.group(2))
        elif nets[-1] and (mt := re.fullmatch(r"(\S+) -> (\S+)( \(in-place\))?", text)) and mt.group(1) == nets[-1][-1].name:
            nets[-1][-1].tops.append(mt.group(2))
        elif nets[-1] and text.startswith("Top shape: "):
            dims = text[len("Top shape: "):].rsplit("(", 1)[0].split()
            nets[-1][-1].top_shapes.append(tuple(int(d) for d in dims))
    steps = nets[net_index]
    blobs: dict[str, Shape] = {}
    for s in steps:
        s.bottom_shapes = [blobs[b] for b in s.bottoms]
        for t, shape in zip(s.tops, s.top_shapes, strict=False):
            blobs[t] = shape
    return steps


def net_layers(prototxt: Path) -> dict[str, object]:
    """LayerParameters of a V2 prototxt by name (the first one of each name)."""
    from caffecx.proto import caffe_pb2

    net = text_format.Parse(prototxt.read_text(), caffe_pb2.NetParameter(), allow_unknown_field=True)
    out: dict[str, object] = {}
    for lp in net.layer:
        out.setdefault(lp.name, lp)
    return out
