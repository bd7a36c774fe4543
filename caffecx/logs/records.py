"""What a Caffe log says about runs, nets and layers, as plain records (no pandas).

These are the structured objects behind the DataFrames of `caffecx.logs.CaffeLog`; a later
``caffecx check`` compares a `NetLog` layer by layer with the analyzer, so every layer record keeps
the log line numbers of its ``Top shape:`` and ``Memory required for data:`` lines.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from functools import lru_cache
from typing import Any, ClassVar


def _schema() -> Any | None:
    """``caffecx.proto.caffe_pb2`` when it is importable (imported lazily; None otherwise)."""
    try:
        from caffecx.proto import caffe_pb2  # type: ignore[attr-defined]
    except Exception:  # noqa: BLE001 - absent or broken schema: the echoes stay text
        return None
    return caffe_pb2


def close_truncated_echo(text: str) -> str:
    """Make a cut echo parseable: drop the incomplete last line and close the open blocks.

    glog truncates a message at 30000 bytes, so the parameter echo of a big net is cut in the middle
    of a field; what was printed before the cut is still right."""
    lines = text.rstrip("\n").split("\n")[:-1]  # without the cut line
    depth = 0
    for line in lines:
        st = line.strip()
        if st.endswith("{"):
            depth += 1
        elif st == "}":
            depth = max(depth - 1, 0)
    return "\n".join(lines) + "\n" + "}\n" * depth


def parse_echo(text: str | None, message: str) -> tuple[Any | None, str | None, bool]:
    """Parse a text-format protobuf echo with the schema message ``message`` (tolerating unknown
    fields, as the echo of a fork's parameters has them). Returns (message or None, error, cut), where
    ``cut`` says that the echo was truncated (by glog) and only what was printed could be read."""
    if text is None:
        return None, None, False
    pb2 = _schema()
    if pb2 is None or not hasattr(pb2, message):
        return None, "caffecx.proto.caffe_pb2 is not available", False
    from google.protobuf import text_format

    msg = getattr(pb2, message)()
    try:
        text_format.Parse(text, msg, allow_unknown_field=True)
        return msg, None, False
    except Exception as err:  # noqa: BLE001 - text_format raises ParseError and others
        first = str(err)
    msg = getattr(pb2, message)()
    try:
        text_format.Parse(close_truncated_echo(text), msg, allow_unknown_field=True)
    except Exception:  # noqa: BLE001
        return None, first, False
    return msg, None, True


class Echoed:
    """A record holding a parameter echo (``ECHO_TEXT`` names the attribute, ``ECHO_MESSAGE`` its schema
    message), parsed on first use: (message or None, error, cut) as `parse_echo` gives them."""

    ECHO_TEXT: ClassVar[str]
    ECHO_MESSAGE: ClassVar[str]
    _echo: tuple[Any | None, str | None, bool] | None = None

    def _parsed_echo(self) -> tuple[Any | None, str | None, bool]:
        if self._echo is None:
            self._echo = parse_echo(getattr(self, self.ECHO_TEXT), self.ECHO_MESSAGE)
        return self._echo


@dataclass
class LayerRecord:
    """One layer as ``Net::Init`` logged it while setting the net up, in creation order.

    ``top_shapes`` are as written: since 2015 ``Top shape: 64 1 28 28 (50176)`` (the count is kept in
    ``top_counts``); the 2014 wording ``Top shape: 96 55 55`` has neither batch nor count, which
    ``legacy_shapes`` marks. ``memory_bytes`` is the running total Caffe prints after the layer
    (``Memory required for data:``). ``loss_weights`` is aligned with ``top_shapes``: Caffe logs
    ``with loss weight w`` only for non-zero weights, so the others are 0.
    """

    name: str
    type: str | None = None
    bottoms: list[str] = field(default_factory=list)
    tops: list[str] = field(default_factory=list)
    in_place: list[bool] = field(default_factory=list)
    top_shapes: list[list[int]] = field(default_factory=list)
    top_counts: list[int | None] = field(default_factory=list)
    legacy_shapes: bool = False
    loss_weights: list[float] = field(default_factory=list)
    memory_bytes: int | None = None
    needs_backward: bool | None = None
    line: int | None = None
    top_shape_lines: list[int] = field(default_factory=list)
    memory_line: int | None = None
    nested: NetLog | None = field(default=None, repr=False, compare=False)  # the net its set-up built

    def to_dict(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "type": self.type,
            "bottoms": list(self.bottoms),
            "tops": list(self.tops),
            "in_place": list(self.in_place),
            "top_shapes": [list(s) for s in self.top_shapes],
            "top_counts": list(self.top_counts),
            "legacy_shapes": self.legacy_shapes,
            "loss_weights": list(self.loss_weights),
            "memory_bytes": self.memory_bytes,
            "needs_backward": self.needs_backward,
            "line": self.line,
            "top_shape_lines": list(self.top_shape_lines),
            "memory_line": self.memory_line,
        }


_LAYER_BLOCK = re.compile(r"^(layers?) \{\n(.*?)^\}", re.M | re.S)
_FIELD = {k: re.compile(rf"^  {k}: \"?([^\"\n]*)\"?$", re.M) for k in ("name", "type")}
_STATE_PHASE = re.compile(r"^state \{\n(?:  .*\n)*?  phase: (TRAIN|TEST)$", re.M)
_NET_NAME = re.compile(r"^name: \"(.*)\"$", re.M)


@lru_cache(maxsize=64)
def echo_layer_types(text: str) -> dict[str, str]:
    """Layer name -> type from a net parameter echo (DebugString: one field per line, two-space
    indentation), without the schema. (Cached: a log repeats the same echo for every run.)"""
    out: dict[str, str] = {}
    for m in _LAYER_BLOCK.finditer(text):
        body = m.group(2)
        name = _FIELD["name"].search(body)
        type_ = _FIELD["type"].search(body)
        if name and type_:
            out.setdefault(name.group(1), type_.group(1))
    return out


def echo_phase(text: str) -> str | None:
    """The ``state { phase: ... }`` of a net parameter echo (TRAIN / TEST), None when not written."""
    m = _STATE_PHASE.search(text)
    return None if m is None else m.group(1)


def echo_name(text: str) -> str | None:
    m = _NET_NAME.search(text)
    return None if m is None else m.group(1)


@dataclass
class NetLog(Echoed):
    """One net Caffe set up: the training net, a test net (``test_index`` k of ``Creating test net
    (#k)``), or a net built outside a solver (``caffe time``/``test``, pycaffe; phase from the echo).

    A net built inside a layer's set-up (a recurrent layer's unrolled net: its own echo, layers and
    memory from 0, all between the layer's tops and its ``Setting up``) is not a net of the log but a
    child of that layer: in the parent's ``children`` and the layer record's ``nested``, with
    ``parent_net`` / ``parent_layer`` set and ``index`` its position among the parent's children.
    """

    ECHO_TEXT: ClassVar[str] = "param_text"
    ECHO_MESSAGE: ClassVar[str] = "NetParameter"
    index: int
    run: int
    name: str | None = None
    phase: str | None = None
    test_index: int | None = None
    source: str | None = None
    line: int | None = None
    thread: str | None = None
    layers: list[LayerRecord] = field(default_factory=list)
    outputs: list[str] = field(default_factory=list)
    filtered_layers: list[str] = field(default_factory=list)
    param_text: str | None = None
    param_line: int | None = None
    done: bool = False
    parent_net: NetLog | None = field(default=None, repr=False, compare=False)
    parent_layer: str | None = None
    _by_name: dict[str, LayerRecord] = field(default_factory=dict, repr=False)

    @property
    def children(self) -> list[NetLog]:
        """The nets this net's layers built in their set-up, in set-up order (their records' ``nested``)."""
        return [rec.nested for rec in self.layers if rec.nested is not None]

    def layer(self, name: str) -> LayerRecord | None:
        """The layer record named ``name`` (the last one, if Caffe created two with that name)."""
        return self._by_name.get(name)

    @property
    def parent(self) -> tuple[int, str] | None:
        """(index of the parent net, name of the layer that built this one); None for a net of the log."""
        return None if self.parent_net is None else (self.parent_net.index, self.parent_layer or "")

    @property
    def memory_bytes(self) -> int | None:
        """The last ``Memory required for data`` total of the net."""
        for rec in reversed(self.layers):
            if rec.memory_bytes is not None:
                return rec.memory_bytes
        return None

    @property
    def param(self) -> Any | None:
        """The echoed NetParameter, parsed with the schema on first use (None when unavailable)."""
        return self._parsed_echo()[0]

    @property
    def param_error(self) -> str | None:
        """Why the echo could not be parsed (None when it was, or when there is none)."""
        return self._parsed_echo()[1]

    @property
    def param_truncated(self) -> bool:
        """The echo was cut (glog's 30000-byte message limit); `param` holds what was printed."""
        return self._parsed_echo()[2]

    def to_dict(self) -> dict[str, Any]:
        return {
            "index": self.index,
            "run": self.run,
            "name": self.name,
            "phase": self.phase,
            "test_index": self.test_index,
            "source": self.source,
            "line": self.line,
            "outputs": list(self.outputs),
            "filtered_layers": list(self.filtered_layers),
            "memory_bytes": self.memory_bytes,
            "done": self.done,
            "layers": [rec.to_dict() for rec in self.layers],
        } | self._family()

    def _family(self) -> dict[str, Any]:
        """The ``parent`` / ``children`` keys of `to_dict`, only for nets that have them."""
        out: dict[str, Any] = {}
        if self.parent is not None:
            out["parent"] = {"net": self.parent[0], "layer": self.parent[1]}
        if self.children:
            out["children"] = [child.to_dict() for child in self.children]
        return out


def with_children(nets: list[NetLog]) -> list[NetLog]:
    """The nets and, after each, the nets built inside its layers' set-up (recurrent layers' unrolled nets)."""
    return [n for net in nets for n in (net, *with_children(net.children))]


@dataclass
class RunLog(Echoed):
    """One run of ``caffe train`` (or of a net set-up without a solver) inside a log file.

    A file holds several runs when people append restarts to one log: a new run starts at a new
    ``Initializing solver from parameters``, at ``Resuming from``/``Restoring previous solver status
    from`` once the current run has trained, or at any training line after ``Optimization Done`` /
    a fatal error / a signal.
    """

    ECHO_TEXT: ClassVar[str] = "solver_text"
    ECHO_MESSAGE: ClassVar[str] = "SolverParameter"
    index: int
    line: int | None = None
    reason: str = "start"
    solver_text: str | None = None
    solver_line: int | None = None
    net_name: str | None = None
    solving_line: int | None = None
    lr_policy: str | None = None
    resumed_from: str | None = None
    finetuned_from: str | None = None
    done: bool = False
    stopped_early: bool = False
    fatal: str | None = None
    fatal_line: int | None = None
    fatal_trace: str | None = None
    aborted: str | None = None
    abort_line: int | None = None
    nets: list[int] = field(default_factory=list)

    @property
    def solver(self) -> Any | None:
        """The echoed SolverParameter, parsed with the schema on first use (None when unavailable)."""
        return self._parsed_echo()[0]

    @property
    def solver_error(self) -> str | None:
        """Why the echo could not be parsed (None when it was, or when there is none)."""
        return self._parsed_echo()[1]

    @property
    def solver_truncated(self) -> bool:
        """The echo was cut (glog's 30000-byte message limit); `solver` holds what was printed."""
        return self._parsed_echo()[2]

    @property
    def died(self) -> bool:
        return self.fatal is not None or self.aborted is not None

    @property
    def status(self) -> str:
        if self.fatal is not None:
            return "fatal"
        if self.aborted is not None:
            return "aborted"
        if self.stopped_early:
            return "stopped early"
        if self.done:
            return "done"
        return "unfinished"

    def to_dict(self) -> dict[str, Any]:
        return {
            "index": self.index,
            "line": self.line,
            "reason": self.reason,
            "net_name": self.net_name,
            "status": self.status,
            "resumed_from": self.resumed_from,
            "finetuned_from": self.finetuned_from,
            "lr_policy": self.lr_policy,
            "fatal": self.fatal,
            "fatal_line": self.fatal_line,
            "aborted": self.aborted,
            "abort_line": self.abort_line,
            "nets": list(self.nets),
        }


@dataclass(frozen=True)
class LogMessage:
    """A warning, error or fatal line (glog W/E/F, or a ``[libprotobuf ERROR ...]`` line)."""

    line: int
    severity: str
    message: str
    run: int | None = None


@dataclass(frozen=True)
class Event:
    """One fact read from the log, in file order (see `caffecx.logs.iter_events`)."""

    kind: str
    line: int | None
    run: int | None
    data: dict[str, Any]
