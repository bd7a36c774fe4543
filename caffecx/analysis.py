"""Per-layer analysis of a net, as Caffe would set it up: top shapes, memory, params, MACs, FLOPs,
compute/parameter ratios and receptive fields — one row per layer in Caffe's order, splits included.

Conventions (stated once, used everywhere):

* ``top_shapes``: exactly Caffe's ``Top shape:`` lines (a 0-axis loss blob is ``[]``, printed ``(1)``).
* ``memory_bytes``: Caffe's ``Memory required for data`` after this layer: the running sum, over the
  layers so far, of every top's element count × 4 bytes (in-place and split tops included).
* ``weights``: learnable weight elements (biases excluded); ``params``: every learnable element
  (weights + biases; BatchNorm's mean/variance/factor are statistics, not params: see ``stored``).
* ``feature_map_elements`` (totals): seed 003's space complexity's feature maps: the top elements
  of every layer, in-place tops and Split tops left out (Caffe's memory line counts both).
* ``macs``: multiply-accumulates of the whole batch; ``flops``: 2 per MAC + bias adds + the layer's
  element-wise work (documented per layer type in ``caffecx.layers``).
* ``compute_param_ratio``: per-sample MACs / weights (seed 002: LeNet conv1 → 576, ip1 → 1).
* ``receptive_field``: size / jump / start per spatial axis, with seed 003's recurrence
  ``j' = j·s``, ``r' = r + (k_eff − 1)·j``, ``start' = start + ((k_eff − 1)/2 − p)·j``,
  ``k_eff = d·(k − 1) + 1``; multi-input layers take the largest field.
* ``stage``: seed 004's stages (the layers between two pooling layers), followed along the graph: a
  layer is in the largest stage of its bottoms; a Pooling/SPP layer that shrinks the map (strided,
  global or pyramid pooling) closes its stage and its tops start the next. A stride-1 "same" pooling
  (an Inception pool branch) starts nothing, and parallel branches rejoin in the same stage.
"""

from __future__ import annotations

import math
import numbers
import os
from collections.abc import Iterable, Mapping
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import pandas as pd

from caffecx.errors import CaffecxError
from caffecx.graph import Net
from caffecx.layers import Shape, Window
from caffecx.layers.base import count
from caffecx.plan import Plan, PlannedLayer, plan_net

BYTES_PER_ELEMENT = 4  # Caffe's log counts sizeof(float)
INT32_MAX = 2**31 - 1


@dataclass
class ReceptiveField:
    """Receptive field of a blob's elements along its spatial axes (H, W, ...), in input pixels."""

    size: tuple[float, ...]
    jump: tuple[float, ...]
    start: tuple[float, ...]
    global_: bool = False

    def to_dict(self) -> dict[str, Any]:
        def clean(v: tuple[float, ...]) -> list[float | int]:
            return [int(x) if float(x).is_integer() else x for x in v]

        return {"size": clean(self.size), "jump": clean(self.jump), "start": clean(self.start),
                "global": self.global_}


@dataclass
class LayerStats:
    """One row of the analysis."""

    name: str
    type: str
    bottoms: list[str]
    tops: list[str]
    top_shapes: list[list[int]] | None
    weights: int
    params: int
    stored: int
    macs: int
    flops: int
    activations: int
    memory_bytes: int | None
    compute_param_ratio: float | None
    receptive_field: ReceptiveField | None
    stage: int
    known: bool = True
    note: str = ""
    in_place: list[bool] = field(default_factory=list)
    param_shapes: list[list[int]] = field(default_factory=list)
    line: int | None = None
    shares_bottom_data: bool = False

    def to_json(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "type": self.type,
            "bottoms": self.bottoms,
            "tops": self.tops,
            "top_shapes": self.top_shapes,
            "weights": self.weights,
            "params": self.params,
            "macs": self.macs,
            "flops": self.flops,
            "activations": self.activations,
            "memory_bytes": self.memory_bytes,
            "compute_param_ratio": self.compute_param_ratio,
            "receptive_field": self.receptive_field.to_dict() if self.receptive_field else None,
            "stage": self.stage,
            "known": self.known,
            "note": self.note,
            "param_shapes": self.param_shapes,
            "in_place": self.in_place,
        }


COLUMNS = ["name", "type", "top_shapes", "weights", "params", "macs", "flops", "activations",
           "memory_bytes", "compute_param_ratio", "rf_size", "stage", "known"]


@dataclass
class Analysis:
    """The analysis of one net: rows in Caffe's order, blob shapes, totals and breakdowns."""

    net: Net
    layers: list[LayerStats]
    blob_shapes: dict[str, Shape]
    batch: int | None
    unknown: list[tuple[str, str, str]] = field(default_factory=list)
    #: With ``analyze(..., stop_on_error=True)``: the error that stopped the set-up (rows stop before it).
    error: CaffecxError | None = None
    #: Data shapes assumed from the prototxt for absent sources: ``{"layer", "top", "shape", "from"}``.
    assumed_inputs: list[dict[str, Any]] = field(default_factory=list)

    # -- tables -------------------------------------------------------------------------------------
    def to_frame(self) -> pd.DataFrame:
        """One row per layer (Caffe's order, splits included), the metrics as columns."""
        rows = []
        for s in self.layers:
            d = asdict(s)
            d["receptive_field"] = s.receptive_field
            d["rf_size"] = (
                "x".join(str(int(v)) for v in s.receptive_field.size) if s.receptive_field else None
            )
            rows.append(d)
        frame = pd.DataFrame(rows)
        if frame.empty:
            return pd.DataFrame(columns=COLUMNS)
        return frame.set_index("name", drop=False)

    @property
    def frame(self) -> pd.DataFrame:
        return self.to_frame()

    def totals(self) -> dict[str, Any]:
        known = [s for s in self.layers if s.known]
        mem = self.layers[-1].memory_bytes if self.layers else 0
        totals: dict[str, Any] = {
            "layers": len(self.layers),
            "weights": sum(s.weights for s in known),
            "params": sum(s.params for s in known),
            "stored": sum(s.stored for s in known),
            "macs": sum(s.macs for s in known),
            "flops": sum(s.flops for s in known),
            "activations": sum(s.activations for s in known),
            "feature_map_elements": sum(_own_elements(s) for s in known),
            "memory_bytes": mem,
            "batch": self.batch,
            "unknown_layers": [name for name, _, _ in self.unknown],
        }
        if self.batch:
            totals["macs_per_sample"] = totals["macs"] / self.batch
            totals["flops_per_sample"] = totals["flops"] / self.batch
        totals["compute_param_ratio"] = (
            totals["macs"] / self.batch / totals["weights"] if self.batch and totals["weights"] else None
        )
        return totals

    def by_type(self) -> pd.DataFrame:
        """Layer count, weights, params, MACs, FLOPs and activations per layer type."""
        return self._group("type")

    def by_stage(self) -> pd.DataFrame:
        """The same per stage (seed 004: the layers up to and including each downsampling pooling)."""
        return self._group("stage")

    def _group(self, key: str) -> pd.DataFrame:
        frame = self.to_frame()
        if frame.empty:
            return frame
        cols = ["weights", "params", "macs", "flops", "activations"]
        g = frame.reset_index(drop=True).groupby(key, sort=False)
        out = g[cols].sum()
        out.insert(0, "layers", g.size())
        total_macs = out["macs"].sum() or 1
        out["macs_share"] = out["macs"] / total_macs
        total_params = out["params"].sum() or 1
        out["params_share"] = out["params"] / total_params
        return out

    def to_json(self) -> dict[str, Any]:
        """The CLI's ``--format json`` object."""
        return {
            "net": self.net.name,
            "phase": self.net.phase,
            "stages": list(self.net.state.stages),
            "layers": [s.to_json() for s in self.layers],
            "totals": self.totals(),
            "by_type": _records(self.by_type(), "type"),
            "by_stage": _records(self.by_stage(), "stage"),
            "unknown": [{"name": n, "type": t, "reason": r} for n, t, r in self.unknown],
            "notes": self.net.notes,
            "assumed_inputs": self.assumed_inputs,
        }

    def _repr_html_(self) -> str:  # Jupyter
        return self.to_frame()[COLUMNS]._repr_html_()  # type: ignore[operator]

    def layer(self, name: str) -> LayerStats:
        for s in self.layers:
            if s.name == name:
                return s
        raise KeyError(name)


def _own_elements(row: LayerStats) -> int:
    """Elements of the tops a layer writes into memory of its own: seed 003's output feature maps,
    without in-place tops (a ReLU on its bottom) and without Split's tops (Caffe shares their data)."""
    if row.shares_bottom_data or not row.top_shapes:
        return 0
    flags = row.in_place + [False] * len(row.top_shapes)
    return sum(math.prod(s) for s, same in zip(row.top_shapes, flags, strict=False) if not same)


def _records(frame: pd.DataFrame, key: str) -> list[dict[str, Any]]:
    """A breakdown as JSON rows (the group key first; ints stay ints)."""
    if frame.empty:
        return []
    rows = frame.rename_axis(key).reset_index().to_dict("records")
    return [{str(k): (v.item() if hasattr(v, "item") else v) for k, v in row.items()} for row in rows]


def parse_shape(text: str) -> Shape:
    """``"1,3,224,224"`` → (1, 3, 224, 224) (also accepts x or space separators)."""
    if not isinstance(text, str):
        raise TypeError(f"parse_shape() takes a str like '1,3,224,224', not {type(text).__name__}")
    parts = [p for p in text.replace("x", ",").replace(" ", ",").split(",") if p]
    try:
        shape = tuple(int(p) for p in parts)
    except ValueError:
        raise CaffecxError(f"bad shape {text!r}: expected integers like 1,3,224,224") from None
    if any(d < 0 for d in shape):
        raise CaffecxError(f"bad shape {text!r}: negative dimension")
    return shape


def _rf_step(rf: ReceptiveField, win: Window, in_spatial: Shape) -> ReceptiveField:
    if win.global_ and len(in_spatial) != len(rf.size):
        return ReceptiveField(rf.size, rf.jump, rf.start, True)
    if win.global_:
        size = tuple(r + (n - 1) * j for r, j, n in zip(rf.size, rf.jump, in_spatial, strict=False))
        start = tuple(s + (n - 1) * j / 2 for s, j, n in zip(rf.start, rf.jump, in_spatial, strict=False))
        return ReceptiveField(size or rf.size, rf.jump, start or rf.start, True)
    n = min(len(rf.size), len(win.kernel))
    size, jump, start = list(rf.size), list(rf.jump), list(rf.start)
    for a in range(n):
        k = win.kernel[a]
        d = win.dilation[a] if a < len(win.dilation) else 1
        s = win.stride[a] if a < len(win.stride) else 1
        p = win.pad[a] if a < len(win.pad) else 0
        k_eff = d * (k - 1) + 1
        if win.transposed:
            j_out = rf.jump[a] / s
            size[a] = rf.size[a] + (k_eff - 1) * j_out
            jump[a] = j_out
            start[a] = rf.start[a] + ((k_eff - 1) / 2 - p) * j_out
        else:
            size[a] = rf.size[a] + (k_eff - 1) * rf.jump[a]
            jump[a] = rf.jump[a] * s
            start[a] = rf.start[a] + ((k_eff - 1) / 2 - p) * rf.jump[a]
    return ReceptiveField(tuple(size), tuple(jump), tuple(start), rf.global_)


def _merge_rf(fields: Iterable[ReceptiveField | None]) -> ReceptiveField | None:
    present = [f for f in fields if f is not None]
    if not present:
        return None
    return max(present, key=lambda f: (f.global_, math.prod(f.size) if f.size else 0))


def analyze(
    net: Net | Plan,
    *,
    batch: int | None = None,
    input_shapes: dict[str, Shape] | None = None,
    base_dirs: list[Path] | None = None,
    stop_on_error: bool = False,
    strict_data: bool = False,
) -> Analysis:
    """Measure every layer of a net set up as Caffe would (a `Plan`, or a `Net` planned here).

    ``batch`` replaces the batch axis of every source layer's tops (batch scaling);
    ``input_shapes`` gives shapes by top name for inputs whose data is absent (or to override them);
    ``base_dirs`` are where relative data sources are looked up (default: cwd, then the prototxt's folder).
    Unknown layer types become rows with ``known=False`` and the analysis goes on where it can.
    Weights attached to the net are checked against each layer's declared blob shapes.
    A layer Caffe would reject raises a located error; with ``stop_on_error`` the rows so far are
    returned with ``error`` set instead (as Caffe's log stops at the failing layer). ``strict_data``:
    a data layer whose source is absent refuses instead of assuming its prototxt's shape.
    """
    if isinstance(net, Plan):
        plan = net
    elif isinstance(net, Net):
        batch, input_shapes, base_dirs = _checked_arguments(batch, input_shapes, base_dirs)
        plan = plan_net(net, batch=batch, input_shapes=input_shapes, base_dirs=base_dirs,
                        stop_on_error=bool(stop_on_error), strict_data=bool(strict_data))
    else:
        raise TypeError(f"analyze() takes a Net or a Plan (from caffecx.graph.load_net), not {type(net).__name__}")
    fields: dict[str, ReceptiveField | None] = {}
    rows: list[LayerStats] = []
    memory: int | None = 0
    blob_stage: dict[str, int] = {}
    for planned in plan.layers:
        try:
            row = _layer_row(planned, fields)
        except CaffecxError as err:
            raise planned.locate(err, plan.net.path) from None
        if planned.top_shapes is not None and memory is not None:
            memory += sum(count(s) for s in planned.top_shapes) * BYTES_PER_ELEMENT
        else:
            memory = None
        row.memory_bytes = memory
        row.stage = max((blob_stage.get(b, 1) for b in planned.node.bottoms), default=1)
        top_stage = row.stage + 1 if _downsamples(planned) else row.stage
        for t in planned.node.tops:
            blob_stage[t] = top_stage
        rows.append(row)
    unknown = [(r.name, r.type, r.note) for r in rows if not r.known]
    for note in (f"layer '{r.name}': {r.note}" for r in rows if r.known and r.note):
        if note not in plan.net.notes:
            plan.net.notes.append(note)
    for row in rows:
        if plan.batch and row.weights and row.known:
            row.compute_param_ratio = row.macs / plan.batch / row.weights
    assumed = [dict(a) for a in plan.context.assumed]
    return Analysis(plan.net, rows, plan.blob_shapes, plan.batch, unknown, plan.error, assumed)


def _checked_arguments(batch: Any, input_shapes: Any, base_dirs: Any
                       ) -> tuple[int | None, dict[str, Shape] | None, list[Path] | None]:
    """`analyze`'s keyword arguments checked: a TypeError with a plain message for a wrong type, a
    `CaffecxError` for a value Caffe refuses (a batch below 1 or beyond int32)."""
    if batch is not None:
        if isinstance(batch, bool) or not isinstance(batch, numbers.Integral):
            raise TypeError(f"analyze(batch=...) takes an int, not {type(batch).__name__}")
        if not 0 < int(batch) <= INT32_MAX:
            raise CaffecxError(f"batch must be a positive int32 (1 to {INT32_MAX}), not {int(batch)}")
        batch = int(batch)
    if input_shapes is not None:
        if not isinstance(input_shapes, Mapping):
            raise TypeError("analyze(input_shapes=...) takes a dict {top name: (N, C, H, W)}, "
                            f"not {type(input_shapes).__name__}")
        input_shapes = {_top_name(k): _shape_of(k, v) for k, v in input_shapes.items()}
    if base_dirs is not None:
        if isinstance(base_dirs, (str, bytes, os.PathLike)) or not isinstance(base_dirs, Iterable):
            raise TypeError("analyze(base_dirs=...) takes a list of folders, not "
                            f"{type(base_dirs).__name__}")
        base_dirs = [_folder(d) for d in base_dirs]
    return batch, input_shapes, base_dirs


def _top_name(key: Any) -> str:
    if not isinstance(key, str):
        raise TypeError(f"analyze(input_shapes=...) keys are top names (str), not {type(key).__name__}")
    return key


def _shape_of(key: str, value: Any) -> Shape:
    if isinstance(value, (str, bytes)) or not isinstance(value, Iterable):
        raise TypeError(f"input_shapes[{key!r}] must be a sequence of ints like (1, 3, 224, 224), "
                        f"not {type(value).__name__}")
    dims = list(value)
    if any(isinstance(d, bool) or not isinstance(d, numbers.Integral) for d in dims):
        raise TypeError(f"input_shapes[{key!r}] must hold ints, not "
                        f"{', '.join(sorted({type(d).__name__ for d in dims}))}")
    return tuple(int(d) for d in dims)


def _folder(item: Any) -> Path:
    if not isinstance(item, (str, os.PathLike)):
        raise TypeError(f"analyze(base_dirs=...) holds folders (str or Path), not {type(item).__name__}")
    return Path(item)


def _downsamples(planned: PlannedLayer) -> bool:
    """A stage-closing layer (Pooling, SPP) whose top is spatially smaller than its bottom."""
    if planned.impl is None or not planned.impl.closes_stage or not planned.top_shapes:
        return False
    if not planned.bottom_shapes or planned.node.bottoms[0] in planned.node.tops:
        return False
    bottom, top = planned.bottom_shapes[0], planned.top_shapes[0]
    if len(bottom) < 3:
        return False
    return len(top) < len(bottom) or math.prod(top[2:]) < math.prod(bottom[2:])


def _layer_row(planned: PlannedLayer, fields: dict[str, ReceptiveField | None]) -> LayerStats:
    """The counts of one planned layer (its shapes, blobs and weights were fixed by the plan)."""
    node = planned.node
    row = LayerStats(
        name=node.name, type=node.type, bottoms=list(node.bottoms), tops=list(node.tops), top_shapes=None,
        weights=0, params=0, stored=0, macs=0, flops=0, activations=0, memory_bytes=None,
        compute_param_ratio=None, receptive_field=None, stage=0, known=planned.known, note=planned.note,
        in_place=node.in_place, line=node.line, shares_bottom_data=bool(planned.impl and planned.impl.shares_bottom_data),
    )
    if planned.top_shapes is None or planned.impl is None:
        return row
    impl, bottom_shapes, tops = planned.impl, planned.bottom_shapes, planned.top_shapes
    blobs = planned.param_blobs
    counts = impl.counts(bottom_shapes, tops)
    window = impl.window(bottom_shapes)
    row.top_shapes = [list(s) for s in tops]
    row.param_shapes = [list(b.shape) for b in blobs]
    row.weights = sum(b.size for b in blobs if b.kind == "weight")
    row.params = sum(b.size for b in blobs if b.learnable)
    row.stored = sum(b.size for b in blobs)
    row.macs, row.flops = counts.macs, counts.flops
    row.activations = sum(count(s) for s in tops)
    if not node.bottoms:
        spatial = tops[0][2:] if tops and len(tops[0]) > 2 else ()
        rf = ReceptiveField((1.0,) * len(spatial), (1.0,) * len(spatial), (0.5,) * len(spatial)) if spatial else None
    else:
        rf = _merge_rf(fields.get(b) for b in node.bottoms)
        if rf is not None and window is not None:
            in_spatial = bottom_shapes[0][2:] if len(bottom_shapes[0]) > 2 else ()
            rf = _rf_step(rf, window, in_spatial)
    for t in node.tops:
        fields[t] = rf
    row.receptive_field = rf
    return row
