"""The NumPy executor: Caffe's forward pass over a plan, layer by layer, blob for blob.

Conventions (stated once):

* dtype: float32 like Caffe (``Dtype = float``), or float64 as a reference (``dtype=np.float64``);
  weights are cast once, when the executor is built.
* In-place layers (a top named as its bottom): the blob takes the layer's result, so after the pass
  an in-place blob holds the value of the last layer writing it — what Caffe leaves in the blob.
* Split tops share their bottom's array, Flatten/Reshape tops are views, as in Caffe.
* Memory: a blob is dropped after its last consumer unless it is kept (``keep="outputs"``, the net's
  output blobs as Caffe's ``net.outputs``; ``"all"``; or a list of names), so the peak stays near the
  weights plus the largest live set of blobs.
* Weights: those loaded from a caffemodel (checked and reshaped by the plan); a layer without loaded
  weights gets its fillers' values, drawn with ``seed`` (Caffe would run with its own random fillers).
* Refused before any work starts, by layer name and line: unknown types, types without a forward
  (``Python`` is never imported: a prototxt must not make caffecx run code), and parameter choices
  Caffe cannot run on the CPU (STOCHASTIC pooling).
* NaN and Inf propagate as in Caffe (nothing is checked or replaced).
* Threads (`caffecx.layers._threads`, chosen per pass): for one image on a quiet machine BLAS's own
  threads run the GEMMs; for several images, or when other processes keep a core busy, OpenBLAS is
  held at one thread (process-wide, restored after the pass) and the big layers' work is shared
  between the calling thread and a worker per core.
* Folding (``fold=True``, the default): a chain of per-channel affine layers right after a
  convolution (inference BatchNorm, Scale, Bias — ``conv → bn → scale`` in ResNets and MobileNets) is
  folded into the convolution's weights once, when the executor is built, and an in-place ReLU ending
  such a chain, or right after an Eltwise, into that layer's forward (applied to each block of the top
  as it is made); those layers then pass their bottom on. In place, the chain's blob keeps one name, so its final value — the only one Caffe
  leaves — is unchanged (up to float rounding: the folded weights are computed in float64). A
  BatchNorm writing a new top folds only when nothing else reads its bottom; that bottom then has no
  value of its own, and a pass that keeps it runs an unfolded executor instead (built on first use).
* In-place layers may overwrite their bottom's array when no other live blob holds that memory
  (``RunContext.overwrite_bottom``); inputs fed by the caller and weights are never written.
* Concat on axis 1: a bottom made by a convolution only for that Concat (in-place ReLU folded) is
  written straight into its slice of the Concat's top (``RunContext.into``), so the Concat copies
  nothing for it; kept, such a bottom is a view of that top.
"""

from __future__ import annotations

import time
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from caffecx.errors import CaffecxError, ShapeError, WeightsError
from caffecx.graph import Net
from caffecx.layers import RunContext, Shape
from caffecx.layers._threads import pass_threads
from caffecx.plan import Plan, PlannedLayer, plan_net

Keep = str | Iterable[str]


@dataclass
class LayerTiming:
    """Wall time of one layer's forward, summed over the passes timed."""

    name: str
    type: str
    seconds: float = 0.0


@dataclass
class Executor:
    """A plan made runnable: weights cast once, every layer checked for a forward before any pass."""

    plan: Plan
    dtype: Any = np.float32
    seed: int = 0
    weights: list[list[np.ndarray]] = field(default_factory=list)
    last_use: dict[str, int] = field(default_factory=dict)
    #: Layers folded into the convolution before them (skipped by the forward).
    folded: set[int] = field(default_factory=set)
    #: Blobs a fold left without a value of their own (kept only by the unfolded executor).
    hidden: set[str] = field(default_factory=set)
    #: Layers writing their top straight into a later Concat's top: index -> (Concat, channel slice).
    slots: dict[int, tuple[int, slice]] = field(default_factory=dict)
    _unfolded: Executor | None = None

    @property
    def net(self) -> Net:
        return self.plan.net

    @property
    def outputs(self) -> list[str]:
        """The net's output blobs (produced and never consumed), as Caffe's ``net.outputs``."""
        return self.plan.net.outputs

    @property
    def inputs(self) -> dict[str, Shape]:
        """The blobs a caller may feed: the tops of the net's source layers, with their planned shapes."""
        return self._source_tops(required=False)

    @property
    def required_inputs(self) -> dict[str, Shape]:
        """The inputs a caller must feed (Input layers' tops); other sources read their data."""
        return self._source_tops(required=True)

    def _source_tops(self, required: bool) -> dict[str, Shape]:
        return {t: s for p in self.plan.layers
                if p.impl is not None and (p.impl.needs_feed if required else p.impl.is_source)
                for t, s in zip(p.node.tops, p.top_shapes or [], strict=False)}

    def forward(self, inputs: Mapping[str, Any] | None = None, *, keep: Keep = "outputs",
                timings: list[LayerTiming] | None = None) -> dict[str, np.ndarray]:
        """One forward pass; returns the kept blobs by name (see the module docstring)."""
        feeds = self._check_inputs(inputs or {})
        missing = [f"'{n}' {_shape(s)}" for n, s in self.required_inputs.items() if n not in feeds]
        if missing:
            raise CaffecxError(f"input {', '.join(missing)} not given", path=self.plan.net.path)
        kept = self._kept(keep)
        if kept & self.hidden:  # a blob the folds removed is asked for: run the net as written
            if self._unfolded is None:
                self._unfolded = build_executor(self.plan, dtype=self.dtype, seed=self.seed, fold=False)
            return self._unfolded.forward(inputs, keep=keep, timings=timings)
        run = RunContext(phase=self.plan.net.phase, dtype=self.dtype, rng=np.random.default_rng(self.seed),
                         inputs=feeds, base_dirs=list(self.plan.context.base_dirs))
        live: dict[str, np.ndarray] = {}
        with np.errstate(all="ignore"), pass_threads(own=self._shares_work()):  # Caffe computes through NaN
            self._pass(live, kept, run, timings)
        return {name: live[name] for name in self._order(kept) if name in live}

    def _pass(self, live: dict[str, np.ndarray], kept: set[str], run: RunContext,
              timings: list[LayerTiming] | None) -> None:
        joined: dict[int, np.ndarray] = {}  # Concat index -> its top, made when its first producer runs
        for index, planned in enumerate(self.plan.layers):
            start = time.perf_counter()
            bottoms = [live[b] for b in planned.node.bottoms]
            if index in self.folded:  # its work was folded into the producer: the value passes on
                tops = bottoms
            else:
                run.overwrite_bottom = _may_overwrite(planned, bottoms, live)
                run.into = self._into(index, joined)
                tops = self._run_layer(planned, bottoms, index, run)
            for name, array in zip(planned.node.tops, tops, strict=True):
                live[name] = array
            for name in set(planned.node.bottoms) | set(planned.node.tops):
                if self.last_use.get(name, -1) <= index and name not in kept:
                    live.pop(name, None)
            if timings is not None:
                timings[index].seconds += time.perf_counter() - start

    def _into(self, index: int, joined: dict[int, np.ndarray]) -> list[np.ndarray | None]:
        """``RunContext.into`` for layer `index`: its slice of a later Concat's top (`slots`; the top is
        made by the first producer that runs), that top for the Concat itself, else nothing."""
        if index in joined:
            return [joined.pop(index)]
        if index not in self.slots:
            return []
        concat, channels = self.slots[index]
        if concat not in joined:
            joined[concat] = np.empty(self.plan.layers[concat].top_shapes[0], dtype=self.dtype)
        return [joined[concat][:, channels]]

    def _shares_work(self) -> bool | None:
        """A pass over several images shares its work itself (per-image tasks are worth a worker's
        wake-up); one over a single image leaves the choice to the machine's load (`pass_threads`)."""
        return True if max((s[0] for s in self.inputs.values() if len(s)), default=1) > 1 else None

    def new_timings(self) -> list[LayerTiming]:
        """One zeroed `LayerTiming` per layer, for ``forward(timings=...)``."""
        return [LayerTiming(p.name, p.type) for p in self.plan.layers]

    def losses(self, blobs: Mapping[str, np.ndarray]) -> dict[str, float]:
        """Each loss top times its ``loss_weight``, as Caffe's ``Train net output`` lines report it."""
        out = {}
        for planned in self.plan.layers:
            for j, top in enumerate(planned.node.tops):
                weight = _loss_weight(planned, j)
                if weight and top in blobs:
                    out[top] = float(np.sum(blobs[top], dtype=np.float64)) * weight
        return out

    # -- internals ----------------------------------------------------------------------------------
    def _run_layer(self, planned: PlannedLayer, bottoms: list[np.ndarray], index: int,
                   run: RunContext) -> list[np.ndarray]:
        impl = planned.impl
        assert impl is not None  # refused in build_executor
        try:
            tops = impl.forward(bottoms, self.weights[index], run)
        except CaffecxError as err:
            raise planned.locate(err, self.plan.net.path) from None
        if len(tops) != len(planned.node.tops):
            raise planned.locate(ShapeError(f"forward gave {len(tops)} tops for {len(planned.node.tops)} named"),
                                 self.plan.net.path)
        if not impl.data_dependent_top:
            for name, array, want in zip(planned.node.tops, tops, planned.top_shapes or [], strict=False):
                if tuple(array.shape) != tuple(want):
                    raise planned.locate(ShapeError(
                        f"top '{name}' came out {_shape(array.shape)}, planned {_shape(want)}"), self.plan.net.path)
        return tops

    def _check_inputs(self, inputs: Mapping[str, Any]) -> dict[str, np.ndarray]:
        expected = self.inputs
        feeds = {}
        for name, value in inputs.items():
            if name not in expected:
                raise CaffecxError(f"no input blob '{name}': the net's inputs are "
                                   f"{', '.join(expected) or 'none'}", path=self.plan.net.path)
            array = np.asarray(value)
            if tuple(array.shape) != tuple(expected[name]):
                raise ShapeError(f"input '{name}' has shape {_shape(array.shape)}, the net expects "
                                 f"{_shape(expected[name])}", path=self.plan.net.path)
            if not np.issubdtype(array.dtype, np.number) and array.dtype != np.bool_:
                raise CaffecxError(f"input '{name}' is not numeric (dtype {array.dtype})", path=self.plan.net.path)
            array = array.astype(self.dtype, copy=False).view()
            array.flags.writeable = False  # the caller's array is never written
            feeds[name] = array
        return feeds

    def _kept(self, keep: Keep) -> set[str]:
        if keep == "outputs":
            return set(self.outputs)
        if keep == "all":
            return set(self.plan.net.blob_names)
        names = {keep} if isinstance(keep, str) else set(keep)
        unknown = names - set(self.plan.net.blob_names)
        if unknown:
            raise CaffecxError(f"no blob named {', '.join(sorted(unknown))} in net '{self.plan.net.name}'")
        return names

    def _order(self, kept: set[str]) -> list[str]:
        return [b for b in self.plan.net.blob_names if b in kept]


def _may_overwrite(planned: PlannedLayer, bottoms: list[np.ndarray], live: dict[str, np.ndarray]) -> bool:
    """An in-place layer may write into its bottom when the array is writeable and no other live blob
    (a Split's other tops, a Reshape's view, ...) shares its memory."""
    if not bottoms or not planned.node.in_place or not planned.node.in_place[0]:
        return False
    array = bottoms[0]
    if not array.flags.writeable:
        return False
    name = planned.node.bottoms[0]
    return not any(other is array or np.may_share_memory(other, array)
                   for key, other in live.items() if key != name)


def _fold_affine_chains(plan: Plan, weights: list[list[np.ndarray]]) -> tuple[set[int], set[str]]:
    """Fold every chain of per-channel affine layers into the convolution that makes its blob (see the
    module docstring). Returns the folded layers' indices and the blobs that no longer exist (a
    non-in-place BatchNorm's bottom, read by nothing else: its value is never computed)."""
    folded: set[int] = set()
    hidden: set[str] = set()
    layers = plan.layers
    readers: dict[str, list[int]] = {}
    for j, planned in enumerate(layers):
        for b in planned.node.bottoms:
            readers.setdefault(b, []).append(j)
    outputs = set(plan.net.outputs)
    for i, producer in enumerate(layers):
        tops = producer.node.tops
        if producer.impl is None or len(tops) != 1 or tops[0] in producer.node.bottoms:
            continue
        blob, k = tops[0], i
        while True:
            k = next((j for j in readers.get(blob, []) if j > k), -1)
            step = layers[k] if k >= 0 else None
            if step is None or step.impl is None or step.node.bottoms != [blob] or len(step.node.tops) != 1:
                break
            renames = step.node.tops[0] != blob
            if renames and (len(readers[blob]) != 1 or blob in outputs):
                break
            affine = step.impl.channel_affine(weights[k])
            merged = producer.impl.absorb_channel_affine(weights[i], *affine) if affine else None
            if merged is None:
                if not renames and _absorb_relu(producer, step, weights, i):
                    folded.add(k)
                break
            weights[i] = merged
            folded.add(k)
            if renames:
                hidden.add(blob)
                blob = step.node.tops[0]
    return folded, hidden


def _concat_slots(plan: Plan, folded: set[int]) -> dict[int, tuple[int, slice]]:
    """The `Executor.slots`: a bottom of a Concat on axis 1 is written straight into the Concat's top
    when a layer that `writes_into` makes it (its only top, not in place), it is named once by the
    Concat, and no layer other than those two and layers folded into the producer reads or writes it."""
    layers = plan.layers
    touching: dict[str, list[int]] = {}
    for j, planned in enumerate(layers):
        for name in {*planned.node.bottoms, *planned.node.tops}:
            touching.setdefault(name, []).append(j)
    slots: dict[int, tuple[int, slice]] = {}
    for c, concat in enumerate(layers):
        if concat.impl is None or concat.impl.joined_axis() != 1:
            continue
        bottoms = concat.node.bottoms
        ends = np.cumsum([0, *(int(shape[1]) for shape in concat.bottom_shapes)])
        for k, name in enumerate(bottoms):
            producer = touching[name][0]
            made = layers[producer]
            if (bottoms.count(name) == 1 and made.impl is not None and made.impl.writes_into
                    and made.node.tops == [name] and name not in made.node.bottoms
                    and all(j in folded for j in touching[name] if j not in (producer, c))):
                slots[producer] = (c, slice(int(ends[k]), int(ends[k + 1])))
    return slots


def _absorb_relu(producer: PlannedLayer, step: PlannedLayer, weights: list[list[np.ndarray]], i: int) -> bool:
    """Fold in-place ReLU `step` into `producer` (a convolution or an Eltwise applying it to each block of
    its top as the block is made, `absorb_relu`); False when either side cannot."""
    slope = step.impl.fusable_slope() if step.impl is not None else None
    merged = producer.impl.absorb_relu(weights[i], slope) if slope is not None and producer.impl is not None else None
    if merged is None:
        return False
    weights[i] = merged
    return True


def _shape(shape: Iterable[int]) -> str:
    return "(" + ", ".join(str(int(d)) for d in shape) + ")"


def _loss_weight(planned: PlannedLayer, top_index: int) -> float:
    """Caffe's loss weight of a top: the prototxt's ``loss_weight``, else the type's default for top 0."""
    given = list(planned.node.param.loss_weight)
    if given:
        return float(given[top_index]) if top_index < len(given) else 0.0
    default = planned.impl.loss_top_weight if planned.impl is not None else 0.0
    return float(default) if top_index == 0 else 0.0


def _refusal(planned: PlannedLayer) -> str | None:
    if planned.impl is None or planned.top_shapes is None:
        return planned.note or f"layer type '{planned.type}' cannot be set up"
    return planned.impl.forward_refusal()


def _layer_weights(planned: PlannedLayer, filled: Mapping[str, list[np.ndarray]], dtype: Any,
                   path: str | None) -> list[np.ndarray]:
    arrays = planned.weights if planned.weights else filled.get(planned.name, [])
    if len(arrays) != len(planned.param_blobs):
        raise planned.locate(WeightsError(f"the layer needs {len(planned.param_blobs)} blobs, "
                                          f"{len(arrays)} were given"), path)
    out = []
    for array, blob in zip(arrays, planned.param_blobs, strict=True):
        cast = np.ascontiguousarray(np.asarray(array).reshape(blob.shape), dtype=dtype)
        cast.flags.writeable = False
        out.append(cast)
    return out


def build_executor(plan: Plan, *, dtype: Any = np.float32, seed: int = 0, fold: bool = True) -> Executor:
    """An `Executor` for `plan`: every refusal raised (located) before anything runs; affine chains
    folded into convolutions unless ``fold=False``."""
    if plan.error is not None:
        raise plan.error
    dtype = np.dtype(dtype)
    if dtype not in (np.dtype(np.float32), np.dtype(np.float64)):
        raise CaffecxError(f"dtype {dtype} is not supported: float32 (Caffe's) or float64")
    path = plan.net.path
    for planned in plan.layers:
        why = _refusal(planned)
        if why:
            raise planned.locate(CaffecxError(f"cannot run: {why}"), path)
    filled = plan.init_weights(seed)
    weights = [_layer_weights(p, filled, dtype, path) for p in plan.layers]
    folded, hidden = _fold_affine_chains(plan, weights) if fold else (set(), set())
    last_use: dict[str, int] = {}
    for index, planned in enumerate(plan.layers):
        for name in (*planned.node.bottoms, *planned.node.tops):
            last_use[name] = index
    return Executor(plan, dtype, seed, weights, last_use, folded, hidden, _concat_slots(plan, folded))


def executor_for(
    net: Net | Plan,
    *,
    dtype: Any = np.float32,
    seed: int = 0,
    batch: int | None = None,
    input_shapes: Mapping[str, Shape] | None = None,
    base_dirs: list[Path] | None = None,
    fold: bool = True,
) -> Executor:
    """Plan `net` (unless it is a plan already) and make it runnable."""
    plan = net if isinstance(net, Plan) else plan_net(net, batch=batch, input_shapes=dict(input_shapes or {}),
                                                       base_dirs=base_dirs)
    return build_executor(plan, dtype=dtype, seed=seed, fold=fold)
