"""The plan: a net set up once, as Caffe's ``Net::Init`` does, for every consumer to walk.

`plan_net` runs each layer's ``setup`` exactly once, in Caffe's order, on one layer instance that it
keeps (parsed parameters stay on the layer, Caffe's CHECKs run once), fixes every blob's shape, and
checks the loaded weights against the layer's declared blobs (legacy 4-D blobs reshaped, as Caffe's
``Blob::ShapeEquals`` allows). The analyzer only counts over the plan, the runtime only computes, the
exporter only translates.

Rules reproduced:

* A source layer's tops (``Layer.is_source``) take ``input_shapes`` hints by top name, and ``batch``
  replaces their first axis (batch scaling).
* An unknown layer type, or a layer whose bottom shape is unknown, is kept as a row with
  ``known=False`` and the set-up goes on where it can (Caffe would stop; an auditor wants the rest).
  So is a layer whose shapes exist only at run time (``Layer.shape_at_run_time``) without hints.
* A layer Caffe refuses raises a located error; with ``stop_on_error`` the plan stops there and keeps
  the error (as Caffe's log stops at the failing layer).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from caffecx.errors import CaffecxError, ShapeError
from caffecx.fillers import fill, layer_rng
from caffecx.graph import LayerNode, Net, check_weights
from caffecx.layers import Context, Layer, ParamBlob, Shape, layer_class
from caffecx.layers.base import count
from caffecx.limits import check_blob_shapes


@dataclass
class PlannedLayer:
    """One layer set up: its instance, bottom and top shapes, declared blobs and loaded weights."""

    node: LayerNode
    impl: Layer | None
    bottom_shapes: list[Shape]
    top_shapes: list[Shape] | None
    param_blobs: list[ParamBlob] = field(default_factory=list)
    known: bool = True
    note: str = ""

    @property
    def name(self) -> str:
        return self.node.name

    @property
    def type(self) -> str:
        return self.node.type

    @property
    def weights(self) -> list[np.ndarray]:
        """The loaded blobs (checked and reshaped to ``param_blobs``), empty when none were loaded."""
        return self.node.blobs

    def locate(self, err: CaffecxError, path: str | None) -> CaffecxError:
        """`err` located at this layer's ``layer {`` line and column."""
        return err.with_location(path=path, line=self.node.line, column=self.node.column, layer=self.name)


@dataclass
class Plan:
    """A net set up once: layers in Caffe's order with fixed shapes; ``batch`` is the data batch."""

    net: Net
    layers: list[PlannedLayer]
    blob_shapes: dict[str, Shape]
    batch: int | None
    context: Context
    error: CaffecxError | None = None

    def layer(self, name: str) -> PlannedLayer:
        for planned in self.layers:
            if planned.name == name:
                return planned
        raise KeyError(name)

    def init_weights(self, seed: int = 0, dtype: Any = np.float32) -> dict[str, list[np.ndarray]]:
        """The declared blobs (``param_blobs``) of every planned layer without loaded weights, filled from
        their ``filler`` (`caffecx.fillers`), by layer name (empty when every layer has its weights).

        Deterministic: the same seed gives the same arrays, whatever other layers were loaded; each blob
        draws from its own generator (`caffecx.fillers.layer_rng`). A filler Caffe would refuse raises a
        located error naming the layer.
        """
        out: dict[str, list[np.ndarray]] = {}
        seen: dict[str, int] = {}
        for planned in self.layers:
            if not planned.param_blobs:
                continue
            occurrence = seen.get(planned.name, 0)
            seen[planned.name] = occurrence + 1
            if planned.weights:
                continue
            arrays = []
            for i, blob in enumerate(planned.param_blobs):
                try:
                    arrays.append(fill(blob.filler, blob.shape, layer_rng(seed, planned.name, occurrence, i), dtype))
                except CaffecxError as err:
                    raise planned.locate(CaffecxError(f"blob {i}: {err.message}"), self.net.path) from None
            out.setdefault(planned.name, arrays)
        return out


def default_base_dirs(net: Net) -> list[Path]:
    """Where relative data sources are looked up: the cwd, then the prototxt's folder."""
    dirs = [Path.cwd()]
    if net.path:
        dirs.append(Path(net.path).resolve().parent)
    return dirs


def plan_net(
    net: Net,
    *,
    batch: int | None = None,
    input_shapes: dict[str, Shape] | None = None,
    base_dirs: list[Path] | None = None,
    stop_on_error: bool = False,
    strict_data: bool = False,
) -> Plan:
    """Set every layer of `net` up once (see the module docstring). ``strict_data``: a data layer whose
    source is absent refuses instead of assuming the shape its prototxt determines."""
    hints = {k: tuple(v) for k, v in (input_shapes or {}).items()}
    ctx = Context(base_dirs=list(base_dirs or default_base_dirs(net)), input_shapes=hints, phase=net.phase,
                  assume_data_shapes=not strict_data)
    shapes: dict[str, Shape] = {}
    layers: list[PlannedLayer] = []
    data_batch = batch
    error: CaffecxError | None = None
    for node in net.layers:
        try:
            planned = _plan_layer(node, net, ctx, shapes, batch)
        except CaffecxError as err:
            if not stop_on_error:
                raise
            error = err
            break
        layers.append(planned)
        impl = planned.impl
        if data_batch is None and impl is not None and impl.is_source and planned.top_shapes:
            first = planned.top_shapes[0]
            data_batch = first[0] if first else None
    return Plan(net, layers, shapes, data_batch, ctx, error)


def _unknown(node: LayerNode, shapes: dict[str, Shape], note: str, impl: Layer | None = None) -> PlannedLayer:
    """A layer that could not be set up: its tops' shapes become unknown (in-place ones keep theirs)."""
    for t in node.tops:
        if not (t in node.bottoms and t in shapes):
            shapes.pop(t, None)
    bottoms = [shapes[b] for b in node.bottoms if b in shapes]
    return PlannedLayer(node, impl, bottoms, None, known=False, note=note)


def _plan_layer(node: LayerNode, net: Net, ctx: Context, shapes: dict[str, Shape],
                batch: int | None) -> PlannedLayer:
    cls = layer_class(node.type)
    if cls is None:
        return _unknown(node, shapes, f"unknown layer type '{node.type}'")
    missing = [b for b in node.bottoms if b not in shapes]
    if missing:
        return _unknown(node, shapes, f"shape of bottom '{missing[0]}' unknown")
    bottom_shapes = [shapes[b] for b in node.bottoms]
    impl = cls(node.param)
    impl.phase = net.phase
    try:
        tops = [tuple(int(d) for d in s) for s in impl.setup(bottom_shapes, ctx)]
        impl.check_loss_weights()
    except ShapeError as err:
        if impl.shape_at_run_time:
            return _unknown(node, shapes, err.message, impl)
        raise PlannedLayer(node, impl, bottom_shapes, None).locate(err, net.path) from None
    except CaffecxError as err:
        raise PlannedLayer(node, impl, bottom_shapes, None).locate(err, net.path) from None
    if impl.is_source and not node.bottoms:
        tops = [ctx.input_shapes.get(t, s) for t, s in zip(node.tops, tops, strict=False)]
        if batch is not None:
            tops = [(batch, *s[1:]) if len(s) else s for s in tops]
    planned = PlannedLayer(node, impl, bottom_shapes, tops)
    if len(tops) != len(node.tops):
        raise planned.locate(ShapeError(f"the layer produces {len(tops)} tops but {len(node.tops)} are named"),
                             net.path)
    impl.bottom_shapes, impl.top_shapes = list(bottom_shapes), list(tops)
    try:
        planned.param_blobs = impl.param_shapes(bottom_shapes)
        check_blob_shapes(node.tops, tops, [b.shape for b in planned.param_blobs])  # Caffe's Blob::Reshape
    except CaffecxError as err:
        raise planned.locate(err, net.path) from None
    if node.blobs:
        check_weights(node, [b.shape for b in planned.param_blobs], net.weights_path)
    elif net.weights_path and any(b.learnable for b in planned.param_blobs):
        planned.note = "no weights for this layer in the weights file (Caffe keeps its filler values)"
    for t, s in zip(node.tops, tops, strict=True):
        shapes[t] = s
    _note_empty_tops(planned)
    return planned


def _note_empty_tops(planned: PlannedLayer) -> None:
    """Caffe sets a layer with an empty top up without complaint (its output-size formulas have no
    CHECK) and then computes nothing: nearly always a kernel larger than the padded input."""
    tops = planned.top_shapes or []
    empty = [f"'{t}' ({'x'.join(map(str, s))})" for t, s in zip(planned.node.tops, tops, strict=True)
             if len(s) and count(s) == 0]
    if empty and all(count(b) for b in planned.bottom_shapes):
        planned.note = "; ".join(filter(None, [planned.note, f"empty top {', '.join(empty)}: Caffe accepts it, "
                                               "but nothing is computed (a kernel larger than the padded input?)"]))
