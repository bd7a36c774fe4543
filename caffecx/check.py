"""`check`: a real Caffe log against the analyzer, layer by layer, top shape by top shape.

For each net the log sets up (TRAIN, TEST #k, or a net built outside a solver), the net is rebuilt
— from the prototxt the user names, or else from the ``Initializing net from parameters:`` echo
inside the log — analyzed, and compared with every layer name, ``Top shape:`` and ``Memory required
for data:`` line the log holds. Data shapes come from the log when the data source is absent
(the source layers' logged top shapes, i.e. Caffe's ``output data size``).

A net a layer builds in its own set-up (an LSTM's or RNN's unrolled net, logged between the layer's
tops and its ``Setting up``) is checked after its parent as ``TEST > lstm1``, against its own echo
(NET holds the outer net only), memory from 0; the layer's own lines are checked in the parent.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import pandas as pd

from caffecx.analysis import Analysis, analyze
from caffecx.errors import CaffecxError
from caffecx.graph import attach_weights, load_net
from caffecx.io.reader import NetText
from caffecx.layers import layer_class
from caffecx.layers.datasource import SourceMissing, batch_size
from caffecx.logs import CaffeLog, LayerRecord, NetLog, parse_log

#: the source of a check made against the net caffecx unrolls for a recurrent layer
UNROLLED = "caffecx's unrolled net"


class NeedsInput(CaffecxError):
    """A net of the log cannot be rebuilt or analyzed from the input given (no echo and no NET, a
    caffemodel without that phase's net, a data shape nothing determines): not a disagreement."""


#: glog's LogMessage buffer: a longer message (a big net's parameter echo) is cut at this many bytes.
GLOG_MESSAGE_LIMIT = 30000


@dataclass
class CheckRow:
    """One compared quantity: where (net, layer), what, the log's value, the analyzer's, and the verdict."""

    net: str
    layer: str
    quantity: str
    log_value: Any
    analyzer_value: Any
    status: str  # "match", "mismatch", "unknown"
    line: int | None = None


@dataclass
class NetCheck:
    """The comparison for one net of the log."""

    label: str
    phase: str | None
    source: str
    rows: list[CheckRow] = field(default_factory=list)
    error: str | None = None
    unchecked: int = 0  # the log's layers past the cut of an echo glog truncated (naming the NET checks them)
    bad_input: bool = False  # `error` says what input is missing to check this net (not a disagreement)

    @property
    def ok(self) -> bool:
        return self.error is None and all(r.status == "match" for r in self.rows)

    @property
    def disagrees(self) -> bool:
        """A real disagreement between the net and the log: a mismatching row, or an error that is not
        about missing input (Caffe and caffecx refusing different layers)."""
        return (self.error is not None and not self.bad_input) or any(r.status == "mismatch" for r in self.rows)

    @property
    def verdict(self) -> str:
        """``OK``, ``MISMATCH`` (a real disagreement), ``NOT CHECKED`` (input missing to check it at all)
        or ``INCOMPLETE`` (what was checked matched; layers or values were left unchecked)."""
        if self.ok:
            return "OK"
        if self.disagrees:
            return "MISMATCH"
        return "NOT CHECKED" if self.bad_input else "INCOMPLETE"


@dataclass
class CheckResult:
    """All nets of one log checked; ``ok`` only when every quantity matched."""

    log_path: str | None
    net_path: str | None
    nets: list[NetCheck]

    @property
    def ok(self) -> bool:
        return bool(self.nets) and all(n.ok for n in self.nets)

    @property
    def status(self) -> int:
        """The exit status a script can trust: 0 every net checked whole and matching, 1 a real
        disagreement between a net and the log, 2 no disagreement found but not everything could be
        checked (a net not rebuildable from the input given, layers past a cut echo, values unknown)."""
        if self.ok:
            return 0
        return 1 if any(n.disagrees for n in self.nets) else 2

    @property
    def rows(self) -> list[CheckRow]:
        return [r for n in self.nets for r in n.rows]

    def to_frame(self) -> pd.DataFrame:
        return pd.DataFrame([asdict(r) for r in self.rows],
                            columns=["net", "layer", "quantity", "log_value", "analyzer_value", "status", "line"])

    def mismatches(self) -> pd.DataFrame:
        frame = self.to_frame()
        return frame[frame["status"] != "match"]

    def to_json(self, all_rows: bool = False) -> dict[str, Any]:
        """The verdict per net, with its mismatching rows (every row with ``all_rows``)."""
        return {
            "log": self.log_path,
            "net": self.net_path,
            "ok": self.ok,
            "nets": [
                {"net": n.label, "phase": n.phase, "source": n.source, "ok": n.ok, "verdict": n.verdict,
                 "error": n.error, "bad_input": n.bad_input,
                 "compared": len(n.rows), "mismatches": sum(r.status != "match" for r in n.rows),
                 "unchecked_layers": n.unchecked,
                 "rows": [asdict(r) for r in n.rows if all_rows or r.status != "match"]}
                for n in self.nets
            ],
        }


def _refused_at_set_up(parsed: CaffeLog, net_log: NetLog) -> str | None:
    """The fatal ``Check failed`` (or other F line) that ended this net's set-up, None if it finished."""
    if net_log.done or not net_log.layers or not 0 <= net_log.run < len(parsed.runs):
        return None
    run = parsed.runs[net_log.run]
    last_line = max([net_log.layers[-1].line or 0, *net_log.layers[-1].top_shape_lines])
    return run.fatal if run.fatal is not None and (run.fatal_line or 0) >= last_line else None


def _label(net: NetLog) -> str:
    """``TRAIN``, ``TEST #k``, ...; a net built inside a layer's set-up (a recurrent layer's unrolled
    net) is named after that layer: ``TEST > lstm1``."""
    if net.parent_net is not None:
        return f"{_label(net.parent_net)} > {net.parent_layer}"
    if net.phase == "TEST" and net.test_index is not None:
        return f"TEST #{net.test_index}"
    return net.phase or f"net {net.index}"


def _phase(net: NetLog) -> str:
    """The phase to rebuild a net in: the log's, else TEST, the phase of Caffe's default NetState (a
    recurrent layer's unrolled NetParameter has no state, so Net::Init sets it up in TEST)."""
    return net.phase or "TEST"


def _log_hints(net_log: NetLog, net: Any) -> dict[str, tuple[int, ...]]:
    """Shapes of the source layers' tops as the log printed them. A 2014 log prints ``C H W``
    without the batch: the batch is then the layer's ``batch_size`` in the net, if it has one."""
    hints: dict[str, tuple[int, ...]] = {}
    for rec in net_log.layers:
        if rec.bottoms:
            continue
        batch = None
        if rec.legacy_shapes:
            batch = _batch_size(net, rec.name)
            if batch is None:
                continue
        for top, shape in zip(rec.tops, rec.top_shapes, strict=False):
            hints[top] = tuple(shape) if batch is None else (batch, *shape)
    return hints


def _batch_size(net: Any, layer: str) -> int | None:
    node = next((n for n in net.layers if n.name == layer), None)
    return None if node is None else batch_size(node.param)


class _NetFile:
    """NET, read once for each phase a check needs (a solver's test net is not its train net); a
    binary caffemodel is read once and brings its weights. Reading raises the file's located error."""

    def __init__(self, path: str) -> None:
        from caffecx.io.reader import is_binary_model

        self.path = path
        self.binary = is_binary_model(path)
        self._texts: dict[str, NetText] = {}
        self._model: Any = None

    def text(self, phase: str) -> NetText:
        from caffecx.io.reader import read_net_model, read_net_text

        if self.binary and not self._texts:
            text, self._model = read_net_model(self.path)
            self._texts = {"TRAIN": text, "TEST": text}
        if phase not in self._texts:
            self._texts[phase] = read_net_text(self.path, phase=phase)
        return self._texts[phase]

    def load(self, phase: str, stages: tuple[str, ...], level: int | None) -> Any:
        net = load_net(self.text(phase), phase=phase, stages=stages, level=level)
        if self._model is not None:
            attach_weights(net, self._model)
            net.weights_path = self.path
        return net


def _build(net_log: NetLog, net_file: _NetFile | None, log_path: str | None, phase: str) -> tuple[Any, bool]:
    """The net to check against, and whether it holds only the layers before the cut of an echo
    that glog truncated (the layers the echo printed in full)."""
    stages: tuple[str, ...] = ()
    level = None
    echo = net_log.param
    if echo is not None and echo.HasField("state"):
        stages, level = tuple(echo.state.stage), echo.state.level
    if net_file is not None:
        return net_file.load(phase, stages, level), False
    if echo is None:
        raise NeedsInput(f"the log has no net parameter echo for this net; {_more_input(net_log)}",
                         path=log_path, line=net_log.line)
    text = (net_log.param_text or "").rstrip()
    cut = len(text) >= GLOG_MESSAGE_LIMIT - 200 or not text.endswith("}")
    if cut:
        echo = _complete_layers_only(echo, text)
        if echo is None:
            raise NeedsInput("the log's net parameter echo is cut short before its first layer ends (glog "
                             f"truncates one message at 30000 bytes); {_more_input(net_log)}",
                             path=log_path, line=net_log.line)
    from caffecx.io.upgrade import upgrade_net

    upgraded, notes = upgrade_net(echo)
    return load_net(NetText(upgraded, None, notes=list(notes)), phase=phase, stages=stages, level=level), cut


def _more_input(net_log: NetLog) -> str:
    """What would let the check rebuild a net whose echo is missing or cut: the prototxt, except for a
    net a layer builds in its set-up (NET holds the outer net only)."""
    if net_log.parent_net is not None:
        return (f"the net that layer '{net_log.parent_layer}' builds in its set-up can only be rebuilt from "
                "its echo (NET holds the outer net)")
    return "name the prototxt: caffecx check NET LOG"


def _complete_layers_only(echo: Any, text: str) -> Any | None:
    """A copy of a cut echo's NetParameter without the layer the cut fell in (None if no layer is whole).

    The echo is protobuf's text format, one field or brace per line: a top-level ``layer {`` (2015+)
    or ``layers {`` (V1) block is whole when its closing ``}`` was printed before the cut line."""
    layers = "layer" if len(echo.layer) else "layers"
    whole, depth, opened = 0, 0, ""
    for line in text.split("\n")[:-1]:  # (the last line is the one glog cut)
        st = line.strip()
        if st.endswith("{"):
            opened = st if depth == 0 else opened
            depth += 1
        elif st == "}":
            depth -= 1
            whole += depth == 0 and opened == layers + " {"
    kept = type(echo)()
    kept.CopyFrom(echo)
    del getattr(kept, layers)[min(whole, len(getattr(kept, layers))):]
    return kept if len(getattr(kept, layers)) else None


def _analyze(net: Any, net_log: NetLog, base_dirs: list[Path],
             input_shapes: dict[str, tuple[int, ...]] | None = None) -> Analysis:
    """Analyze with the real data sources; where one is absent, with the shapes the log printed
    (the user's ``input_shapes`` win over both)."""
    given = dict(input_shapes or {})
    result = analyze(net, base_dirs=base_dirs, input_shapes=given, stop_on_error=True)
    if result.error is not None:
        node = next((n for n in net.layers if n.name == result.error.location.layer), None)
        if node is not None and _is_source(node.type) and not node.bottoms:
            hints = {**_log_hints(net_log, net), **given}
            result = analyze(net, base_dirs=base_dirs, input_shapes=hints, stop_on_error=True)
    return result


def _fmt_shape(shape: list[int] | tuple[int, ...]) -> str:
    return " ".join(map(str, shape)) if len(shape) else "(1)"


def compare_before_cut(net_log: NetLog, result: Analysis, label: str) -> tuple[list[CheckRow], int]:
    """`compare` on the layers a cut echo still shows: the log's layers up to the first one the echo's
    whole layers do not account for. A split Caffe inserted for a blob that layers past the cut read
    too is passed over (not checked); the memory lines after it are compared with its bytes added.
    Returns the rows, and how many of the log's layers could not be checked (named in one ``unknown``
    row, with the advice to name the prototxt)."""
    ours = {s.name for s in result.layers}
    kept: list[LayerRecord] = []
    offsets: dict[int | None, int] = {}  # memory line -> bytes of the passed-over splits before it
    offset, before, stop = 0, 0, len(net_log.layers)
    for k, rec in enumerate(net_log.layers):
        if rec.name in ours:
            kept.append(rec)
            offsets[rec.memory_line] = offset
        elif _is_split(rec.type):
            offset += (rec.memory_bytes or before) - before
        else:
            stop = k
            break
        before = rec.memory_bytes if rec.memory_bytes is not None else before
    rows = compare(net_log, result, label, kept)
    for r in rows:
        if r.quantity == "memory_bytes" and offsets.get(r.line) and r.analyzer_value is not None:
            r.analyzer_value += offsets[r.line]
            r.status = "match" if r.analyzer_value == r.log_value else "mismatch"
    left = len(net_log.layers) - len(kept)
    if left:
        first = net_log.layers[stop] if stop < len(net_log.layers) else net_log.layers[-1]
        rows.append(CheckRow(label, first.name, "layers not checked", left,
                             f"glog cut the net's echo at {GLOG_MESSAGE_LIMIT} bytes: {len(kept)} layers checked, "
                             f"{left} not (from '{first.name}' on, and splits for blobs read past the cut); "
                             f"{_more_input(net_log)}", "unknown", first.line))
    return rows, left


def compare(net_log: NetLog, result: Analysis, label: str, layers: list[LayerRecord] | None = None
            ) -> list[CheckRow]:
    """Every layer / top shape / memory line of `net_log` against `result`.

    Layers are matched by name (Caffe's names are unique in a net), so a log excerpt — a documentation
    page quoting a few layers — is checked on what it shows; a log layer the net lacks, or one set up
    out of Caffe's order, is a mismatch. When the log finished setting the net up (``Network
    initialization done``), a layer of the net that the log never created is a mismatch too.
    ``layers`` (a first part of the log's layers) limits the comparison to those.
    """
    partial = layers is not None
    layers = net_log.layers if layers is None else layers
    rows: list[CheckRow] = []
    ours = result.layers
    next_named = _in_order_by_name([s.name for s in ours])
    legacy = any(rec.legacy_shapes for rec in layers)
    last = -1
    seen: set[int] = set()
    for k, rec in enumerate(layers):
        i = next_named(rec.name)
        if i is None:
            into = _folded_into(net_log, k, result) if legacy else None
            rows.append(CheckRow(label, rec.name, "layer", rec.name, into, "mismatch" if into is None else "match",
                                 rec.line))
            continue
        mine = ours[i]
        if i < last:
            rows.append(CheckRow(label, rec.name, "layer", rec.name,
                                 f"{mine.name} (set up before '{ours[last].name}')", "mismatch", rec.line))
        else:
            rows.append(CheckRow(label, rec.name, "layer", rec.name, mine.name, "match", rec.line))
        last = max(last, i)
        seen.add(i)
        for j, shape in enumerate(rec.top_shapes):
            line = rec.top_shape_lines[j] if j < len(rec.top_shape_lines) else rec.line
            log_v = _fmt_shape(shape)
            if mine.top_shapes is None:
                rows.append(CheckRow(label, rec.name, f"top_shape[{j}]", log_v, None, "unknown", line))
                continue
            mine_shape = mine.top_shapes[j] if j < len(mine.top_shapes) else None
            if mine_shape is not None and rec.legacy_shapes:
                # 2014: every blob was num x channels x height x width, printed "C H W" without the batch
                mine_shape = (list(mine_shape) + [1] * 4)[1:4] if len(mine_shape) <= 4 else mine_shape[1:]
            ana_v = None if mine_shape is None else _fmt_shape(mine_shape)
            rows.append(CheckRow(label, rec.name, f"top_shape[{j}]", log_v, ana_v,
                                 "match" if log_v == ana_v else "mismatch", line))
        if rec.memory_bytes is not None:
            status = ("unknown" if mine.memory_bytes is None
                      else "match" if mine.memory_bytes == rec.memory_bytes else "mismatch")
            rows.append(CheckRow(label, rec.name, "memory_bytes", rec.memory_bytes, mine.memory_bytes, status,
                                 rec.memory_line))
    if not partial:
        rows += _never_created(net_log, layers, result, seen, legacy, label)
    return rows


def _in_order_by_name(names: list[str]) -> Callable[[str], int | None]:
    """A lookup of the net's layers by name that gives the k-th layer of a name at its k-th call: Caffe
    lets names repeat (a recurrent layer's unrolled net has three named ``lstm1_``), and sets layers up
    in order. Past the last layer of a name it keeps giving that one; None for a name the net lacks."""
    positions: dict[str, list[int]] = {}
    for i, name in enumerate(names):
        positions.setdefault(name, []).append(i)
    calls: dict[str, int] = {}

    def next_named(name: str) -> int | None:
        found = positions.get(name)
        if found is None:
            return None
        k = calls.get(name, 0)
        calls[name] = k + 1
        return found[min(k, len(found) - 1)]

    return next_named


def _never_created(net_log: NetLog, layers: list[LayerRecord], result: Analysis, seen: set[int], legacy: bool,
                   label: str) -> list[CheckRow]:
    """The net's layers a finished set-up never created (a log excerpt is checked on what it shows)."""
    ours = result.layers
    # 2014's Caffe had no Input layer (net inputs were not layers): an upgraded `input:` is not logged
    expected = [i for i, s in enumerate(ours) if not (legacy and not _logged_by_2014(s.type))]
    whole = net_log.done and bool(expected) and bool(layers) and layers[0].name == ours[expected[0]].name
    if not (whole or not layers):
        return []
    return [CheckRow(label, ours[i].name, "layer", None, ours[i].name, "mismatch", None) for i in expected
            if i not in seen]


def _folded_into(net_log: NetLog, k: int, result: Analysis) -> str | None:
    """A 2014 log's padding layer (``pad2 <- norm1``, ``pad2 -> pad2``, ``conv2 <- pad2``) that the V0
    upgrade folded into the next convolution or pooling: that layer's name and pad, else None."""
    rec = net_log.layers[k]
    if len(rec.bottoms) != 1 or len(rec.tops) != 1:
        return None
    nxt = next((r for r in net_log.layers[k + 1:] if rec.tops[0] in r.bottoms), None)
    if nxt is None:
        return None
    mine = next((s for s in result.layers if s.name == nxt.name), None)
    cls = layer_class(mine.type) if mine is not None else None
    if mine is None or cls is None or rec.bottoms[0] not in mine.bottoms:
        return None
    pad = cls(result.net.layer(mine.name).param).declared_pad()
    if not pad or not any(pad):
        return None
    return f"folded into '{mine.name}' (pad {' '.join(map(str, pad))})"


def _is_split(type_name: str | None) -> bool:
    """A split Caffe inserts for a blob read more than once (its tops share the bottom's data)."""
    cls = None if type_name is None else layer_class(type_name)
    return cls is not None and cls.shares_bottom_data


def _is_source(type_name: str) -> bool:
    cls = layer_class(type_name)
    return cls is not None and cls.is_source


def _logged_by_2014(type_name: str) -> bool:
    """Whether 2014's Caffe logged a layer of this type (its net inputs were not layers)."""
    cls = layer_class(type_name)
    return cls is None or cls.logged_by_2014


def check_log(
    log: str | os.PathLike[str] | CaffeLog,
    net: str | os.PathLike[str] | None = None,
    *,
    phase: str | None = None,
    input_shapes: dict[str, tuple[int, ...]] | None = None,
) -> CheckResult:
    """Check every net a log sets up against the analyzer (see the module docstring).

    ``input_shapes`` (by top name) stand in for data sources that are absent and that the log does
    not give in full (a 2014 log prints ``Top shape: C H W``, and an excerpt may not show the data
    layer at all). A NET that cannot be read (missing, unreadable, garbage) raises its located
    `CaffecxError` before anything is compared; a net of the log that the input given cannot rebuild
    is a `NetCheck` with ``bad_input`` (see `CheckResult.status`)."""
    if not isinstance(log, (str, os.PathLike, CaffeLog)):
        raise TypeError(f"check_log expects a log path or a CaffeLog, not {type(log).__name__}")
    if net is not None and not isinstance(net, (str, os.PathLike)):
        raise TypeError(f"check_log's net must be a path, not {type(net).__name__}")
    if phase is not None and not isinstance(phase, str):
        raise TypeError(f"check_log's phase must be 'TRAIN', 'TEST' or None, not {type(phase).__name__}")
    if phase not in (None, "TRAIN", "TEST"):
        raise CaffecxError(f"the phase must be TRAIN or TEST, not {phase!r}")
    parsed = log if isinstance(log, CaffeLog) else parse_log(log)
    net_path = None if net is None else os.fspath(net)
    wanted = [n for n in parsed.net_logs if n.layers and (phase is None or n.phase == phase)]
    net_file = None if net_path is None else _NetFile(net_path)
    for p in sorted({_phase(n) for n in wanted}) or ["TEST"]:
        if net_file is not None:
            net_file.text(p)  # a NET that cannot be read is bad input, raised before anything is compared
    base_dirs = [Path.cwd()]
    if net_path:
        base_dirs.append(Path(net_path).resolve().parent)
    if parsed.path:
        base_dirs.append(Path(parsed.path).resolve().parent)
    checks = [c for n in wanted for c in _check_with_children(parsed, n, net_file, base_dirs, input_shapes)]
    return CheckResult(parsed.path, net_path, checks)


def _check_with_children(parsed: CaffeLog, net_log: NetLog, net_file: _NetFile | None, base_dirs: list[Path],
                         input_shapes: dict[str, tuple[int, ...]] | None, inner: Any = None) -> list[NetCheck]:
    """The net's check, then those of the nets its layers built in their set-up (a recurrent layer's
    unrolled net, memory from 0): each against the net caffecx builds for that layer with the bottoms
    the parent's analysis gave it, else against its own echo (NET holds the outer net only)."""
    check, result = _check_net(parsed, net_log, net_file, base_dirs, input_shapes, inner)
    checks = [check]
    for child in net_log.children:
        checks += _check_with_children(parsed, child, None, base_dirs, None, _inner_net(result, child))
    return checks


def _inner_net(parent: Analysis | None, child: NetLog) -> Any | None:
    """The net caffecx builds inside the parent's layer that built ``child`` (None when that layer was
    not set up, or builds none)."""
    if parent is None:
        return None
    node = next((n for n in parent.net.layers if n.name == child.parent_layer), None)
    cls = None if node is None else layer_class(node.type)
    if node is None or cls is None or any(b not in parent.blob_shapes for b in (*node.bottoms, *node.tops)):
        return None  # (a layer the parent's analysis stopped at, or before, builds nothing to check against)
    inner = cls(node.param).inner_net([parent.blob_shapes[b] for b in node.bottoms])
    return None if inner is None else inner.param


def _check_net(parsed: CaffeLog, net_log: NetLog, net_file: _NetFile | None, base_dirs: list[Path],
               input_shapes: dict[str, tuple[int, ...]] | None, inner: Any = None
               ) -> tuple[NetCheck, Analysis | None]:
    """One net's check (and its analysis, None when it could not be made). ``inner``: the NetParameter
    caffecx builds for the layer that set this net up, checked instead of the net's echo."""
    label = _label(net_log)
    net_path = net_file.path if net_file is not None else None
    check = NetCheck(label, net_log.phase, net_path or ("log echo" if inner is None else UNROLLED))
    phase = _phase(net_log)
    try:
        if inner is None:
            built, cut = _build(net_log, net_file, parsed.path, phase)
        else:
            built, cut = load_net(NetText(inner, None), phase=phase), False
        result = _analyze(built, net_log, base_dirs, input_shapes)
    except NeedsInput as err:
        check.error, check.bad_input = str(err), True
        return check, None
    except CaffecxError as err:
        check.error = str(err)
        if net_file is not None and net_file.binary and phase != "TRAIN":  # Caffe saves the net it trained: the TEST net may not be in it
            check.bad_input = True
            check.error = (f"{net_path}: the caffemodel holds the net Caffe saved after training, which does "
                           f"not make the {label} net ({err.message}); name the prototxt, or check --phase TRAIN")
        return check, None
    err = result.error
    if err is None and cut:
        check.rows, check.unchecked = compare_before_cut(net_log, result, label)
    elif err is None:
        check.rows = compare(net_log, result, label)
        refused = _refused_at_set_up(parsed, net_log)
        if refused is not None:
            last = net_log.layers[-1]
            check.rows.append(CheckRow(label, last.name, "error", refused, None, "mismatch", last.line))
            check.error = (f"Caffe refused layer '{last.name}' at set-up ({refused}); caffecx accepted it")
    else:
        _analysis_failed(check, parsed, net_log, result, err)
    return check, result


def _analysis_failed(check: NetCheck, parsed: CaffeLog, net_log: NetLog, result: Analysis,
                     err: CaffecxError) -> None:
    """The rows of a net the analyzer refused: a match when Caffe died on the same layer; a data layer
    whose source is not here (or not readable) and whose shape nothing determines is missing input
    (``--input-shape``; Caffe had the data), anything else a disagreement."""
    last = net_log.layers[-1]
    died_here = parsed.fatal is not None and err.location.layer == last.name
    node = next((n for n in result.net.layers if n.name == err.location.layer), None)
    at_source = node is not None and not node.bottoms and _is_source(node.type)
    if (isinstance(err, SourceMissing) or at_source) and not died_here:
        check.error, check.bad_input = str(err), True
        return
    # Caffe died setting this layer up too: what it printed before must match, and so must the verdict.
    rows = compare(net_log, result, check.label) if died_here else []
    check.rows = [r for r in rows if not (r.layer == last.name and r.analyzer_value is None)]
    check.rows.append(CheckRow(check.label, err.location.layer or "?", "error", parsed.fatal, err.message,
                               "match" if died_here else "mismatch", last.line))
    if not died_here:
        check.error = str(err)
