"""The one model every part walks: a Caffe net's layers in Caffe's order, blobs, and weights.

`load_net` reproduces what Caffe does before set-up: read + upgrade the prototxt, FilterNet for the
NetState, InsertSplits, then the bottom/top bookkeeping of Net::Init (unknown bottoms, tops produced
twice, in-place layers).
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from caffecx.errors import FilteredBlobError, GraphError, WeightsError
from caffecx.io.netstate import NetState, filter_net, state_for
from caffecx.io.reader import (
    NetText,
    Source,
    blob_to_array,
    is_binary_model,
    read_caffemodel,
    read_net_model,
    read_net_text,
)
from caffecx.io.splits import insert_splits


@dataclass
class LayerNode:
    """One layer as Caffe sets it up: name, type, bottoms and tops after split insertion."""

    index: int
    name: str
    type: str
    bottoms: list[str]
    tops: list[str]
    param: Any
    line: int | None = None
    column: int | None = None
    blobs: list[np.ndarray] = field(default_factory=list)

    @property
    def in_place(self) -> list[bool]:
        """Per top: Caffe's in-place rule (top j is bottom j)."""
        return [j < len(self.bottoms) and self.bottoms[j] == t for j, t in enumerate(self.tops)]

    @property
    def loss_weights(self) -> list[float]:
        return list(self.param.loss_weight)

    def __repr__(self) -> str:
        return f"LayerNode({self.name!r}, {self.type!r}, {self.bottoms} -> {self.tops})"


@dataclass
class Net:
    """A net built for one NetState: layers in Caffe's set-up order, with Split layers inserted."""

    name: str
    state: NetState
    layers: list[LayerNode]
    param: Any
    path: str | None = None
    notes: list[str] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)
    weights_path: str | None = None
    _executors: dict[str, Any] = field(default_factory=dict, repr=False, compare=False)

    def forward(self, inputs: dict[str, Any] | None = None, /, *, keep: Any = "outputs",
                dtype: Any = np.float32, **feeds: Any) -> dict[str, np.ndarray]:
        """Caffe's forward pass in NumPy (`caffecx.runtime`): inputs by blob name, the kept blobs back.

        ``net.forward(data=x)`` returns the output blobs; ``keep="all"`` or a list of names keeps more.
        The net is planned and its weights cast once per dtype, on the first call.
        """
        from caffecx.runtime import executor_for

        if inputs is not None and not isinstance(inputs, Mapping):
            raise TypeError(f"inputs must be a dict of blob name -> array, not {type(inputs).__name__}")
        feeds = {**(inputs or {}), **feeds}
        for name, value in feeds.items():
            feeds[name] = _numeric_array(name, value)
        try:
            key = np.dtype(dtype).name
        except TypeError:
            raise TypeError(f"dtype must be a NumPy dtype (float32 or float64), not {dtype!r}") from None
        if key not in self._executors:
            self._executors[key] = executor_for(self, dtype=dtype)
        return self._executors[key].forward(feeds, keep=keep)

    @property
    def phase(self) -> str:
        return self.state.phase

    def __iter__(self):  # noqa: ANN204
        return iter(self.layers)

    def __len__(self) -> int:
        return len(self.layers)

    def layer(self, name: str) -> LayerNode:
        for node in self.layers:
            if node.name == name:
                return node
        raise KeyError(name)

    @property
    def blob_names(self) -> list[str]:
        """Every blob, in the order Caffe creates them."""
        seen: dict[str, None] = {}
        for node in self.layers:
            for t in node.tops:
                seen.setdefault(t)
        return list(seen)

    @property
    def outputs(self) -> list[str]:
        """Blobs no layer consumes (Caffe's "This network produces output ...")."""
        available: dict[str, None] = {}
        for node in self.layers:
            for b in node.bottoms:
                available.pop(b, None)
            for t in node.tops:
                available[t] = None
        return list(available)


def _numeric_array(name: str, value: Any) -> np.ndarray:
    """An input of `Net.forward` as a numeric array, or a plain TypeError naming the input."""
    if not isinstance(name, str):
        raise TypeError(f"input names must be str (blob names), not {type(name).__name__}")
    try:
        array = np.asarray(value)
    except (TypeError, ValueError) as err:
        raise TypeError(f"input '{name}' must be a numeric array, not {type(value).__name__} ({err})") from None
    if array.dtype.kind not in "biuf":
        raise TypeError(f"input '{name}' must be a numeric array (numpy.ndarray of numbers), "
                        f"not {type(value).__name__}" + (f" of {array.dtype}" if array.dtype.kind != "O" else ""))
    return array


def build_net(net_text: NetText, state: NetState) -> Net:
    """Filter, insert splits and check bottoms/tops of an upgraded NetParameter."""
    param = net_text.param
    filtered, kept, notes = filter_net(param, state)
    positions = _match_lines(param, net_text.layer_lines)
    kept_pos = [ps for ps, k in zip(positions, kept, strict=True) if k]

    def where(pos: tuple[int, int] | None) -> dict[str, Any]:
        return {"path": net_text.path, "line": pos[0] if pos else None, "column": pos[1] if pos else None}

    produced: set[str] = set()
    for layer, pos in zip(filtered.layer, kept_pos, strict=True):
        if not layer.type:
            raise GraphError("layer has no type", layer=layer.name, **where(pos))
        for j, blob in enumerate(layer.bottom):
            if blob not in produced:
                why = _filtered_producers(param, kept, blob, state)
                raise (FilteredBlobError if why else GraphError)(
                    f"Unknown bottom blob '{blob}' (layer '{layer.name}', bottom index {j}){why}",
                    layer=layer.name, **where(pos))
        produced.update(layer.top)
    with_splits, split_pos = insert_splits(filtered, kept_pos)
    nodes: list[LayerNode] = []
    produced = set()
    for i, (layer, pos) in enumerate(zip(with_splits.layer, split_pos, strict=True)):
        node = LayerNode(i, layer.name, layer.type, list(layer.bottom), list(layer.top), layer,
                         pos[0] if pos else None, pos[1] if pos else None)
        for j, top in enumerate(node.tops):
            if node.in_place[j]:
                continue
            if top in produced:
                raise GraphError(f"Top blob '{top}' produced by multiple sources.", layer=node.name, **where(pos))
            produced.add(top)
        nodes.append(node)
    return Net(
        name=param.name,
        state=state,
        layers=nodes,
        param=with_splits,
        path=net_text.path,
        notes=list(net_text.notes) + notes,
        warnings=list(net_text.warnings),
    )


def _filtered_producers(param: Any, kept: list[bool], blob: str, state: NetState) -> str:
    """Why no layer makes `blob`: the layers that would, left out by this NetState's rules."""
    from google.protobuf import text_format

    why = []
    for layer, k in zip(param.layer, kept, strict=True):
        if not k and blob in layer.top:
            rules = [f"{kind} {{ {text_format.MessageToString(r, as_one_line=True)} }}"
                     for kind in ("include", "exclude") for r in getattr(layer, kind)]
            why.append(f"'{layer.name}' ({' '.join(rules) or 'no rule'})")
    if not why:
        return ""
    stages = "".join(f", stage {s}" for s in state.stages)
    level = f", level {state.level}" if state.level else ""
    return f"; it is made by {', '.join(why)}, left out for phase {state.phase}{stages}{level}"


def _match_lines(param: Any, layer_lines: list[tuple[str, int, int]]) -> list[tuple[int, int] | None]:
    """Source (line, column) of each layer, matched by name in order (upgrades may add or fold layers)."""
    out: list[tuple[int, int] | None] = []
    pos = 0
    for layer in param.layer:
        found = None
        for k in range(pos, len(layer_lines)):
            if layer_lines[k][0] == layer.name:
                found, pos = layer_lines[k][1:], k + 1
                break
        out.append(found)
    return out


def load_net(
    source: Source | NetText,
    *,
    phase: str = "TEST",
    stages: tuple[str, ...] | list[str] = (),
    level: int | None = None,
    weights: Source | None = None,
    strict: bool = False,
) -> Net:
    """Read a net (prototxt path or text, a solver naming one, or a .caffemodel) and build it for a NetState.

    ``weights`` (a .caffemodel) are attached to layers by name, as Caffe's CopyTrainedLayersFrom:
    layers of the file that the net lacks are noted and ignored. A .caffemodel given as the net
    brings its own weights (Caffe saves the whole net definition with them), unless ``weights`` is given.
    """
    if not isinstance(source, (str, os.PathLike, NetText)):
        raise TypeError(f"load_net expects a path, prototxt text or NetText, got {type(source).__name__}")
    if not isinstance(phase, str):
        raise TypeError(f"phase must be 'TRAIN' or 'TEST', not {type(phase).__name__}")
    if isinstance(stages, (str, bytes)) or not all(isinstance(s, str) for s in stages):
        raise TypeError("stages must be a list of str (stage names), not a single string")
    if weights is not None and not isinstance(weights, (str, os.PathLike)):
        raise TypeError(f"weights must be a path to a .caffemodel, not {type(weights).__name__}")
    model = None
    if isinstance(source, NetText):
        net_text = source
    elif is_binary_model(source):
        net_text, model = read_net_model(source)
    else:
        net_text = read_net_text(source, strict=strict, phase=phase)
    state = state_for(net_text.param, phase, level, tuple(stages))
    net = build_net(net_text, state)
    if weights is not None:
        attach_weights(net, weights)
    elif model is not None:
        attach_weights(net, model)
        net.weights_path = str(source)
    return net


def attach_weights(net: Net, weights: Source | Any) -> None:
    """Copy blobs from a caffemodel (path or NetParameter) onto the net's layers by layer name.

    Blob counts and shapes are checked by the analyzer against each layer's declared parameter
    shapes (`check_weights`); here a layer of the file that the net lacks is only noted.
    """
    wpath = str(weights) if isinstance(weights, (str, os.PathLike)) else None
    model = read_caffemodel(weights) if wpath else weights
    by_name = {node.name: node for node in net.layers}
    for layer in model.layer:
        node = by_name.get(layer.name)
        if node is None:
            if len(layer.blobs):
                net.notes.append(f"Ignoring source layer {layer.name}")
            continue
        node.blobs = [blob_to_array(b) for b in layer.blobs]
    net.weights_path = wpath if wpath else None
    if wpath:
        net.weights_path = str(Path(wpath))


def legacy_shape_equals(file_shape: tuple[int, ...], target: tuple[int, ...]) -> bool:
    """Caffe's Blob::ShapeEquals: a legacy 4-D file shape matches a target of ≤ 4 axes padded with 1s."""
    if tuple(file_shape) == tuple(target):
        return True
    if len(file_shape) == 4 and len(target) <= 4:
        return tuple(file_shape) == (1,) * (4 - len(target)) + tuple(target)
    return False


def check_weights(node: LayerNode, expected: list[tuple[int, ...]], path: str | None = None) -> None:
    """Raise WeightsError when a layer's loaded blobs do not match its declared parameter shapes.

    Matching blobs stored in the legacy 4-D form are reshaped to the declared shape in place.
    """
    if not node.blobs:
        return
    if len(node.blobs) != len(expected):
        raise WeightsError(
            f"Incompatible number of blobs: the weights file has {len(node.blobs)}, the layer needs {len(expected)}",
            layer=node.name, path=path,
        )
    for i, (arr, want) in enumerate(zip(node.blobs, expected, strict=True)):
        if not legacy_shape_equals(arr.shape, want):
            raise WeightsError(
                f"Cannot copy param {i} weights: shape mismatch. Source param shape is "
                f"{' '.join(map(str, arr.shape))} ({arr.size}); target param shape is "
                f"{' '.join(map(str, want))} ({int(np.prod(want))})",
                layer=node.name, path=path,
            )
        if arr.shape != tuple(want):
            node.blobs[i] = arr.reshape(want)
