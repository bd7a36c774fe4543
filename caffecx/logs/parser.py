"""Streaming extraction of what Caffe's glog output says: runs, nets, layers, training and tests.

`LogParser` is fed bytes in chunks (a file is read 4 MB at a time, so memory stays flat in the file
size apart from the tables themselves) and `LogParser.close` returns a `caffecx.logs.CaffeLog`.

Speed: a training log is mostly per-iteration lines (``Iteration N, loss = x``, ``Train net output
#k: name = v``, ``Iteration N, lr = x``). `caffecx.logs.fastscan` finds every line and the kind of its
message with numpy and parses those three kinds without a Python loop; every other glog line goes,
in file order, to a dispatch on the first bytes of its message (`LogParser._rest`) and only then to a
regex. The same dispatch handles every line when events are wanted (``line_by_line``); both paths give
the same result. A file of 32 MB or more is cut at display lines and its parts are parsed in parallel
processes (`parse_log`, `merge_parsers`).

The wordings reproduced are those of BVLC Caffe's ``solver.cpp``, ``sgd_solver.cpp``, ``net.cpp``,
``caffe.cpp`` and ``layer_factory.hpp`` from 2014 to 2017 (and forks that kept them): the 2014
``Iteration N, Testing net`` / ``Test score #k: v`` / ``Top shape: C H W``, the 2015+ ``Test net
output #k: name = v (* w = c loss)`` / ``Top shape: N C H W (count)``, and 2017's ``Iteration N
(x iter/s, ys/n iters), loss = l``.
"""

from __future__ import annotations

import gc
import io
import itertools
import os
import re
from collections.abc import Callable, Iterable, Iterator, Sequence
from itertools import compress
from pathlib import Path
from typing import IO, TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from caffecx.errors import CaffecxError
from caffecx.logs import glog
from caffecx.logs.records import (
    Event,
    LayerRecord,
    LogMessage,
    NetLog,
    RunLog,
    echo_name,
    echo_phase,
)

if TYPE_CHECKING:  # pragma: no cover
    from caffecx.logs.tables import CaffeLog

CHUNK_SIZE = 4 << 20
_MAX_LINE = 1 << 20  # a "line" longer than this without a newline is cut (garbage input)

_N = rb"[^\s,]+"  # a number as Caffe prints it (1.47955e+09, nan, -inf, ...)
_ANY = re.compile(rb"\] ([^\n]*)")  # every glog line, for the generic (event-emitting) scan
_SPECIAL = re.compile(rb"\*\*\* (?:Aborted at|SIG[A-Z]+ |Check failure stack trace)")

# generic forms (the rare kinds, and every kind for the event-emitting scan)
_RE_LR = re.compile(rb"Iteration (\d{1,18}), lr = (" + _N + rb")")
_RE_LOSS = re.compile(rb"Iteration (\d{1,18})(?: \((" + _N + rb") iter/s, ([^\s,]+?)s/(\d{1,18}) iters?\))?"
                      rb", loss = (" + _N + rb")")
_RE_TESTING = re.compile(rb"(?:Iteration (\d{1,18}), )?Testing net(?: \(#(\d{1,9})\))?")
_RE_OUTPUT = re.compile(rb"(Train|Test) net output #(\d{1,9}): (.+?) = (" + _N + rb")"
                        rb"(?: \(\* (" + _N + rb") = (" + _N + rb") loss\))?")
_RE_SCORE = re.compile(rb"Test score #(\d{1,9}): (" + _N + rb")")
_RE_SHAPE = re.compile(rb"Top shape:((?: \d{1,18})*)(?: \((\d{1,20})\))?")
_RE_MEM = re.compile(rb"Memory required for data: (\d{1,20})")
_RE_BOTTOM = re.compile(rb"(\S+) <- (\S+)")  # the same forms as the fast scan's
_RE_TOP = re.compile(rb"(\S+) -> (\S+)( \(in-place\))?")
_RE_BW = re.compile(rb"(\S+) (needs|does not need) backward computation\.")
_RE_TEST_NET = re.compile(rb"Creating test net \(#(\d{1,9})\) (.*)")
_RE_FILTERED = re.compile(rb"The NetState .* specified by a rule in layer (.+)")
_RE_ITER_IN_NAME = re.compile(r"_iter_(\d{1,18})(?:\D|$)")


def _s(b: bytes | None) -> str | None:
    return None if b is None else b.decode("utf-8", "replace")


def _thread_at(chunk: bytes, ls: int, pos: int) -> bytes | None:
    """The thread id of the glog prefix ending at ``pos`` (``... 24067 net.cpp:322``)."""
    j = chunk.rfind(b" ", ls, pos)
    if j < 0:
        return None
    while j > ls and chunk[j - 1] == 32:
        j -= 1
    i = chunk.rfind(b" ", ls, j)
    tok = chunk[i + 1:j] if i >= 0 else chunk[ls:j]
    return tok if tok.isdigit() else None


def _thread(head: bytes) -> bytes | None:
    return _thread_at(head, 0, len(head))


def _f(b: bytes | None) -> float:
    if b is None:
        return float("nan")
    try:
        return float(b)
    except ValueError:
        return float("nan")


def _parse_floats(vals: list[bytes]) -> tuple[np.ndarray, np.ndarray | None]:
    """Many number strings at once: pandas' C parser for large batches (about 3x ``float()``'s speed),
    ``float()`` for small ones or when a value is not a number (then its mask bit is set)."""
    n = len(vals)
    if n >= 4096:
        try:
            out = pd.read_csv(io.BytesIO(b"\n".join(vals)), header=None, dtype=np.float64, engine="c",
                              sep="\x01", quoting=3, skip_blank_lines=False, keep_default_na=False,
                              na_values=["nan", "-nan", "NaN", "-NaN"]).iloc[:, 0].to_numpy()
            if len(out) == n:
                return out, None
        except (ValueError, TypeError, IndexError, pd.errors.ParserError):
            pass
    try:
        return np.fromiter(map(float, vals), np.float64, count=n), None
    except ValueError:
        out = np.empty(n)
        bad = np.zeros(n, dtype=bool)
        for i, v in enumerate(vals):
            try:
                out[i] = float(v)
            except ValueError:
                out[i] = np.nan
                bad[i] = True
        return out, bad


class FloatBatch:
    """Columns of numbers as bytes (None or ``b""`` = not logged), converted to float64 in one go.

    ``add`` returns a handle; after ``run`` each handle's ``get`` gives (values, missing mask).
    Exponents, ``nan``, ``-nan`` and ``inf`` are kept."""

    def __init__(self) -> None:
        self._vals: list[bytes] = []
        self._cols: list[tuple[int, np.ndarray | None, int, int]] = []
        self._parsed: np.ndarray | None = None
        self._bad: np.ndarray | None = None

    def add(self, col: Sequence[bytes | None], present: np.ndarray | None = None) -> int:
        n = len(col)
        if present is None:
            present = np.fromiter(map(bool, col), bool, count=n)
        npres = int(present.sum())
        start = len(self._vals)
        if npres == n:
            self._vals += col  # type: ignore[arg-type]
            self._cols.append((n, None, start, n))
        else:
            if npres:
                self._vals += compress(col, present)  # type: ignore[arg-type]
            self._cols.append((n, present, start, npres))
        return len(self._cols) - 1

    def run(self) -> None:
        self._parsed, self._bad = _parse_floats(self._vals) if self._vals else (np.empty(0), None)
        self._vals = []

    def get(self, handle: int) -> tuple[np.ndarray, np.ndarray]:
        assert self._parsed is not None
        n, present, start, count = self._cols[handle]
        v = self._parsed[start:start + count]
        b = None if self._bad is None else self._bad[start:start + count]
        if present is None:
            return v, (np.zeros(n, dtype=bool) if b is None else b.copy())
        full = np.full(n, np.nan)
        full[present] = v
        missing = ~present
        if b is not None:
            missing[present] |= b
        return full, missing


def floats(vals: Sequence[bytes | None]) -> tuple[np.ndarray, np.ndarray]:
    """One column of bytes -> (float64 values, missing mask); see `FloatBatch`."""
    batch = FloatBatch()
    h = batch.add(vals)
    batch.run()
    return batch.get(h)


def ints(vals: Sequence[bytes | None]) -> np.ndarray:
    """Digit strings (at most 18 digits, by the regexes) -> int64; -1 for the missing ones."""
    n = len(vals)
    if n == 0:
        return np.empty(0, dtype=np.int64)
    present = np.fromiter(map(bool, vals), bool, count=n)
    if present.all():
        return np.fromiter(map(int, vals), np.int64, count=n)  # type: ignore[arg-type]
    out = np.full(n, -1, dtype=np.int64)
    if present.any():
        out[present] = np.fromiter(map(int, compress(vals, present)), np.int64,  # type: ignore[arg-type]
                                   count=int(present.sum()))
    return out


def ints_cached(vals: Sequence[bytes | None]) -> np.ndarray:
    """`ints` for a column with few distinct values (output indices)."""
    table = {u: int(u) if u else -1 for u in set(vals)}
    return np.fromiter(map(table.__getitem__, vals), np.int64, count=len(vals))


def add_top_shape(rec: LayerRecord, dims: bytes, count: bytes | None, line: int) -> list[int]:
    """Record one ``Top shape: d0 d1 ... (count)`` line on its layer (2014's ``Top shape: C H W`` has
    no count and marks the record's shapes as legacy); returns the shape."""
    shape = [int(x) for x in dims.split()]
    rec.top_shapes.append(shape)
    rec.top_counts.append(None if count is None else int(count))
    rec.loss_weights.append(0.0)
    rec.top_shape_lines.append(line)
    if count is None and shape:
        rec.legacy_shapes = True
    return shape


def glog_line_at(chunk: bytes, pos: int) -> bool:
    """Whether the line holding ``pos`` has a glog prefix (where a multi-line echo ends)."""
    ls = chunk.rfind(b"\n", 0, pos) + 1
    le = chunk.find(b"\n", pos)
    return glog.PREFIX_RE.search(chunk, ls, len(chunk) if le < 0 else le) is not None


def special_lines(chunk: bytes) -> list[tuple[int, bytes]]:
    """``*** Aborted at ...`` / ``*** SIGTERM ...`` / ``*** Check failure stack trace: ***`` lines (glog's
    failure handlers; not glog lines themselves): (line start, line) in order."""
    out: list[tuple[int, bytes]] = []
    for m in _SPECIAL.finditer(chunk):  # (re's scan is faster than repeated bytes.find of "***")
        i = m.start()
        ls = chunk.rfind(b"\n", 0, i) + 1
        if chunk.find(b"***", ls, i + 3) != i:
            continue  # only the first "***" of a line counts
        le = chunk.find(b"\n", i)
        le = len(chunk) if le < 0 else le
        if b"] " not in chunk[ls:i] and (not out or out[-1][0] != ls):
            out.append((ls, chunk[ls:le]))
    return out


class _Builder:
    """The net a thread is setting up, and the layer it is on."""

    __slots__ = ("net", "cur")

    def __init__(self, net: NetLog) -> None:
        self.net = net
        self.cur: LayerRecord | None = None


class _Block:
    """Lines without a glog prefix that continue a message: a parameter echo or a stack trace."""

    __slots__ = ("kind", "target", "parts", "start", "strip", "line")

    def __init__(self, kind: str, target: Any, start: int, strip: bytes, line: int) -> None:
        self.kind = kind
        self.target = target
        self.parts: list[bytes] = []
        self.start = start
        self.strip = strip
        self.line = line


class LogParser:
    """Incremental parser: ``feed(bytes)`` as often as needed, then ``close()`` for the `CaffeLog`.

    ``on_event`` (optional) receives an `Event` for every fact in file order; with it (or with
    ``line_by_line=True``) the parser dispatches every line in Python -- slower, the same result.
    """

    def __init__(self, *, path: str | None = None, on_event: Callable[[Event], None] | None = None,
                 line_by_line: bool = False, collect: bool = True) -> None:
        self.path = path
        self._emit = on_event
        self._collect = collect  # False: report events only, keep no tables (memory flat in the file size)
        self._line_by_line = line_by_line or on_event is not None
        self._rem = b""
        self._lines = 0  # newlines consumed before the current chunk
        self._ln = 0  # newlines before self._lastpos (absolute)
        self._lastpos = 0
        self.glog_lines = 0
        self.orphans = 0  # Train net output lines with no Iteration line before them in their run
        self.runs: list[RunLog] = []
        self.nets: list[NetLog] = []
        self.tests: list[dict[str, Any]] = []
        self.snapshots: list[dict[str, Any]] = []
        self.restores: list[dict[str, Any]] = []
        self.messages: list[LogMessage] = []
        self.timed: list[tuple[int, bytes, str, Any]] = []  # (line, head, what, target), stamped at close
        self._run: RunLog | None = None
        self._ended = False
        self._active = False  # the current run has trained / tested / snapshotted
        self._cur = -1  # current train row (global index), for Train net output lines
        self._nrows = 0
        self._test: dict[str, Any] | None = None
        self._builders: dict[bytes | None, _Builder] = {}
        self._pending: dict[bytes | None, dict[str, Any]] = {}
        self._block: _Block | None = None
        self._new_chunk_lists()
        self.row_parts: list[dict[str, np.ndarray]] = []
        self.lr_parts: list[dict[str, np.ndarray]] = []
        self.out_parts: list[dict[str, np.ndarray]] = []
        self.out_names: dict[bytes, int] = {}
        self.closed = False
        self._result: Any = None

    # ------------------------------------------------------------------ feeding
    def feed(self, data: bytes) -> None:
        """Consume more bytes of the log (any split: a partial last line is kept for later)."""
        if not data:
            return
        buf = self._rem + data if self._rem else bytes(data)
        k = buf.rfind(b"\n")
        if k < 0:
            if len(buf) <= _MAX_LINE:
                self._rem = buf
                return
            buf, k = buf + b"\n", len(buf)
        self._rem = buf[k + 1:]
        self._chunk(buf[:k + 1])

    def finish(self) -> None:
        """Parse what is left (a truncated last line as it is) and end any open echo or trace."""
        if not self.closed:
            if self._rem:
                rem, self._rem = self._rem, b""
                self._chunk(rem + b"\n")
            if self._block is not None:
                self._end_block(b"", 0)
            self.closed = True

    def close(self) -> CaffeLog:
        """Finish and return the `CaffeLog` (built once; the parser's columns are released)."""
        self.finish()
        if self._result is None:
            from caffecx.logs.tables import build_log

            self._result = build_log(self)
        return self._result

    def _chunk(self, chunk: bytes) -> None:
        was = gc.isenabled()
        gc.disable()  # many short-lived objects; the cyclic GC would only slow the scan down
        try:
            self._ln = self._lines
            self._lastpos = 0
            if not self._line_by_line:
                from caffecx.logs.fastscan import scan_chunk

                lines = scan_chunk(self, chunk)
            else:
                lines = chunk.count(b"\n")
                start = 0
                if b"*** " in chunk:
                    for ls, raw in special_lines(chunk):
                        self._scan_generic(chunk, start, ls)
                        self._ln, self._lastpos = self._lines + chunk.count(b"\n", 0, ls), ls
                        self._special(chunk, ls, raw)
                        start = ls + len(raw)
                self._scan_generic(chunk, start, len(chunk))
            blk = self._block
            if blk is not None:
                blk.parts.append(chunk[blk.start:])
                blk.start = 0
            self._flush(chunk)
            self._lines += lines
        finally:
            if was:
                gc.enable()

    # ------------------------------------------------------------------ the generic scan
    def _scan_generic(self, chunk: bytes, start: int, end: int) -> None:
        for m in _ANY.finditer(chunk, start, end):
            if self._block is not None:
                if not glog_line_at(chunk, m.start()):
                    continue  # an echo line with "] " in it (``[worker 1]   base_lr: 0.01``)
                self._end_block(chunk, m.start())
            self.glog_lines += 1
            self._rest(chunk, m.start(), m.group(1))

    def _line_at(self, chunk: bytes, pos: int) -> int:
        """1-based line number of the line holding ``pos`` (positions never go backwards in a chunk)."""
        if pos > self._lastpos:
            self._ln += chunk.count(b"\n", self._lastpos, pos)
            self._lastpos = pos
        return self._ln + 1

    # ------------------------------------------------------------------ the rest: dispatch
    def _rest(self, chunk: bytes, pos: int, msg: bytes, head: bytes | None = None, depth: int = 0) -> None:
        """Any glog line the fast scan did not take: dispatch on the first bytes of the message."""
        if head is None:
            head = chunk[chunk.rfind(b"\n", 0, pos) + 1:pos]
        if msg[-1:] == b"\r":
            msg = msg.rstrip(b"\r")
        try:
            handler = _DISPATCH.get(msg[:4])
            if handler is not None and handler(self, chunk, pos, head, msg):
                return
            self._other(chunk, pos, head, msg, depth)
        except (ValueError, IndexError, OverflowError, UnicodeError) as err:  # never raise on bad input
            self._message(self._line_at(chunk, pos), "W", f"caffecx: unreadable line ({err})")

    def _other(self, chunk: bytes, pos: int, head: bytes, msg: bytes, depth: int) -> None:
        m = _RE_BOTTOM.fullmatch(msg)
        if m:
            self._bottom(_thread(head), m.group(1), m.group(2))
            return
        m = _RE_TOP.fullmatch(msg)
        if m:
            self._top(_thread(head), m.group(1), m.group(2), m.group(3) is not None)
            return
        m = _RE_BW.fullmatch(msg)
        if m:
            self._backward(_thread(head), m.group(1), m.group(2) == b"needs")
            return
        prefix = glog.parse_head(head)
        if prefix is None:
            line = self._line_at(chunk, pos)
            if b"[libprotobuf " in head:
                sev = "E" if (b" ERROR " in head or b" FATAL " in head) else "W"
                self._message(line, sev, _s(head[head.find(b"[libprotobuf "):] + b"] " + msg) or "")
                return
            # text in front of the real prefix that itself ends in "] " (``[worker 1] I0601 ...``)
            if depth == 0:
                full = head + b"] " + msg
                m2 = glog.PREFIX_RE.search(full, len(head) + 2)
                if m2 is not None:
                    self._rest(chunk, pos - len(head) + m2.end() - 2, full[m2.end():], full[:m2.end() - 2], 1)
            return
        if prefix.severity in "WEF":
            line = self._line_at(chunk, pos)
            text = _s(msg) or ""
            self._message(line, prefix.severity, text)
            if prefix.severity == "F":
                self._fatal(text, line, chunk, pos, head)

    # ------------------------------------------------------------------ rare handlers
    def _d_iter(self, chunk: bytes, pos: int, head: bytes, msg: bytes) -> bool:
        m = _RE_LR.match(msg)
        if m:
            self._lr(m.group(1), m.group(2))
            return True
        m = _RE_LOSS.match(msg)
        if m:
            line = self._line_at(chunk, pos)
            run = self._run_for("continued", line)
            self._active = True
            self._B[0].append(pos)
            self._B[1].append(m.group(1, 2, 3, 4, 5))
            self._B[2].append(run.index)
            self._B[3].append(self._nrows)
            self._cur = self._nrows
            self._nrows += 1
            if self._emit is not None:
                self._event("train", line, iteration=int(m.group(1)), loss=_f(m.group(5)),
                            iters_per_s=_f(m.group(2)), s_per_interval=_f(m.group(3)),
                            interval_iters=None if m.group(4) is None else int(m.group(4)))
            return True
        m = _RE_TESTING.match(msg)
        if m:
            self._test_start(chunk, pos, m.group(1), m.group(2))
            return True
        return msg.startswith(b"Iteration: ")  # ``caffe time``: per-iteration forward-backward time

    def _d_test(self, chunk: bytes, pos: int, head: bytes, msg: bytes) -> bool:
        m = _RE_TESTING.match(msg)
        if m:
            self._test_start(chunk, pos, None, m.group(2))
            return True
        if msg.startswith(b"Test net output"):
            return self._d_indented(chunk, pos, head, msg)
        m = _RE_SCORE.match(msg)
        if m:
            self._test_output(chunk, pos, head, m.group(1), b"score_" + m.group(1), m.group(2), None, None)
            return True
        if msg.startswith(b"Test loss: "):
            self._test_output(chunk, pos, head, None, b"test_loss", msg[11:].strip(), None, None)
            return True
        if msg.startswith(b"Test interrupted"):
            if self._test is not None:
                self._test["interrupted"] = True
            self._event("test_interrupted", self._line_at(chunk, pos))
            return True
        return False

    def _d_indented(self, chunk: bytes, pos: int, head: bytes, msg: bytes) -> bool:
        body = msg.lstrip()
        m = _RE_OUTPUT.match(body)
        if m:
            kind, idx, name, val, w, c = m.groups()
            if kind == b"Test":
                self._test_output(chunk, pos, head, idx, name, val, w, c)
            else:
                self._train_output(idx, name, val, w, c)
            return True
        if body.startswith(b"with loss weight "):
            b = self._builders.get(_thread(head))
            if b is not None and b.cur is not None and b.cur.loss_weights:
                toks = body[17:].split()
                b.cur.loss_weights[-1] = _f(toks[0] if toks else None)
                self._event("loss_weight", None, net=b.net.index, layer=b.cur.name, weight=b.cur.loss_weights[-1])
            return True
        return False

    def _d_top(self, chunk: bytes, pos: int, head: bytes, msg: bytes) -> bool:
        m = _RE_SHAPE.fullmatch(msg.rstrip())
        if m:
            self._shape(_thread(head), m.group(1), m.group(2), self._line_at(chunk, pos))
            return True
        return False

    def _d_memory(self, chunk: bytes, pos: int, head: bytes, msg: bytes) -> bool:
        m = _RE_MEM.match(msg)
        if m:
            self._memory(_thread(head), m.group(1), self._line_at(chunk, pos))
            return True
        return False

    def _d_creating(self, chunk: bytes, pos: int, head: bytes, msg: bytes) -> bool:
        if msg.startswith(b"Creating Layer "):
            self._create(_thread(head), msg[15:].strip(), self._line_at(chunk, pos))
            return True
        if msg.startswith(b"Creating layer "):
            return True  # layer_factory.hpp (also for layers a layer creates inside itself)
        if msg.startswith(b"Creating training net "):
            line = self._line_at(chunk, pos)
            self._net_designation(head, "TRAIN", None, msg[22:], line)
            return True
        m = _RE_TEST_NET.match(msg)
        if m:
            line = self._line_at(chunk, pos)
            self._net_designation(head, "TEST", int(m.group(1)), m.group(2), line)
            return True
        return False

    def _d_init(self, chunk: bytes, pos: int, head: bytes, msg: bytes) -> bool:
        if msg.startswith(b"Initializing solver from parameters"):
            line = self._line_at(chunk, pos)
            r = self._run
            if r is None or self._ended or self._active or r.solver_text is not None or r.nets:
                r = self._new_run("solver", line)
            r.solver_line = line
            self._open_block("solver", r, chunk, pos, head, line)
            self._stamp(line, head, "run_start", r)
            return True
        if msg.startswith(b"Initializing net from parameters"):
            line = self._line_at(chunk, pos)
            net = self._new_net(_thread(head), line)
            net.param_line = line
            self._open_block("net", net, chunk, pos, head, line)
            return True
        return False

    def _d_network(self, chunk: bytes, pos: int, head: bytes, msg: bytes) -> bool:
        if msg.startswith(b"Network initialization done"):
            b = self._builders.pop(_thread(head), None)
            if b is not None:
                b.net.done = True
                self._event("net_done", self._line_at(chunk, pos), net=b.net.index)
            return True
        return False

    def _d_this(self, chunk: bytes, pos: int, head: bytes, msg: bytes) -> bool:
        if msg.startswith(b"This network produces output "):
            b = self._builders.get(_thread(head))
            if b is not None:
                blob = _s(msg[29:].strip()) or ""
                b.net.outputs.append(blob)
                self._event("net_output", self._line_at(chunk, pos), net=b.net.index, blob=blob)
            return True
        return False

    def _d_snapshot(self, chunk: bytes, pos: int, head: bytes, msg: bytes) -> bool:
        if not msg.startswith(b"Snapshotting "):
            return False
        rest = msg[13:]
        kind = "weights"
        if rest.startswith(b"solver state "):
            kind, rest = "solverstate", rest[13:]
        if not rest.startswith(b"to "):
            return False
        rest = rest[3:]
        fmt = None
        if rest.startswith(b"binary proto file "):
            fmt, rest = "binaryproto", rest[18:]
        elif rest.startswith(b"HDF5 file "):
            fmt, rest = "hdf5", rest[10:]
        file = _s(rest.strip()) or ""
        line = self._line_at(chunk, pos)
        run = self._run_for("continued", line)
        self._active = True
        m = _RE_ITER_IN_NAME.search(file)
        row = {"run": run.index, "iteration": None if m is None else int(m.group(1)), "kind": kind,
               "format": fmt, "file": file, "line": line}
        self.snapshots.append(row)
        self._event("snapshot", line, **{k: v for k, v in row.items() if k not in ("run", "line")})
        return True

    def _d_optimization(self, chunk: bytes, pos: int, head: bytes, msg: bytes) -> bool:
        if msg.startswith(b"Optimization Done"):
            line = self._line_at(chunk, pos)
            r = self._run if self._run is not None else self._new_run("start", line)
            r.done = True
        elif msg.startswith(b"Optimization stopped early"):
            line = self._line_at(chunk, pos)
            r = self._run if self._run is not None else self._new_run("start", line)
            r.stopped_early = True
        else:
            return False
        self._ended = True
        self._cur = -1
        self._test = None
        self._event("done", line, early=r.stopped_early)
        return True

    def _d_solv(self, chunk: bytes, pos: int, head: bytes, msg: bytes) -> bool:
        if msg.startswith(b"Solving"):
            line = self._line_at(chunk, pos)
            r = self._run_for("continued", line)
            r.net_name = _s(msg[7:].strip()) or r.net_name
            r.solving_line = line
            self._active = True
            self._stamp(line, head, "solving", r)
            self._event("solving", line, net_name=r.net_name)
            return True
        return msg.startswith(b"Solver scaffolding done")

    def _d_resume(self, chunk: bytes, pos: int, head: bytes, msg: bytes) -> bool:
        for prefix, kind in ((b"Resuming from ", "resume"), (b"Restoring previous solver status from ", "resume"),
                             (b"Finetuning from ", "finetune")):
            if msg.startswith(prefix):
                file = _s(msg[len(prefix):].strip()) or ""
                line = self._line_at(chunk, pos)
                r = self._run
                if r is None or self._ended or self._active:
                    r = self._new_run(kind, line)
                    self._stamp(line, head, "run_start", r)
                if kind == "resume":
                    r.resumed_from = r.resumed_from or file
                else:
                    r.finetuned_from = file
                self.restores.append({"run": r.index, "kind": kind, "file": file, "line": line})
                self._event("restore", line, kind=kind, file=file)
                return True
        return msg.startswith(b"Restarting data prefetching")

    def _d_lr_policy(self, chunk: bytes, pos: int, head: bytes, msg: bytes) -> bool:
        if msg.startswith(b"Learning Rate Policy: "):
            r = self._run_for("continued", self._line_at(chunk, pos))
            r.lr_policy = _s(msg[22:].strip())
            return True
        return False

    def _d_check(self, chunk: bytes, pos: int, head: bytes, msg: bytes) -> bool:
        if msg.startswith(b"Check failed"):
            line = self._line_at(chunk, pos)
            text = _s(msg) or ""
            self._message(line, "F", text)
            self._fatal(text, line, chunk, pos, head)
            return True
        return False

    def _d_the(self, chunk: bytes, pos: int, head: bytes, msg: bytes) -> bool:
        m = _RE_FILTERED.match(msg)
        if m:
            pend = self._pending.setdefault(_thread(head), {})
            pend.setdefault("filtered", []).append(_s(m.group(1).strip()))
            return True
        return False

    # ------------------------------------------------------------------ training lines (not in a block)
    def _lr(self, it: bytes, val: bytes) -> None:
        run = self._run_for("continued", None)
        self._active = True
        self._R[0].append(run.index)
        self._R[1].append(it)
        self._R[2].append(val)
        if self._emit is not None:
            self._event("lr", None, iteration=int(it), lr=_f(val))

    def _train_output(self, idx: bytes, name: bytes, val: bytes, w: bytes | None, c: bytes | None) -> None:
        if self._cur < 0 or self._run is None or self._ended:
            self.orphans += 1
            return
        outs = self._O
        outs[0].append(self._cur)
        outs[1].append(idx)
        outs[2].append(name)
        outs[3].append(val)
        outs[4].append(w)
        outs[5].append(c)
        if self._emit is not None:
            self._event("train_output", None, index=int(idx), name=_s(name), value=_f(val),
                        loss_weight=None if w is None else _f(w), weighted=None if c is None else _f(c))

    # ------------------------------------------------------------------ runs, nets, layers
    def _new_run(self, reason: str, line: int | None) -> RunLog:
        self._builders.clear()
        self._pending.clear()
        r = RunLog(index=len(self.runs), line=line, reason=reason)
        self.runs.append(r)
        self._run = r
        self._ended = False
        self._active = False
        self._cur = -1
        self._test = None
        self._event("run_start", line, reason=reason)
        return r

    def _run_for(self, reason: str, line: int | None) -> RunLog:
        if self._run is None or self._ended:
            return self._new_run(reason, line)
        return self._run

    def _net_designation(self, head: bytes, phase: str, test_index: int | None, source: bytes, line: int) -> None:
        if self._run is None or self._ended:
            self._new_run("net", line)
        thread = _thread(head)
        self._builders.pop(thread, None)
        pend = self._pending.setdefault(thread, {})
        pend.update(phase=phase, test_index=test_index, source=_s(source.strip().rstrip(b".")))

    def _new_net(self, thread: bytes | None, line: int | None) -> NetLog:
        r = self._run
        if r is None or self._ended:
            r = self._new_run("net", line)
        self._builders.pop(thread, None)
        pend = self._pending.pop(thread, {})
        net = NetLog(index=len(self.nets), run=r.index, phase=pend.get("phase"), test_index=pend.get("test_index"),
                     source=pend.get("source"), line=line, thread=_s(thread))
        net.filtered_layers.extend(pend.get("filtered", []))
        self.nets.append(net)
        r.nets.append(net.index)
        self._builders[thread] = _Builder(net)
        self._event("net_start", line, net=net.index, phase=net.phase, test_index=net.test_index,
                    source=net.source)
        return net

    def _create(self, thread: bytes | None, name: bytes, line: int) -> None:
        b = self._builders.get(thread)
        if b is None:
            self._new_net(thread, line)
            b = self._builders[thread]
        rec = LayerRecord(name=_s(name) or "", line=line)
        b.net.layers.append(rec)
        b.net._by_name[rec.name] = rec
        b.cur = rec
        if self._emit is not None:
            self._event("layer", line, net=b.net.index, layer=rec.name)

    def _layer(self, thread: bytes | None, name: bytes) -> tuple[NetLog, LayerRecord] | None:
        b = self._builders.get(thread)
        if b is None:
            return None
        rec = b.net._by_name.get(_s(name) or "")
        return None if rec is None else (b.net, rec)

    def _bottom(self, thread: bytes | None, layer: bytes, blob: bytes) -> None:
        found = self._layer(thread, layer)
        if found is not None:
            found[1].bottoms.append(_s(blob) or "")
            if self._emit is not None:
                self._event("bottom", None, net=found[0].index, layer=found[1].name, blob=found[1].bottoms[-1])

    def _top(self, thread: bytes | None, layer: bytes, blob: bytes, in_place: bool) -> None:
        found = self._layer(thread, layer)
        if found is not None:
            found[1].tops.append(_s(blob) or "")
            found[1].in_place.append(in_place)
            if self._emit is not None:
                self._event("top", None, net=found[0].index, layer=found[1].name, blob=found[1].tops[-1],
                            in_place=in_place)

    def _shape(self, thread: bytes | None, dims: bytes, count: bytes | None, line: int) -> None:
        b = self._builders.get(thread)
        if b is None or b.cur is None:
            return
        rec = b.cur
        shape = add_top_shape(rec, dims, count, line)
        if self._emit is not None:
            self._event("top_shape", line, net=b.net.index, layer=rec.name, shape=shape, count=rec.top_counts[-1])

    def _memory(self, thread: bytes | None, value: bytes, line: int) -> None:
        b = self._builders.get(thread)
        if b is None or b.cur is None:
            return
        b.cur.memory_bytes = int(value)
        b.cur.memory_line = line
        if self._emit is not None:
            self._event("memory", line, net=b.net.index, layer=b.cur.name, bytes=b.cur.memory_bytes)

    def _backward(self, thread: bytes | None, layer: bytes, needs: bool) -> None:
        found = self._layer(thread, layer)
        if found is not None:
            found[1].needs_backward = needs
            if self._emit is not None:
                self._event("backward", None, net=found[0].index, layer=found[1].name, needs=needs)

    # ------------------------------------------------------------------ tests
    def _test_start(self, chunk: bytes, pos: int, it: bytes | None, net: bytes | None) -> None:
        line = self._line_at(chunk, pos)
        r = self._run_for("continued", line)
        self._active = True
        row = {"run": r.index, "iteration": None if it is None else int(it),
               "net": 0 if net is None else int(net), "line": line, "outputs": {}, "interrupted": False}
        self.tests.append(row)
        self._test = row
        self._event("test_start", line, iteration=row["iteration"], net=row["net"])

    def _test_output(self, chunk: bytes, pos: int, head: bytes | None, idx: bytes | None, name: bytes, val: bytes,
                     w: bytes | None, c: bytes | None) -> None:
        row = self._test
        if row is None or self._ended:
            line = self._line_at(chunk, pos)
            r = self._run_for("continued", line)
            self._active = True
            row = {"run": r.index, "iteration": None, "net": None, "line": line, "outputs": {},
                   "interrupted": False}
            self.tests.append(row)
            self._test = row
        outs = row["outputs"]
        if not outs:
            if head is None:
                head = chunk[chunk.rfind(b"\n", 0, pos) + 1:pos]
            self._stamp(self._line_at(chunk, pos), head, "test", row)
        key = _s(name) or ""
        got = (None if idx is None else int(idx), _f(val), None if w is None else _f(w),
               None if c is None else _f(c), val)
        outs[key] = got
        if self._emit is not None:
            self._event("test_output", self._line_at(chunk, pos), iteration=row["iteration"], net=row["net"],
                        index=got[0], name=key, value=got[1], loss_weight=got[2], weighted=got[3])

    # ------------------------------------------------------------------ fatal errors, signals
    def _fatal(self, text: str, line: int, chunk: bytes, pos: int, head: bytes) -> None:
        r = self._run_for("fatal", line)
        if r.fatal is None:
            r.fatal, r.fatal_line = text, line
            self._open_block("fatal", r, chunk, pos, head, line)
        self._ended = True
        self._cur = -1
        self._test = None
        self._event("fatal", line, message=text)

    def _special(self, chunk: bytes, ls: int, raw: bytes) -> None:
        """``*** Aborted at ...`` / ``*** SIGTERM ... received by PID ...`` (glog's failure signal
        handler) end the run; ``*** Check failure stack trace: ***`` belongs to the F line before."""
        text = _s(raw.strip()) or ""
        if "Check failure stack trace" in text:
            return
        line = self._line_at(chunk, ls)
        r = self._run
        if r is None or (self._ended and not r.died):
            r = self._new_run("aborted", line)  # a process killed before it logged anything
        if r.aborted is None:
            r.aborted, r.abort_line = text, line
            self._message(line, "F", text)
        elif text.startswith("*** SIG"):
            r.aborted = text
        self._ended = True
        self._cur = -1
        self._test = None
        self._event("abort", line, message=text)

    def _message(self, line: int, severity: str, text: str) -> None:
        self.messages.append(LogMessage(line=line, severity=severity, message=text,
                                        run=None if self._run is None else self._run.index))
        if self._emit is not None and severity != "F":
            self._event("warning" if severity == "W" else "error", line, message=text)

    # ------------------------------------------------------------------ multi-line echoes / traces
    def _open_block(self, kind: str, target: Any, chunk: bytes, pos: int, head: bytes, line: int) -> None:
        p = glog.parse_head(head)
        strip = head[:p.column] if p is not None else b""
        eol = chunk.find(b"\n", pos)
        self._block = _Block(kind, target, len(chunk) if eol < 0 else eol + 1, strip, line)

    def _end_block(self, chunk: bytes, pos: int) -> None:
        blk = self._block
        assert blk is not None
        self._block = None
        ls = chunk.rfind(b"\n", 0, pos) + 1
        if ls > blk.start:
            blk.parts.append(chunk[blk.start:ls])
        raw = b"".join(blk.parts).replace(b"\r\n", b"\n")
        if blk.strip:
            raw = b"\n".join(ln[len(blk.strip):] if ln.startswith(blk.strip) else ln for ln in raw.split(b"\n"))
        text = raw.decode("utf-8", "replace")
        if blk.kind == "solver":
            blk.target.solver_text = text
            self._event("solver", blk.line, text=text)
        elif blk.kind == "net":
            net: NetLog = blk.target
            net.param_text = text
            net.name = echo_name(text)
            if net.phase is None:
                net.phase = echo_phase(text)
            self._event("net_param", blk.line, net=net.index, text=text, name=net.name, phase=net.phase)
        elif blk.kind == "fatal":
            blk.target.fatal_trace = text

    def _stamp(self, line: int, head: bytes, what: str, target: Any) -> None:
        self.timed.append((line, head, what, target))

    # ------------------------------------------------------------------ chunk-level columns
    def _new_chunk_lists(self) -> None:
        self._B: tuple[list[Any], ...] = ([], [], [], [])  # position, (it ips spi ni loss), run, row
        self._R: tuple[list[Any], ...] = ([], [], [])  # run it lr (lr lines outside a display block)
        self._O: tuple[list[Any], ...] = tuple([] for _ in range(6))  # row idx name value weight weighted

    def _codes(self, names: Sequence[bytes]) -> np.ndarray:
        table = self.out_names
        for u in set(names):
            table.setdefault(u, len(table))
        return np.fromiter(map(table.__getitem__, names), np.int64, count=len(names))

    def _flush(self, chunk: bytes) -> None:
        """Turn the chunk's columns of bytes from dispatched lines into numpy arrays."""
        if not self._collect:
            self._new_chunk_lists()
            del self.tests[:-1], self.snapshots[:], self.restores[:], self.messages[:], self.timed[:]
            return
        bpos, bgroups, bruns, brows = self._B
        if bpos:
            n = len(bpos)
            its, ips, spi, ni, loss = zip(*bgroups, strict=True)
            buf = np.frombuffer(chunk, dtype=np.uint8)
            pos = np.fromiter(bpos, np.int64, count=n)
            nl = np.flatnonzero(buf == 10)
            k = np.searchsorted(nl, pos)
            ls = np.where(k > 0, nl[np.maximum(k - 1, 0)] + 1, 0)
            codes, tods = glog.stamps_at(buf, ls, pos)
            batch = FloatBatch()
            handles = [batch.add(col) for col in (loss, ips, spi)]
            batch.run()
            part = {"row": np.fromiter(brows, np.int64, count=n), "run": np.fromiter(bruns, np.int64, count=n),
                    "iteration": ints(its), "interval_iters": ints(ni), "date": codes, "tod": tods,
                    "line": self._lines + k + 1, "lr": np.full(n, np.nan), "lr_missing": np.ones(n, dtype=bool)}
            for key, h in zip(("loss", "iters_per_s", "s_per_interval"), handles, strict=True):
                part[key], part[key + "_missing"] = batch.get(h)
            self.row_parts.append(part)
        rruns, rits, rvals = self._R
        if rruns:
            v, m = floats(rvals)
            self.lr_parts.append({"run": np.array(rruns, dtype=np.int64), "iteration": ints(rits), "lr": v,
                                  "lr_missing": m})
        orow = self._O[0]
        if orow:
            _, oidx, oname, oval, ow, oc = self._O
            batch = FloatBatch()
            hv, hw, hc = batch.add(oval), batch.add(ow), batch.add(oc)
            batch.run()
            val, val_m = batch.get(hv)
            wv, wm = batch.get(hw)
            cv, cm = batch.get(hc)
            self.out_parts.append({"row": np.array(orow, dtype=np.int64), "index": ints_cached(oidx),
                                   "name": self._codes(oname), "value": val, "value_missing": val_m,
                                   "loss_weight": wv, "loss_weight_missing": wm, "weighted": cv, "weighted_missing": cm})
        self._new_chunk_lists()

    # ------------------------------------------------------------------ events
    def _event(self, kind: str, line: int | None, /, **data: Any) -> None:
        if self._emit is not None:
            self._emit(Event(kind, line, None if self._run is None else self._run.index, data))


_DISPATCH: dict[bytes, Callable[[LogParser, bytes, int, bytes, bytes], bool]] = {
    b"Iter": LogParser._d_iter,
    b"    ": LogParser._d_indented,
    b"Trai": LogParser._d_indented,
    b"Test": LogParser._d_test,
    b"Top ": LogParser._d_top,
    b"Memo": LogParser._d_memory,
    b"Crea": LogParser._d_creating,
    b"Sett": lambda self, chunk, pos, head, msg: msg.startswith(b"Setting up "),
    b"Init": LogParser._d_init,
    b"Netw": LogParser._d_network,
    b"This": LogParser._d_this,
    b"Snap": LogParser._d_snapshot,
    b"Opti": LogParser._d_optimization,
    b"Solv": LogParser._d_solv,
    b"Rest": LogParser._d_resume,
    b"Resu": LogParser._d_resume,
    b"Fine": LogParser._d_resume,
    b"Lear": LogParser._d_lr_policy,
    b"Chec": LogParser._d_check,
    b"The ": LogParser._d_the,
}


# ---------------------------------------------------------------------------------------------
# Sources


Source = str | os.PathLike[str] | bytes | bytearray | IO[bytes] | IO[str] | Iterable[str] | Iterable[bytes]


def _open_path(path: str | os.PathLike[str]) -> IO[bytes]:
    p = Path(path)
    if p.is_dir():
        raise CaffecxError("is a directory, not a log file", path=str(p))
    try:
        return open(p, "rb")  # noqa: SIM115 - closed by the caller
    except FileNotFoundError:
        raise CaffecxError("no such log file", path=str(p)) from None
    except OSError as err:
        raise CaffecxError(f"cannot read log: {err.strerror or err}", path=str(p)) from None


def _cut_reads(f: IO[bytes], left: int | None) -> Iterator[bytes]:
    """Read ``f`` (``left`` bytes, or to its end) ``CHUNK_SIZE`` at a time and yield the pieces that
    `LogParser.feed` would cut the reads into: each ends with a newline, so that ``feed`` takes it as
    it is. (One copy per chunk: the reads go into one reused buffer.)"""
    rem = b""
    buf = bytearray(CHUNK_SIZE)
    view = memoryview(buf)
    while left is None or left > 0:
        want = CHUNK_SIZE if left is None else min(CHUNK_SIZE, left)
        r = len(rem)
        if len(buf) < r + want:
            view.release()
            buf = bytearray(r + want)
            view = memoryview(buf)
        view[:r] = rem
        got = f.readinto(view[r:r + want])
        if not got:
            break
        if left is not None:
            left -= got
        n = r + got
        k = buf.rfind(b"\n", 0, n)
        if k < 0:
            if n <= _MAX_LINE:
                rem = bytes(view[:n])
                continue
            yield bytes(view[:n])  # (feed cuts an over-long line itself)
            rem = b""
            continue
        yield bytes(view[:k + 1])
        rem = bytes(view[k + 1:n])
    view.release()
    if rem:
        yield rem  # (a last line without a newline: feed keeps it for finish)


def _chunks(source: Source) -> tuple[Iterator[bytes], str | None]:
    """Bytes chunks of a path, bytes, a (binary or text) file object or an iterable of lines."""
    if isinstance(source, (str, os.PathLike)):
        path = os.fspath(source)

        def read() -> Iterator[bytes]:
            with _open_path(path) as f:
                yield from _cut_reads(f, None)

        return read(), path
    if isinstance(source, (bytes, bytearray, memoryview)):
        data = bytes(source)
        return (data[i:i + CHUNK_SIZE] for i in range(0, len(data), CHUNK_SIZE)), None
    if hasattr(source, "read"):
        f: Any = source
        name = getattr(f, "name", None)

        def read_file() -> Iterator[bytes]:
            while data := f.read(CHUNK_SIZE):
                yield data.encode("utf-8", "surrogateescape") if isinstance(data, str) else data

        return read_file(), name if isinstance(name, str) else None

    def read_lines() -> Iterator[bytes]:
        buf = io.BytesIO()
        for line in source:  # type: ignore[union-attr]
            b = line.encode("utf-8", "surrogateescape") if isinstance(line, str) else bytes(line)
            buf.write(b)
            if not b.endswith(b"\n"):
                buf.write(b"\n")
            if buf.tell() >= CHUNK_SIZE:
                yield buf.getvalue()
                buf = io.BytesIO()
        if buf.tell():
            yield buf.getvalue()

    return read_lines(), None


_PARALLEL_MIN = 32 << 20  # files at least this big are split across processes
_SPLIT_WINDOW = 8 << 20
_FIRST_SHARE = 1.06
_RE_SPLIT = re.compile(rb"\] Iteration \d{1,18}(?: \([^)\n]*\))?, loss = ")


def _split_points(path: str, size: int, parts: int) -> list[int]:
    """Byte offsets where a file can be cut for parallel parsing: the start of a display line
    (``Iteration N, loss = x``). Caffe prints one only between test phases and after the nets are
    set up, so no echo, set-up or test phase is cut (the workers' parses are merged on that premise;
    ``tests/logs/test_logs_parallel.py`` compares the merged parse with the whole-file one)."""
    points = [0]
    # this process parses the first part and then waits for the workers' results (their hand-over
    # overlaps its own parse), so with one worker its part is a little bigger
    first = size / parts * (_FIRST_SHARE if parts == 2 else 1.0)
    with open(path, "rb") as f:
        for i in range(1, parts):
            target = max(int(first + (size - first) * (i - 1) / (parts - 1)), points[-1] + 1)
            f.seek(target)
            window = f.read(_SPLIT_WINDOW)
            m = _RE_SPLIT.search(window)
            if m is None:
                continue
            ls = window.rfind(b"\n", 0, m.start())
            if ls < 0:
                m2 = _RE_SPLIT.search(window, window.find(b"\n") + 1) if b"\n" in window else None
                if m2 is None:
                    continue
                ls = window.rfind(b"\n", 0, m2.start())
            points.append(target + ls + 1)
    points.append(size)
    return sorted(set(points))


def _parse_range(path: str, start: int, end: int) -> LogParser:
    """Parse ``path[start:end]`` as a continuation of whatever came before (for `parse_log`'s workers)."""
    parser = LogParser(path=path)
    with open(path, "rb") as f:
        if start:  # the line numbers go on from the lines before
            lines = 0
            left = start
            block = bytearray(min(CHUNK_SIZE, start))
            while left > 0:
                got = f.readinto(memoryview(block)[:min(CHUNK_SIZE, left)])
                if not got:
                    break
                lines += int(np.count_nonzero(np.frombuffer(block, dtype=np.uint8, count=got) == 10))
                left -= got
            parser._lines = lines
        f.seek(start)
        for data in _cut_reads(f, end - start):
            parser.feed(data)
    parser.finish()
    return parser


def _workers(size: int, workers: int | None) -> int:
    if workers is not None:
        return max(1, int(workers))
    if size < _PARALLEL_MIN:
        return 1
    try:
        cpus = len(os.sched_getaffinity(0))  # type: ignore[attr-defined]
    except AttributeError:
        cpus = os.cpu_count() or 1
    return max(1, min(cpus, 4, size // (16 << 20)))


# Shared memory that the parent maps before forking the workers: a worker pickles its parser there
# (protocol 5, the numpy columns out of band) and returns only where; the parent unpickles the columns
# without a copy. Slots that are too small (or platforms without fork) fall back to the result pipe.
_SHARED: dict[int, Any] = {}
_SLOTS = itertools.count()


def _parse_range_shared(path: str, start: int, end: int, slot: int) -> Any:
    parser = _parse_range(path, start, end)
    m = _SHARED.get(slot)
    if m is None:
        return parser
    import pickle

    bufs: list[pickle.PickleBuffer] = []
    head = pickle.dumps(parser, protocol=5, buffer_callback=bufs.append)
    raws = [b.raw() for b in bufs]
    if len(head) + sum(r.nbytes for r in raws) > len(m):
        return parser
    m[:len(head)] = head
    spans = []
    at = len(head)
    for r in raws:
        m[at:at + r.nbytes] = r
        spans.append((at, r.nbytes))
        at += r.nbytes
    return ("shared", slot, len(head), spans)


def _received(result: Any) -> LogParser:
    if isinstance(result, LogParser):
        return result
    import pickle

    _, slot, n, spans = result
    view = memoryview(_SHARED[slot])
    return pickle.loads(view[:n], buffers=[view[a:a + k] for a, k in spans])


def _parse_parallel(path: str, points: list[int]) -> LogParser:
    import mmap
    import multiprocessing
    from concurrent.futures import ProcessPoolExecutor

    try:
        ctx = multiprocessing.get_context("fork")
    except ValueError:
        ctx = multiprocessing.get_context()
    ranges = list(zip(points[:-1], points[1:], strict=True))
    slots = []
    if ctx.get_start_method() == "fork":
        for a, b in ranges[1:]:
            slot = next(_SLOTS)
            try:  # (anonymous and shared with the children; pages exist only once written)
                _SHARED[slot] = mmap.mmap(-1, max(64 << 20, 2 * (b - a)))
            except (OSError, ValueError, OverflowError):
                slot = -1  # no room to map: this worker's result comes through the pipe
            slots.append(slot)
    else:
        slots = [-1] * (len(ranges) - 1)
    try:
        pool = ProcessPoolExecutor(max_workers=len(ranges) - 1, mp_context=ctx)
        try:
            futures = [pool.submit(_parse_range_shared, path, a, b, slot)
                       for (a, b), slot in zip(ranges[1:], slots, strict=True)]
            head = _parse_range(path, *ranges[0])
            for fut in futures:
                merge_parsers(head, _received(fut.result()))
        finally:
            pool.shutdown(wait=False)  # (the workers exit while this process builds the tables)
    finally:
        for slot in slots:
            _SHARED.pop(slot, None)  # the mapping goes when the last column viewing it does
    return head


def merge_parsers(a: LogParser, b: LogParser) -> None:
    """Append ``b`` (the parse of the bytes right after ``a``'s, started at a display line) to ``a``.

    ``b`` began without knowing the run it continues: its first run, created by its first
    training line, is the same run as ``a``'s current one unless that run had ended."""
    merge_first = bool(b.runs) and b.runs[0].reason == "continued" and a._run is not None and not a._ended
    off = len(a.runs) - (1 if merge_first else 0)
    net_off = len(a.nets)
    row_off = a._nrows
    for net in b.nets:
        net.index += net_off
        net.run += off
    for r in b.runs:
        r.nets = [i + net_off for i in r.nets]
        r.index += off
    if merge_first:
        first, last = b.runs[0], a.runs[-1]
        last.nets += first.nets
        for attr in ("done", "stopped_early"):
            setattr(last, attr, getattr(last, attr) or getattr(first, attr))
        for attr in ("net_name", "solving_line", "lr_policy", "resumed_from", "finetuned_from", "fatal", "fatal_line",
                     "fatal_trace", "aborted", "abort_line"):
            if getattr(last, attr) is None:
                setattr(last, attr, getattr(first, attr))
        for i, t in enumerate(b.timed):
            if t[3] is first:
                b.timed[i] = (t[0], t[1], t[2], last)
        a.runs += b.runs[1:]
    else:
        a.runs += b.runs
    a.nets += b.nets
    for row in b.tests:
        row["run"] += off
    a.tests += b.tests
    for row in b.snapshots + b.restores:
        row["run"] += off
    a.snapshots += b.snapshots
    a.restores += b.restores
    a.messages += [LogMessage(m.line, m.severity, m.message, None if m.run is None else m.run + off)
                   for m in b.messages]
    a.timed += b.timed
    for part in b.row_parts:
        part["run"] = part["run"] + off
        part["row"] = part["row"] + row_off
    a.row_parts += b.row_parts
    for part in b.lr_parts:
        part["run"] = part["run"] + off
    a.lr_parts += b.lr_parts
    remap = np.zeros(max(len(b.out_names), 1), dtype=np.int64)
    for name, code in b.out_names.items():
        remap[code] = a.out_names.setdefault(name, len(a.out_names))
    for part in b.out_parts:
        part["row"] = part["row"] + row_off
        part["name"] = remap[part["name"]]
    a.out_parts += b.out_parts
    a._nrows += b._nrows
    a._lines = b._lines
    a.glog_lines += b.glog_lines
    a.orphans += b.orphans
    if b.runs:
        a._run = a.runs[-1] if not merge_first or len(b.runs) > 1 else a.runs[-1]
        a._ended, a._active, a._test = b._ended, b._active, b._test
        a._cur = b._cur + row_off if b._cur >= 0 else -1
        a._builders, a._pending, a._block = b._builders, b._pending, b._block


def parse_log(source: Source, *, path: str | None = None, workers: int | None = None) -> CaffeLog:
    """Parse one Caffe log (a path, bytes, a file object or an iterable of lines) into a `CaffeLog`.

    A file of 32 MB or more is cut at display lines into ``workers`` parts (default: the CPUs
    available, at most 4) parsed in parallel processes and merged; ``workers=1`` parses it in-process.
    Raises `CaffecxError` only for a missing/unreadable file or a directory; any content parses
    (lines that are not Caffe's are skipped).
    """
    was = gc.isenabled()
    gc.disable()  # the parse makes many objects and no garbage cycles: the cyclic GC would only slow it
    try:        # down (unpickling a worker's layer records took twice as long with it)
        return _parse_log(source, path, workers)
    finally:
        if was:
            gc.enable()


def _parse_log(source: Source, path: str | None, workers: int | None) -> CaffeLog:
    if isinstance(source, (str, os.PathLike)) and not Path(source).is_dir():
        src = os.fspath(source)
        try:
            size = os.path.getsize(src)
        except OSError:
            size = 0
        k = _workers(size, workers)
        if k > 1:
            points = _split_points(src, size, k)
            if len(points) > 2:
                parser = _parse_parallel(src, points)
                parser.path = path or src
                return parser.close()
    chunks, src_path = _chunks(source)
    parser = LogParser(path=path or src_path)
    for data in chunks:
        parser.feed(data)
    return parser.close()


def iter_events(source: Source) -> Iterator[Event]:
    """Every fact the log states, in file order, as `Event` records (``kind``, ``line``, ``run``,
    ``data``): ``run_start``, ``solver``, ``net_start``, ``net_param``, ``layer``, ``bottom``, ``top``,
    ``top_shape``, ``loss_weight``, ``memory``, ``backward``, ``net_output``, ``net_done``, ``solving``,
    ``train``, ``train_output``, ``lr``, ``test_start``, ``test_output``, ``test_interrupted``,
    ``snapshot``, ``restore``, ``done``, ``fatal``, ``abort``, ``warning``, ``error``.

    Streams: events are yielded after each chunk and no table is kept, so memory stays flat in the
    size of the file (the line-by-line path: about 10 MB/s).
    """
    queue: list[Event] = []
    chunks, src_path = _chunks(source)
    parser = LogParser(path=src_path, on_event=queue.append, collect=False)
    for data in chunks:
        parser.feed(data)
        yield from queue
        queue.clear()
    parser.close()
    yield from queue
