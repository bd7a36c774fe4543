"""The rare lines: one handler per wording family, chosen by the first four bytes of the message.

A handler takes (parser, chunk, position of the message's ``] ``, glog prefix, message) and returns
whether the line was its wording; one that was not goes on to `caffecx.logs.scanner.LogParser.other_message`.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

from caffecx.logs import wordings as W
from caffecx.logs.records import LayerRecord, NetLog
from caffecx.logs.state import ParseState
from caffecx.logs.values import text, thread_of, to_float

Handler = Callable[[ParseState, bytes, int, bytes, bytes], bool]


# ---------------------------------------------------------------------------------------------- tests
def testing_or_time_iteration(p: ParseState, chunk: bytes, pos: int, head: bytes, msg: bytes) -> bool:
    m = W.TESTING_NET.match(msg)
    if m:
        test_start(p, chunk, pos, m.group(1), m.group(2))
        return True
    return msg.startswith(W.TIME_ITERATION)


def test_lines(p: ParseState, chunk: bytes, pos: int, head: bytes, msg: bytes) -> bool:
    m = W.TESTING_NET.match(msg)
    if m:
        test_start(p, chunk, pos, None, m.group(2))
    elif msg.startswith(b"Test net output"):
        return net_output_or_loss_weight(p, chunk, pos, head, msg)
    elif m := W.TEST_SCORE_2014.match(msg):
        test_output(p, chunk, pos, head, m.group(1), b"score_" + m.group(1), m.group(2), None, None)
    elif msg.startswith(W.TEST_LOSS_2014):
        test_output(p, chunk, pos, head, None, b"test_loss", msg[11:].strip(), None, None)
    elif msg.startswith(W.TEST_INTERRUPTED):
        if p.test is not None:
            p.test["interrupted"] = True
        p.event("test_interrupted", p.line_at(chunk, pos))
    else:
        return False
    return True


def net_output_or_loss_weight(p: ParseState, chunk: bytes, pos: int, head: bytes, msg: bytes) -> bool:
    body = msg.lstrip()
    m = W.NET_OUTPUT.match(body)
    if m:
        kind, index, name, value, weight, weighted = m.groups()
        if kind == b"Test":  # (a Train output is a hot message, read before the dispatch)
            test_output(p, chunk, pos, head, index, name, value, weight, weighted)
        return True
    if body.startswith(W.LOSS_WEIGHT):
        b = p.builders.get(thread_of(head))
        if b is not None and b.layer is not None and b.layer.loss_weights:
            toks = body[17:].split()
            b.layer.loss_weights[-1] = to_float(toks[0] if toks else None)
            p.event("loss_weight", None, net=b.net.index, layer=b.layer.name, weight=b.layer.loss_weights[-1])
        return True
    return time_line(p, chunk, pos, head, msg)


def test_start(p: ParseState, chunk: bytes, pos: int, iteration: bytes | None, net: bytes | None) -> None:
    line = p.line_at(chunk, pos)
    r = p.current_run("continued", line)
    p.active = True
    p.test = {"run": r.index, "iteration": None if iteration is None else int(iteration),
              "net": 0 if net is None else int(net), "line": line, "outputs": {}, "interrupted": False}
    p.tests.append(p.test)
    p.event("test_start", line, iteration=p.test["iteration"], net=p.test["net"])


def test_output(p: ParseState, chunk: bytes, pos: int, head: bytes, index: bytes | None, name: bytes, value: bytes,
                weight: bytes | None, weighted: bytes | None) -> None:
    row = p.test
    line = p.line_at(chunk, pos)
    if row is None or p.ended:
        r = p.current_run("continued", line)
        p.active = True
        row = p.test = {"run": r.index, "iteration": None, "net": None, "line": line, "outputs": {},
                        "interrupted": False}
        p.tests.append(row)
    if not row["outputs"]:
        p.stamp(line, head, "test", row)
    got = (None if index is None else int(index), to_float(value), None if weight is None else to_float(weight),
           None if weighted is None else to_float(weighted), value)
    row["outputs"][text(name) or ""] = got
    if p.emit is not None:  # (no event to build when none is wanted)
        p.event("test_output", line, iteration=row["iteration"], net=row["net"], index=got[0], name=text(name),
                value=got[1], loss_weight=got[2], weighted=got[3])


# ---------------------------------------------------------------------------- caffe test / caffe time
def running_for(p: ParseState, chunk: bytes, pos: int, head: bytes, msg: bytes) -> bool:
    if msg.startswith(b"Running for "):
        p.current_run("test", p.line_at(chunk, pos))
        p.reading_test_results = True
        return True
    return False


def test_batch(p: ParseState, chunk: bytes, pos: int, head: bytes, msg: bytes) -> bool:
    m = W.TEST_BATCH.match(msg)
    if not m or not p.reading_test_results:
        return False
    line = p.line_at(chunk, pos)
    r = p.current_run("test", line)
    row = {"run": r.index, "batch": int(m.group(1)), "name": text(m.group(2)), "value": to_float(m.group(3)),
           "line": line}
    p.test_batches.append(row)
    p.event("test_batch", line, **{k: row[k] for k in ("batch", "name", "value")})
    return True


def test_result(p: ParseState, chunk: bytes, pos: int, head: bytes, msg: bytes) -> bool:
    """``caffe test``'s means after the batches: ``Loss: x`` and ``name = x (* w = c loss)``."""
    m = W.TEST_FINAL_LOSS.match(msg)
    name, value, weight, weighted = (b"Loss", m.group(1), None, None) if m else (None, None, None, None)
    if m is None:
        m = W.TEST_RESULT.match(msg.rstrip()) if p.reading_test_results else None
        if m is None:
            return False
        name, value, weight, weighted = m.groups()
    line = p.line_at(chunk, pos)
    r = p.current_run("test", line)
    r.done = r.done or name == b"Loss"  # printed once every iteration has run: the means follow it
    row = {"run": r.index, "name": text(name), "value": to_float(value),
           "loss_weight": to_float(weight), "weighted": to_float(weighted), "line": line}
    p.test_results.append(row)
    p.event("test_result", line, **{k: row[k] for k in ("name", "value", "loss_weight", "weighted")})
    return True


def time_line(p: ParseState, chunk: bytes, pos: int, head: bytes, msg: bytes) -> bool:
    """``caffe time``: ``  conv1\\tforward: 1.347 ms.`` per layer and the averages / total after them."""
    if msg.startswith(b"Average time per layer"):
        p.reading_times = True
        return True
    m = (W.TIME_LAYER.fullmatch(msg.rstrip()) or W.TIME_AVERAGE.match(msg)) if p.reading_times else None
    if not m:
        return False
    line = p.line_at(chunk, pos)
    r = p.current_run("net", line)
    if m.re is W.TIME_LAYER:
        layer, direction, ms = text(m.group(1)), text(m.group(2)), to_float(m.group(3))
    else:
        what = text(m.group(1)) or ""
        layer, ms = None, to_float(m.group(2))
        direction = {"Average Forward pass": "forward", "Average Backward pass": "backward",
                     "Average Forward-Backward": "forward-backward"}.get(what, "total")
    row = {"run": r.index, "layer": layer, "direction": direction, "ms": ms, "line": line}
    p.timing.append(row)
    p.event("timing", line, layer=layer, direction=direction, ms=ms)
    return True


def benchmark_ends(p: ParseState, chunk: bytes, pos: int, head: bytes, msg: bytes) -> bool:
    """``caffe time``'s ``*** Benchmark ends ***``: its run is done."""
    if not msg.startswith(W.BENCHMARK_ENDS):
        return False
    line = p.line_at(chunk, pos)
    p.current_run("net", line).done = True
    p.end_run()
    p.event("done", line, early=False)
    return True


# ------------------------------------------------------------------------------------------ set-up
def top_shape(p: ParseState, chunk: bytes, pos: int, head: bytes, msg: bytes) -> bool:
    m = W.TOP_SHAPE.fullmatch(msg.rstrip())
    if m:
        add_top_shape(p, thread_of(head), p.line_at(chunk, pos), *m.groups())
    return m is not None


def add_top_shape(p: ParseState, thread: bytes | None, line: int, dims: bytes, count: bytes | None) -> None:
    b = p.builders.get(thread)
    if b is not None and b.layer is not None:
        rec = b.layer
        shape = [int(x) for x in dims.split()]
        rec.top_shapes.append(shape)
        rec.top_counts.append(None if count is None else int(count))
        rec.loss_weights.append(0.0)
        rec.top_shape_lines.append(line)
        rec.legacy_shapes |= count is None and bool(shape)
        if p.emit is not None:
            p.event("top_shape", line, net=b.net.index, layer=rec.name, shape=shape, count=rec.top_counts[-1])


def memory(p: ParseState, chunk: bytes, pos: int, head: bytes, msg: bytes) -> bool:
    m = W.MEMORY.match(msg)
    if m:
        set_memory(p, thread_of(head), p.line_at(chunk, pos), m.group(1))
    return m is not None


def set_memory(p: ParseState, thread: bytes | None, line: int, nbytes: bytes) -> None:
    b = p.builders.get(thread)
    if b is not None and b.layer is not None:
        b.layer.memory_bytes, b.layer.memory_line = int(nbytes), line
        if p.emit is not None:
            p.event("memory", line, net=b.net.index, layer=b.layer.name, bytes=b.layer.memory_bytes)


def creating(p: ParseState, chunk: bytes, pos: int, head: bytes, msg: bytes) -> bool:
    if msg.startswith(W.CREATING_LAYER):
        create_layer(p, thread_of(head), text(msg[15:].strip()) or "", p.line_at(chunk, pos))
    elif msg.startswith(W.CREATING_TRAIN_NET):
        net_designation(p, head, "TRAIN", None, msg[22:], p.line_at(chunk, pos))
    elif m := W.CREATING_TEST_NET.match(msg):
        net_designation(p, head, "TEST", int(m.group(1)), m.group(2), p.line_at(chunk, pos))
    else:
        return msg.startswith(W.CREATING_LAYER_FACTORY)
    return True


def net_designation(p: ParseState, head: bytes, phase: str, test_index: int | None, source: bytes, line: int) -> None:
    if p.run is None or p.ended:
        p.new_run("net", line)
    thread = thread_of(head)
    p.builders.pop(thread, None)
    p.pending_net.setdefault(thread, {}).update(phase=phase, test_index=test_index,
                                                source=text(source.strip().rstrip(b".")))


def new_net(p: ParseState, thread: bytes | None, line: int) -> NetLog:
    r = p.current_run("net", line)
    p.builders.pop(thread, None)
    pend = p.pending_net.pop(thread, {})
    net = NetLog(index=len(p.nets), run=r.index, phase=pend.get("phase"), test_index=pend.get("test_index"),
                 source=pend.get("source"), line=line, thread=text(thread))
    net.filtered_layers.extend(pend.get("filtered", []))
    p.nets.append(net)
    r.nets.append(net.index)
    p.builders[thread] = NetBuilder(net)
    p.event("net_start", line, net=net.index, phase=net.phase, test_index=net.test_index, source=net.source)
    return net


class NetBuilder:
    """The net a thread is setting up, the layer it is on, and the builder of the net whose layer is
    building this one (resumed at this net's ``Network initialization done``)."""

    __slots__ = ("net", "layer", "outer")

    def __init__(self, net: NetLog, outer: NetBuilder | None = None) -> None:
        self.net = net
        self.layer: LayerRecord | None = None
        self.outer = outer

    def layer_in_set_up(self) -> bool:
        """Whether the current layer is being set up: connected (tops named), not yet shaped. A net
        initialized now is built by that layer (Caffe's RecurrentLayer::LayerSetUp: ``new Net``)."""
        rec = self.layer
        return rec is not None and bool(rec.tops) and not rec.top_shapes and rec.memory_bytes is None


def nested_net(p: ParseState, outer: NetBuilder, thread: bytes | None, line: int) -> NetLog:
    """The net that ``outer``'s current layer builds in its set-up: a child of that layer, not a net of
    the log; the thread builds it until its ``Network initialization done``, then ``outer`` again."""
    rec = outer.layer
    assert rec is not None
    net = NetLog(index=len(outer.net.children), run=outer.net.run, line=line, thread=text(thread),
                 parent_net=outer.net, parent_layer=rec.name)
    rec.nested = net
    p.builders[thread] = NetBuilder(net, outer)
    p.event("net_start", line, net=net.index, parent=net.parent, phase=None, test_index=None, source=None)
    return net


def create_layer(p: ParseState, thread: bytes | None, name: str, line: int) -> None:
    b = p.builders.get(thread)
    if b is None:
        new_net(p, thread, line)
        b = p.builders[thread]
    rec = LayerRecord(name=name, line=line)
    b.net.layers.append(rec)
    b.net._by_name[name] = rec
    b.layer = rec
    if p.emit is not None:
        p.event("layer", line, net=b.net.index, layer=name)


def layer_of(p: ParseState, thread: bytes | None, name: bytes) -> tuple[NetLog, LayerRecord] | None:
    b = p.builders.get(thread)
    rec = None if b is None else b.net._by_name.get(text(name) or "")
    return None if rec is None or b is None else (b.net, rec)


def bottom(p: ParseState, thread: bytes | None, layer: bytes, blob: bytes) -> None:
    found = layer_of(p, thread, layer)
    if found is not None:
        found[1].bottoms.append(text(blob) or "")
        if p.emit is not None:
            p.event("bottom", None, net=found[0].index, layer=found[1].name, blob=found[1].bottoms[-1])


def top(p: ParseState, thread: bytes | None, layer: bytes, blob: bytes, in_place: bytes | None) -> None:
    found = layer_of(p, thread, layer)
    if found is not None:
        found[1].tops.append(text(blob) or "")
        found[1].in_place.append(in_place is not None)
        if p.emit is not None:
            p.event("top", None, net=found[0].index, layer=found[1].name, blob=found[1].tops[-1],
                    in_place=found[1].in_place[-1])


def backward(p: ParseState, thread: bytes | None, layer: bytes, needs: bytes) -> None:
    found = layer_of(p, thread, layer)
    if found is not None:
        found[1].needs_backward = needs == b"needs"
        if p.emit is not None:
            p.event("backward", None, net=found[0].index, layer=found[1].name, needs=found[1].needs_backward)


SETUP_BY_NAME = ((W.BOTTOM, bottom), (W.TOP, top), (W.NEEDS_BACKWARD, backward))
_NAME_LED = {"bottom": bottom, "top": top, "backward": backward}


def setup_line(p: ParseState, m: Any, line: int) -> bool:
    """One line of a run of `wordings.SETUP_LINE` (the scanner's bulk reading of a net's set-up), to
    the same effect as its dispatch. False (nothing done) for a line led by a layer name whose first
    bytes choose a handler in `HANDLERS`: that one goes through the dispatch."""
    kind = m.lastgroup
    at, groups = _SETUP_GROUPS[kind]
    if kind in _NAME_LED:
        start = m.start(at)
        if m.string[start:start + 4] in HANDLERS:
            return False
        _NAME_LED[kind](p, thread_of(m.group(1)), *m.group(*groups))
    elif kind == "top_shape":
        add_top_shape(p, thread_of(m.group(1)), line, *m.group(*groups))
    elif kind == "memory":
        set_memory(p, thread_of(m.group(1)), line, m.group(at + 1))
    elif kind == "layer":
        create_layer(p, thread_of(m.group(1)), text(m.group(at + 1).strip()) or "", line)
    return True


#: per wording of SETUP_LINE: its group, and the groups inside it
_SETUP_GROUPS = {kind: (at, tuple(range(at + 1, at + 1 + n)))
                 for kind, at, n in ((k, W.SETUP_LINE.groupindex[k], re.compile(w).groups) for k, w in W.SETUP_WORDINGS)}


def initializing(p: ParseState, chunk: bytes, pos: int, head: bytes, msg: bytes) -> bool:
    if msg.startswith(W.SOLVER_ECHO):
        line = p.line_at(chunk, pos)
        r = p.run
        if r is None or p.ended or p.active or r.solver_text is not None or r.nets:
            r = p.new_run("solver", line)
        r.solver_line = line
        p.open_block("solver", r, chunk, pos, head, line)
        p.stamp(line, head, "run_start", r)
    elif msg.startswith(W.NET_ECHO):
        line, thread = p.line_at(chunk, pos), thread_of(head)
        outer = p.builders.get(thread)
        if outer is not None and not p.ended and outer.layer_in_set_up():
            net = nested_net(p, outer, thread, line)
        else:
            net = new_net(p, thread, line)
        net.param_line = line
        p.open_block("net", net, chunk, pos, head, line)
    else:
        return False
    return True


def network_done(p: ParseState, chunk: bytes, pos: int, head: bytes, msg: bytes) -> bool:
    if not msg.startswith(W.NET_DONE):
        return False
    thread = thread_of(head)
    b = p.builders.pop(thread, None)
    if b is not None:
        b.net.done = True
        if b.outer is not None:
            p.builders[thread] = b.outer
        p.event("net_done", p.line_at(chunk, pos), net=b.net.index)
    return True


def net_produces(p: ParseState, chunk: bytes, pos: int, head: bytes, msg: bytes) -> bool:
    if not msg.startswith(W.NET_PRODUCES):
        return False
    b = p.builders.get(thread_of(head))
    if b is not None:
        b.net.outputs.append(text(msg[29:].strip()) or "")
        p.event("net_output", p.line_at(chunk, pos), net=b.net.index, blob=b.net.outputs[-1])
    return True


def filtered_by_rule(p: ParseState, chunk: bytes, pos: int, head: bytes, msg: bytes) -> bool:
    m = W.FILTERED_BY_RULE.match(msg)
    if m:
        p.pending_net.setdefault(thread_of(head), {}).setdefault("filtered", []).append(text(m.group(1).strip()))
    return m is not None


# --------------------------------------------------------------------------------------------- runs
def snapshotting(p: ParseState, chunk: bytes, pos: int, head: bytes, msg: bytes) -> bool:
    if not msg.startswith(W.SNAPSHOTTING):
        return False
    rest, kind = msg[13:], "weights"
    if rest.startswith(W.SNAPSHOT_SOLVER_STATE):
        kind, rest = "solverstate", rest[13:]
    if not rest.startswith(b"to "):
        return False
    rest, fmt = rest[3:], None
    for wording, name in W.SNAPSHOT_FORMATS:
        if rest.startswith(wording):
            fmt, rest = name, rest[len(wording):]
    file = text(rest.strip()) or ""
    line = p.line_at(chunk, pos)
    run = p.current_run("continued", line)
    p.active = True
    m = W.ITERATION_IN_FILE_NAME.search(file)
    p.snapshots.append({"run": run.index, "iteration": None if m is None else int(m.group(1)), "kind": kind,
                        "format": fmt, "file": file, "line": line})
    p.event("snapshot", line, iteration=p.snapshots[-1]["iteration"], kind=kind, format=fmt, file=file)
    return True


def optimization_ended(p: ParseState, chunk: bytes, pos: int, head: bytes, msg: bytes) -> bool:
    done = msg.startswith(W.OPTIMIZATION_DONE)
    if not done and not msg.startswith(W.STOPPED_EARLY):
        return False
    line = p.line_at(chunk, pos)
    r = p.run if p.run is not None else p.new_run("start", line)
    if done:
        r.done = True
    else:
        r.stopped_early = True
    p.end_run()
    p.event("done", line, early=r.stopped_early)
    return True


def solving(p: ParseState, chunk: bytes, pos: int, head: bytes, msg: bytes) -> bool:
    if msg.startswith(W.SOLVING):
        line = p.line_at(chunk, pos)
        r = p.current_run("continued", line)
        r.net_name = text(msg[7:].strip()) or r.net_name
        r.solving_line = line
        p.active = True
        p.stamp(line, head, "solving", r)
        p.event("solving", line, net_name=r.net_name)
        return True
    return msg.startswith(W.SCAFFOLDING_DONE)


def restoring(p: ParseState, chunk: bytes, pos: int, head: bytes, msg: bytes) -> bool:
    for wording, kind in W.RESTORES:
        if msg.startswith(wording):
            file = text(msg[len(wording):].strip()) or ""
            line = p.line_at(chunk, pos)
            r = p.run
            if r is None or p.ended or p.active:
                r = p.new_run(kind, line)
                p.stamp(line, head, "run_start", r)
            if kind == "resume":
                r.resumed_from = r.resumed_from or file
            else:
                r.finetuned_from = file
            p.restores.append({"run": r.index, "kind": kind, "file": file, "line": line})
            p.event("restore", line, kind=kind, file=file)
            return True
    return msg.startswith(W.RESTARTING_PREFETCH)


def lr_policy(p: ParseState, chunk: bytes, pos: int, head: bytes, msg: bytes) -> bool:
    if msg.startswith(W.LR_POLICY):
        p.current_run("continued", p.line_at(chunk, pos)).lr_policy = text(msg[22:].strip())
        return True
    return False


def check_failed(p: ParseState, chunk: bytes, pos: int, head: bytes, msg: bytes) -> bool:
    if not msg.startswith(W.CHECK_FAILED):
        return False
    line, says = p.line_at(chunk, pos), text(msg) or ""
    p.message(line, "F", says)
    p.fatal(says, line, chunk, pos, head)
    return True


HANDLERS: dict[bytes, Handler] = {
    b"Iter": testing_or_time_iteration, b"    ": net_output_or_loss_weight, b"Trai": net_output_or_loss_weight,
    b"Test": test_lines, b"Top ": top_shape, b"Memo": memory, b"Crea": creating,
    b"Sett": lambda p, chunk, pos, head, msg: msg.startswith(W.SETTING_UP), b"Init": initializing,
    b"Netw": network_done, b"This": net_produces, b"Snap": snapshotting, b"Opti": optimization_ended,
    b"Solv": solving, b"Rest": restoring, b"Resu": restoring, b"Fine": restoring, b"Lear": lr_policy,
    b"Chec": check_failed, b"The ": filtered_by_rule, b"Runn": running_for, b"Batc": test_batch,
    b"Loss": test_result, b"Aver": time_line, b"Tota": time_line, b"*** ": benchmark_ends,
}
