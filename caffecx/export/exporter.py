"""A planned net as an ONNX model: every layer's ``to_onnx`` over one `OnnxContext`, then checked.

Rules (the README's "ONNX export" section says the same for users):

* The exporter walks `caffecx.plan.plan_net`'s plan: shapes fixed once, weights checked and reshaped
  once; layers without loaded weights get their fillers' values (`caffecx.plan.Plan.init_weights`, as
  the executor does). Weights are initializers, never graph inputs.
* Graph inputs: the tops of the net's source layers (Input, data layers with their planned shapes, and
  the tops of a source layer that has bottoms, such as Faster R-CNN's Python proposal layer: its bottoms
  then become graph outputs so that the caller can run it), plus any blob named in ``inputs`` (a cut).
  Graph outputs: the net's output blobs (``plan.net.outputs``), or the blobs named in ``outputs``; the
  layers no output depends on are left out (so a net ending in a layer ONNX cannot express exports
  up to the blobs that layer reads, with ``outputs``).
* Names: every ONNX value that holds a Caffe blob is named after it. An in-place chain (``conv1`` written
  by conv1, bn1, scale1, relu1) gets ``conv1/1``, ``conv1/2``, ``conv1/3`` and, for its LAST writer,
  ``conv1`` — the value Caffe leaves in the blob. Intermediate values are ``<layer>/<hint>``.
* A layer without an ONNX mapping (losses, Accuracy, recurrent layers, DetectionOutput, ...) is refused by
  name and line (a located `CaffecxError`) before anything is written.
* Checked (``check=True``): ``onnx.checker`` (full check) and strict ``onnx.shape_inference``, whose shape
  for every value that holds a blob must equal the plan's top shape (the batch axis is free under
  ``dynamic_batch``).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import onnx
from onnx import TensorProto, helper

from caffecx.errors import CaffecxError
from caffecx.export.context import DEFAULT_OPSET, MIN_OPSET, OnnxContext
from caffecx.graph import Net, load_net
from caffecx.layers import InnerNet, Shape
from caffecx.plan import Plan, PlannedLayer, plan_net

BATCH_DIM = "N"


@dataclass
class Selection:
    """The layers exported, in Caffe's order, with the graph's input and output blobs."""

    layers: list[PlannedLayer]
    inputs: list[str]
    outputs: list[str]
    shapes: dict[str, Shape] = field(default_factory=dict)


def export_onnx(
    net: Net | Plan | str | Path,
    weights: str | Path | None = None,
    *,
    opset: int = DEFAULT_OPSET,
    dynamic_batch: bool = False,
    outputs: Sequence[str] | None = None,
    inputs: Sequence[str] | None = None,
    phase: str = "TEST",
    batch: int | None = None,
    input_shapes: dict[str, Shape] | None = None,
    seed: int = 0,
    check: bool = True,
) -> onnx.ModelProto:
    """`net` (a plan, a net, or a prototxt path loaded with `weights` and `phase`) as an ONNX model
    (see the module docstring). Raises a located `CaffecxError` for a layer ONNX cannot express."""
    if not MIN_OPSET <= opset <= onnx.defs.onnx_opset_version():
        raise CaffecxError(f"opset {opset} is not supported: {MIN_OPSET} to {onnx.defs.onnx_opset_version()}")
    plan = _as_plan(net, weights, phase, batch, input_shapes)
    chosen = select_layers(plan, outputs, inputs)
    ctx = OnnxContext(opset=opset, dynamic_batch=dynamic_batch)
    expected = _translate(plan, chosen, ctx, seed)
    graph = helper.make_graph(
        ctx.nodes, plan.net.name or "caffecx",
        [_value_info(b, chosen.shapes[b], dynamic_batch) for b in chosen.inputs],
        [_value_info(b, expected[b][1], dynamic_batch) for b in chosen.outputs],
        initializer=ctx.initializers,
    )
    model = _model(graph, opset, plan)
    if check:
        check_onnx(model, {k: v for k, v in expected.items()}, plan.net.path, dynamic_batch)
    return model


def write_onnx(model: onnx.ModelProto, path: str | Path) -> None:
    """Write `model` whole or not at all."""
    from caffecx.io.writer import write_atomic

    write_atomic(path, model.SerializeToString())


def _as_plan(net: Net | Plan | str | Path, weights: str | Path | None, phase: str, batch: int | None,
             input_shapes: dict[str, Shape] | None) -> Plan:
    if isinstance(net, Plan):
        plan = net
    else:
        if isinstance(net, (str, Path)):
            net = load_net(net, phase=phase, weights=None if weights is None else str(weights))
        elif weights is not None:
            raise CaffecxError("weights are attached when the net is loaded (load_net(..., weights=W))")
        plan = plan_net(net, batch=batch, input_shapes=dict(input_shapes or {}))
    if plan.error is not None:
        raise plan.error
    return plan


def _model(graph: onnx.GraphProto, opset: int, plan: Plan) -> onnx.ModelProto:
    from caffecx import __version__

    opsets = [helper.make_opsetid("", opset)]
    model = helper.make_model(graph, opset_imports=opsets, producer_name="caffecx",
                              producer_version=__version__, doc_string=f"exported from {plan.net.path or 'a net'}")
    model.ir_version = helper.find_min_ir_version_for(opsets, ignore_unknown=True)
    return model


def _value_info(name: str, shape: Shape, dynamic_batch: bool) -> onnx.ValueInfoProto:
    dims: list[Any] = list(shape)
    if dynamic_batch and dims:
        dims[0] = BATCH_DIM
    return helper.make_tensor_value_info(name, TensorProto.FLOAT, dims)


# -- which layers ---------------------------------------------------------------------------------------


def select_layers(plan: Plan, outputs: Sequence[str] | None = None,
                  inputs: Sequence[str] | None = None) -> Selection:
    """The layers the graph outputs depend on, and the graph's inputs and outputs (module docstring)."""
    cut = list(dict.fromkeys(inputs or []))
    for name in cut:
        if name not in plan.blob_shapes:
            raise CaffecxError(f"--input '{name}' is not a blob of the net", path=plan.net.path)
    sources = [p for p in plan.layers if p.impl is not None and p.impl.is_source]
    fed = {t for p in sources for t in p.node.tops} | set(cut)
    wanted = list(dict.fromkeys(outputs or _default_outputs(plan, sources, fed)))
    for name in wanted:
        if name not in plan.blob_shapes or name in fed:
            why = "a graph input" if name in fed else "not a blob of the net (or its shape is unknown)"
            raise CaffecxError(f"output '{name}' is {why}", path=plan.net.path)
    needed, chosen, source_ids = set(wanted), [], {id(p) for p in sources}
    for planned in reversed(plan.layers):
        if id(planned) in source_ids or not needed.intersection(planned.node.tops) or fed.intersection(planned.node.tops):
            continue
        chosen.append(planned)
        needed.difference_update(planned.node.tops)
        needed.update(planned.node.bottoms)
    graph_inputs = [b for b in dict.fromkeys([*(t for p in sources for t in p.node.tops), *cut]) if b in needed]
    missing = needed - set(graph_inputs)
    if missing:
        raise CaffecxError(f"blob '{sorted(missing)[0]}' is read but nothing exported makes it",
                           path=plan.net.path)
    shapes = {b: plan.blob_shapes[b] for b in graph_inputs}
    return Selection(chosen[::-1], graph_inputs, wanted, shapes)


def _default_outputs(plan: Plan, sources: list[PlannedLayer], fed: set[str]) -> list[str]:
    """The net's outputs, and the bottoms of a source layer with bottoms (a cut the caller runs)."""
    cut_bottoms = [b for p in sources for b in p.node.bottoms if b not in fed]
    return [o for o in [*plan.net.outputs, *cut_bottoms] if o not in fed]


# -- translation ---------------------------------------------------------------------------------------


def _layer_arrays(plan: Plan, chosen: Selection, seed: int) -> dict[int, list[np.ndarray]]:
    """Each chosen layer's blobs as float32, loaded or filled (the executor's rule, reused)."""
    from caffecx.runtime import _layer_weights

    filled = plan.init_weights(seed)
    return {id(p): _layer_weights(p, filled, np.float32, plan.net.path) for p in chosen.layers}


def _translate(plan: Plan, chosen: Selection, ctx: OnnxContext, seed: int) -> dict[str, tuple[PlannedLayer, Shape]]:
    """Every chosen layer's nodes into `ctx`; returns each top value's (layer, planned shape)."""
    for planned in chosen.layers:
        if planned.impl is None or planned.top_shapes is None:
            why = planned.note or f"layer type '{planned.type}' cannot be set up"
            raise planned.locate(CaffecxError(f"cannot export: {why}"), plan.net.path)
    arrays = _layer_arrays(plan, chosen, seed)
    ctx.used.update(plan.blob_shapes, (t for p in plan.layers for t in (*p.node.tops, *p.node.bottoms)))
    writers: dict[str, int] = {}
    for planned in chosen.layers:
        for t in planned.node.tops:
            writers[t] = writers.get(t, 0) + 1
    current = {b: b for b in chosen.inputs}
    written: dict[str, int] = {}
    expected: dict[str, tuple[PlannedLayer, Shape]] = {}
    for planned in chosen.layers:
        bottoms = [current[b] for b in planned.node.bottoms]
        ctx.layer = planned.name
        tops = []
        for t in planned.node.tops:
            written[t] = written.get(t, 0) + 1
            tops.append(t if written[t] == writers[t] else ctx.fresh_version(t, written[t]))
        try:
            inner = planned.impl.inner_net(list(planned.bottom_shapes))  # type: ignore[union-attr]
            if inner is None:
                planned.impl.to_onnx(ctx, bottoms, tops, arrays[id(planned)])  # type: ignore[union-attr]
            else:
                _translate_inner(ctx, inner, bottoms, tops, arrays[id(planned)])
        except CaffecxError as err:
            raise planned.locate(_with_hint(err, planned, plan), plan.net.path) from None
        for t, name, shape in zip(planned.node.tops, tops, planned.top_shapes or [], strict=True):
            current[t] = name
            expected[name] = (planned, tuple(shape))
    ctx.layer = ""
    return expected


def _translate_inner(ctx: OnnxContext, inner: InnerNet, bottoms: list[str], tops: list[str],
                     blobs: list[np.ndarray]) -> None:
    """A layer that sets up a net of its own (a recurrent layer's unrolled net) as that net's layers, each
    by its own mapping: the bottoms fill the net's bound inputs, its other inputs are zeros (the state
    Caffe starts from; an ONNX model carries none over), the layer's blobs are its params (each named
    one at its first owner), the tops are its bound outputs; layers no output needs (pseudo-losses) are
    left out. Its shapes are fixed: no dynamic batch."""
    if ctx.dynamic_batch:
        raise CaffecxError("a layer that sets up a net of its own (an unrolled recurrent net) has fixed shapes in "
                           "ONNX: no dynamic batch")
    from caffecx.io.reader import NetText

    sub = plan_net(load_net(NetText(inner.param, None), phase="TEST"))
    if sub.error is not None:
        raise CaffecxError(f"its inner net cannot be set up: {sub.error.message}")
    chosen = select_layers(sub, inner.outputs)
    values = dict(zip(inner.inputs, bottoms, strict=True))
    for name in chosen.inputs:
        if name not in values:
            values[name] = ctx.const(np.zeros(sub.blob_shapes[name]), "zeros")
    named = dict(zip(inner.outputs, tops, strict=True))
    outer, params = ctx.layer, _owned_params(sub, blobs)
    for planned in chosen.layers:
        ctx.layer = f"{outer}/{planned.name}"
        out = [named.get(t) or ctx.fresh(t) for t in planned.node.tops]
        planned.impl.to_onnx(ctx, [values[b] for b in planned.node.bottoms], out,  # type: ignore[union-attr]
                             params[id(planned)])
        values.update(zip(planned.node.tops, out, strict=True))
    ctx.layer = outer


def _owned_params(plan: Plan, blobs: list[np.ndarray]) -> dict[int, list[np.ndarray]]:
    """Each layer's params from `blobs`, taken in layer order: a param named before is the blob its first
    owner took (Caffe's param sharing), any other the next blob."""
    remaining, owned, out = iter(blobs), {}, {}
    for planned in plan.layers:
        names = [p.name for p in planned.node.param.param]
        arrays = []
        for k in range(len(planned.param_blobs)):
            name = names[k] if k < len(names) else ""
            if not name or name not in owned:
                array = next(remaining)
                owned.update({name: array} if name else {})
            arrays.append(owned[name] if name else array)
        out[id(planned)] = arrays
    return out


def _with_hint(err: CaffecxError, planned: PlannedLayer, plan: Plan) -> CaffecxError:
    """A refusal, with how to export the net up to the refused layer's bottoms (a Split's top named by
    the blob it splits)."""
    split_of = {t: p.node.bottoms[0] for p in plan.layers if p.impl is not None and p.impl.shares_bottom_data
                for t in p.node.tops}
    bottoms = ", ".join(dict.fromkeys(f"'{split_of.get(b, b)}'" for b in planned.node.bottoms))
    if not bottoms:
        return err
    hint = CaffecxError(f"{err.message} (the layers before it export with outputs {bottoms}: "
                        f"caffecx export --output-blob)")
    return hint.with_location(path=err.location.path, line=err.location.line, column=err.location.column,
                              layer=err.location.layer)


# -- checks ----------------------------------------------------------------------------------------------


def check_onnx(model: onnx.ModelProto, expected: dict[str, tuple[PlannedLayer, Shape]], path: str | None,
               dynamic_batch: bool = False) -> None:
    """``onnx.checker`` (full) and strict shape inference; every blob value's inferred shape must be
    the plan's (a mismatch is an exporter bug, reported at the layer that made the value)."""
    try:
        onnx.checker.check_model(model, full_check=True)
        inferred = onnx.shape_inference.infer_shapes(model, check_type=True, strict_mode=True, data_prop=True)
    except (onnx.checker.ValidationError, onnx.shape_inference.InferenceError) as err:
        raise CaffecxError(f"the exported model fails ONNX's checks: {err}", path=path) from None
    got = {vi.name: vi for vi in (*inferred.graph.value_info, *inferred.graph.output, *inferred.graph.input)}
    for name, (planned, want) in expected.items():
        dims = _dims(got.get(name))
        if not _same_shape(dims, want, dynamic_batch):
            raise planned.locate(CaffecxError(f"ONNX infers {dims} for '{name}', the plan says {list(want)}"),
                                 path)


def inferred_shapes(model: onnx.ModelProto) -> dict[str, list[int | str | None]]:
    """Every value's shape by strict ONNX shape inference (dims as ints, symbols or None)."""
    inferred = onnx.shape_inference.infer_shapes(model, check_type=True, strict_mode=True, data_prop=True)
    return {vi.name: _dims(vi) or [] for vi in (*inferred.graph.value_info, *inferred.graph.output,
                                                  *inferred.graph.input)}


def _dims(vi: onnx.ValueInfoProto | None) -> list[int | str | None] | None:
    if vi is None or not vi.type.tensor_type.HasField("shape"):
        return None
    return [d.dim_value if d.HasField("dim_value") else (d.dim_param or None)
            for d in vi.type.tensor_type.shape.dim]


def _same_shape(dims: Iterable[int | str | None] | None, want: Shape, dynamic_batch: bool) -> bool:
    if dims is None:
        return False
    dims = list(dims)
    if len(dims) != len(want):
        return False
    return all(d == w or (dynamic_batch and isinstance(d, str)) for d, w in zip(dims, want, strict=True))


__all__ = ["Selection", "check_onnx", "export_onnx", "inferred_shapes", "select_layers", "write_onnx"]
