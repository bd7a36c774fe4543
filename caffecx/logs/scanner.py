"""`LogParser`: one scan over chunks of a Caffe log, the hot lines in bulk and the rare ones one by one.

A chunk is cut at the rare lines (`wordings.RARE_LINE`: any line whose message is not ``Iteration N,
loss/lr = x`` or ``Train net output #k``). Between two rare lines lie runs of hot lines: one
``findall`` of `wordings.HOT_LINE` reads a run at once and `_apply_hot_rows` moves the parser's state
(run, current train row) over it as the lines one by one would. A run that is not made of hot lines
only (a blank line, an echo, an odd prefix) is read line by line, as every line is when events are
wanted; the rare lines go through `HANDLERS`, a dispatch on the first bytes of the message.
"""

from __future__ import annotations

import gc
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

import numpy as np

from caffecx.logs import glog
from caffecx.logs import wordings as W
from caffecx.logs.handlers import HANDLERS, SETUP_BY_NAME, setup_line, test_result, time_line
from caffecx.logs.hotcolumns import LOSS, LR, OUTPUT, hot_columns, row_kinds
from caffecx.logs.records import Event, NetLog, echo_name, echo_phase
from caffecx.logs.state import ParseState
from caffecx.logs.values import text, thread_of, to_float

if TYPE_CHECKING:  # pragma: no cover
    from caffecx.logs.tables import CaffeLog

MAX_LINE = 1 << 20  # a "line" longer than this without a newline is cut (garbage input)
HotRow = tuple[bytes, ...]  # HOT_MESSAGE's 12 groups; b"" for a group that did not match


class LogParser(ParseState):
    """Incremental parser: ``feed(bytes)`` as often as needed, then ``close()`` for the `CaffeLog`.

    ``on_event`` receives an `Event` for every fact in file order (every line is then read one by one,
    as with ``line_by_line=True``); ``collect=False`` keeps no tables (memory flat in the file size).
    """

    def __init__(self, *, path: str | None = None, on_event: Callable[[Event], None] | None = None,
                 line_by_line: bool = False, collect: bool = True) -> None:
        super().__init__(path, on_event)
        self.collect = collect
        self.every_line = line_by_line or on_event is not None
        self.pending_bytes = b""
        self.glog_lines = self.orphans = 0
        self.nrows = 0
        self.hot_rows: list[HotRow] = []
        self.hot_runs: list[tuple[int, ...]] = []  # per run of hot rows: see _apply_hot_rows
        self.hot_kinds: list[bytes] = []  # per run of hot rows: each row's wording (hotcolumns.row_kinds)
        self.hot_heads: dict[int, bytes] = {}  # glog prefix of a loss row read on its own, by row index
        self.loss_parts: list[dict[str, np.ndarray]] = []
        self.lr_parts: list[dict[str, np.ndarray]] = []
        self.output_parts: list[dict[str, np.ndarray]] = []
        self.output_names: dict[bytes, int] = {}
        self.closed = False
        self.result: CaffeLog | None = None

    # ------------------------------------------------------------------ feeding
    def feed(self, data: bytes) -> None:
        """Consume more bytes of the log (any split: a partial last line is kept for later)."""
        if not data:
            return
        buf = self.pending_bytes + data if self.pending_bytes else bytes(data)
        k = buf.rfind(b"\n")
        if k < 0:
            if len(buf) <= MAX_LINE:
                self.pending_bytes = buf
                return
            buf, k = buf + b"\n", len(buf)
        self.pending_bytes = buf[k + 1:]
        self.scan(b"\n" + buf[:k + 1])

    def finish(self) -> None:
        """Parse what is left (a truncated last line as it is) and end any open echo or trace."""
        if not self.closed:
            if self.pending_bytes:
                rest, self.pending_bytes = self.pending_bytes, b""
                self.scan(b"\n" + rest + b"\n")
            if self.block is not None:
                self.end_block(b"", 0)
            self.closed = True

    def close(self) -> CaffeLog:
        """Finish and return the `CaffeLog` (built once)."""
        self.finish()
        if self.result is None:
            from caffecx.logs.tables import build_log

            self.result = build_log(self)
        return self.result

    def scan(self, chunk: bytes) -> None:
        """One chunk: a newline, then whole lines."""
        was = gc.isenabled()
        gc.disable()  # many short-lived objects, no cycles: the cyclic GC would only slow the scan down
        try:
            self.counted_line, self.counted_pos = self.lines, 1
            if self.every_line:
                self.read_lines(chunk, 1, len(chunk))
            else:
                self.read_runs(chunk)
            blk = self.block
            if blk is not None:
                blk.parts.append(chunk[blk.start:])
                blk.start = 1
            self.flush(chunk)
            self.lines += chunk.count(b"\n") - 1
        finally:
            if was:
                gc.enable()

    def read_runs(self, chunk: bytes) -> None:
        """The chunk as runs of hot lines (read in bulk) between rare lines (runs of set-up lines
        in bulk too, the others one by one)."""
        signals = [m.start() for m in W.SIGNAL.finditer(chunk)]
        start, end = 1, len(chunk)
        while start < end:
            m = W.RARE_MESSAGE.search(chunk, start)
            pos = end if m is None else m.start()
            while signals and signals[0] < start:
                signals.pop(0)
            if signals and signals[0] < pos:
                pos = signals[0]
            if pos == end:
                break
            ls = chunk.rfind(b"\n", 0, pos) + 1
            if ls > start:
                self.read_hot_run(chunk, start, ls)
            start = self.read_setup_run(chunk, ls) if self.block is None else ls
            if start == ls:
                start = self.read_line(chunk, pos)
        if start < end:
            self.read_hot_run(chunk, start, end)

    def read_setup_run(self, chunk: bytes, start: int) -> int:
        """The set-up lines (`wordings.SETUP_LINE`) from the line at ``start`` on; returns where the
        first other line starts (``start`` when there is none)."""
        m = W.SETUP_LINE.match(chunk, start - 1)
        if m is None:
            return start
        line = self.line_at(chunk, start)
        while m is not None and setup_line(self, m, line):
            self.glog_lines += 1
            line += 1
            start = m.end() + 1
            m = W.SETUP_LINE.match(chunk, start - 1)
        return start

    # ------------------------------------------------------------------ hot runs
    def read_hot_run(self, chunk: bytes, start: int, end: int) -> None:
        """Lines ``chunk[start:end]`` with no rare line: in bulk when each is one hot line."""
        rows = W.HOT_LINE.findall(chunk, start, end)
        lines = chunk.count(b"\n", start, end)
        if self.block is not None or len(rows) != lines or chunk.count(b"]", start, end) != lines:
            self.read_lines(chunk, start, end)
            return
        self.glog_lines += lines
        self.apply_hot_rows(rows, self.line_at(chunk, start))

    def apply_hot_rows(self, rows: list[HotRow], first_line: int) -> None:
        """Move the state over consecutive hot rows: their first lr/loss line continues the run (or
        starts one when it ended), a loss line is a new train row, an output belongs to the last one."""
        kinds = row_kinds(rows)
        losses = kinds.count(LOSS)
        trains = losses or len(rows) - kinds.count(OUTPUT)
        row_before = self.row if self.run is not None and not self.ended else -1
        first = len(rows)
        if trains:
            first = min(i for i in (kinds.find(LR), kinds.find(LOSS)) if i >= 0)
            if self.run is None or self.ended:
                self.new_run("continued", first_line + first if kinds[first] == LOSS else None)
            self.active = True
        row_after = self.row if trains else row_before
        self.hot_runs.append((len(self.hot_rows), len(rows), self.run.index if trains else -1,  # type: ignore[union-attr]
                              row_before, row_after, first, first_line, self.nrows))
        self.hot_rows += rows
        self.hot_kinds.append(kinds)
        if losses:
            self.row = self.nrows + losses - 1
            self.nrows += losses

    def hot_message(self, chunk: bytes, pos: int, head: bytes, m: Any) -> None:
        """One hot message read line by line (and its event)."""
        row = m.groups(b"")
        line = self.line_at(chunk, pos)
        orphan = self.row < 0 or self.run is None or self.ended
        if row[2]:
            self.hot_heads[len(self.hot_rows)] = head
        self.apply_hot_rows([row], line)
        if self.emit is None:
            return
        if row[2]:
            self.event("train", line, iteration=int(row[2]), loss=to_float(row[6]), iters_per_s=to_float(row[3]),
                       s_per_interval=to_float(row[4]), interval_iters=int(row[5]) if row[5] else None)
        elif row[0]:
            self.event("lr", None, iteration=int(row[0]), lr=to_float(row[1]))
        elif not orphan:
            self.event("train_output", None, index=int(row[7]), name=text(row[8]), value=to_float(row[9]),
                       loss_weight=to_float(row[10]) if row[10] else None,
                       weighted=to_float(row[11]) if row[11] else None)

    # ------------------------------------------------------------------ line by line
    def read_lines(self, chunk: bytes, start: int, end: int) -> None:
        for m in W.ANY_LINE.finditer(chunk, start, end):
            if m.start() >= start:
                start = self.read_line(chunk, m.start())

    def read_line(self, chunk: bytes, pos: int) -> int:
        """The line holding ``pos`` (a ``] `` or glog's ``***``): its message from the line's first
        ``] ``. Returns where the next line starts."""
        ls = chunk.rfind(b"\n", 0, pos) + 1
        eol = chunk.find(b"\n", pos)
        first = chunk.find(b"] ", ls, eol)
        if chunk.startswith(b"***", pos) and (first < 0 or first > pos):
            if chunk.find(b"***", ls, pos + 3) == pos:
                self.signal(chunk, ls, chunk[ls:eol])
            return eol + 1
        if self.block is not None:
            if glog.PREFIX_RE.search(chunk, ls, eol) is None:
                return eol + 1  # an echo line with "] " in it (``[worker 1]   base_lr: 0.01``)
            self.end_block(chunk, first)
        self.glog_lines += 1
        self.dispatch(chunk, first, chunk[first + 2:eol], chunk[ls:first])
        return eol + 1

    def dispatch(self, chunk: bytes, pos: int, msg: bytes, head: bytes, depth: int = 0) -> None:
        """A glog message: a hot one, or a handler chosen by its first four bytes, or `other_message`."""
        if msg[-1:] == b"\r":
            msg = msg.rstrip(b"\r")
        try:
            m = W.HOT_MESSAGE.match(msg)
            if m is not None:
                self.hot_message(chunk, pos, head, m)
                return
            handler = HANDLERS.get(msg[:4])
            if handler is None or not handler(self, chunk, pos, head, msg):
                self.other_message(chunk, pos, head, msg, depth)
        except (ValueError, IndexError, OverflowError, UnicodeError) as err:  # never raise on bad input
            self.message(self.line_at(chunk, pos), "W", f"caffecx: unreadable line ({err})")

    def other_message(self, chunk: bytes, pos: int, head: bytes, msg: bytes, depth: int) -> None:
        """Set-up lines that start with a name, ``caffe test`` results, W/E/F lines, and a glog prefix
        behind text that ends in ``] `` itself (``[worker 1] I0601 ...``)."""
        for pattern, handler in SETUP_BY_NAME:
            m = pattern.fullmatch(msg)
            if m:
                handler(self, thread_of(head), *m.groups())
                return
        prefix = glog.HEAD_RE.search(head)
        if prefix is None:
            self.unprefixed(chunk, pos, head, msg, depth)
            return
        severity = prefix.group(1).decode()
        if severity in "WEF":
            line, says = self.line_at(chunk, pos), text(msg) or ""
            self.message(line, severity, says)
            if severity == "F":
                self.fatal(says, line, chunk, pos, head)
        elif not test_result(self, chunk, pos, head, msg):
            time_line(self, chunk, pos, head, msg)

    def unprefixed(self, chunk: bytes, pos: int, head: bytes, msg: bytes, depth: int) -> None:
        if W.LIBPROTOBUF in head:
            severity = "E" if (b" ERROR " in head or b" FATAL " in head) else "W"
            self.message(self.line_at(chunk, pos), severity, text(head[head.find(W.LIBPROTOBUF):] + b"] " + msg) or "")
        elif depth == 0:
            full = head + b"] " + msg
            m = glog.PREFIX_RE.search(full, len(head) + 2)
            if m is not None:
                self.dispatch(chunk, pos - len(head) + m.end() - 2, full[m.end():], full[:m.end() - 2], 1)

    # ------------------------------------------------------------------ glog's signal handler
    def signal(self, chunk: bytes, ls: int, raw: bytes) -> None:
        """``*** Aborted at ...`` / ``*** SIGTERM ...`` (glog's failure signal handler) end the run;
        ``*** Check failure stack trace: ***`` belongs to the F line before."""
        says = text(raw.strip()) or ""
        if "Check failure stack trace" in says:
            return
        line = self.line_at(chunk, ls)
        r = self.run
        if r is None or (self.ended and not r.died):
            r = self.new_run("aborted", line)  # a process killed before it logged anything
        if r.aborted is None:
            r.aborted, r.abort_line = says, line
            self.message(line, "F", says)
        elif says.startswith("*** SIG"):
            r.aborted = says
        self.end_run()
        self.event("abort", line, message=says)

    # ------------------------------------------------------------------ echoes and traces
    def end_block(self, chunk: bytes, pos: int) -> None:
        blk = self.block
        assert blk is not None
        self.block = None
        ls = chunk.rfind(b"\n", 0, pos) + 1
        if ls > blk.start:
            blk.parts.append(chunk[blk.start:ls])
        raw = b"".join(blk.parts).replace(b"\r\n", b"\n")
        if blk.strip:
            raw = b"\n".join(ln[len(blk.strip):] if ln.startswith(blk.strip) else ln for ln in raw.split(b"\n"))
        said = raw.decode("utf-8", "replace")
        if blk.kind == "solver":
            blk.target.solver_text = said
            self.event("solver", blk.line, text=said)
        elif blk.kind == "net":
            net: NetLog = blk.target
            net.param_text, net.name = said, echo_name(said)
            net.phase = net.phase or echo_phase(said)
            self.event("net_param", blk.line, net=net.index, text=said, name=net.name, phase=net.phase)
        else:
            blk.target.fatal_trace = said

    # ------------------------------------------------------------------ per-chunk columns
    def flush(self, chunk: bytes) -> None:
        """Turn the chunk's hot rows into numpy columns (or drop them when no table is kept)."""
        rows, runs, heads, kinds = self.hot_rows, self.hot_runs, self.hot_heads, self.hot_kinds
        self.hot_rows, self.hot_runs, self.hot_heads, self.hot_kinds = [], [], {}, []
        if rows and self.collect:
            def stamps(at: np.ndarray, lines: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
                return self.loss_stamps(chunk, heads, at, lines)

            loss, lr, outputs, orphans = hot_columns(rows, b"".join(kinds), runs, self.output_names, stamps)
            self.orphans += orphans
            for part, parts in ((loss, self.loss_parts), (lr, self.lr_parts), (outputs, self.output_parts)):
                if len(part["run" if "run" in part else "row"]):
                    parts.append(part)
        if not self.collect:
            del self.tests[:-1], self.snapshots[:], self.restores[:], self.messages[:], self.timed[:]
            del self.test_batches[:], self.test_results[:], self.timing[:]

    def loss_stamps(self, chunk: bytes, heads: dict[int, bytes], at: np.ndarray, lines: np.ndarray
                    ) -> tuple[np.ndarray, np.ndarray]:
        """Date codes and seconds of day of the loss rows ``at`` (on lines ``lines`` of this chunk): from
        the prefix kept for a line read on its own, else from the line's start to its only ``] ``."""
        kept = [k for k, i in enumerate(at.tolist()) if i in heads] if heads else []
        bulk = np.ones(len(at), dtype=bool)
        bulk[kept] = False
        date, tod = np.full(len(at), -1, dtype=np.int64), np.full(len(at), np.nan)
        if bulk.any():
            buf = np.frombuffer(chunk, dtype=np.uint8)
            newlines = np.flatnonzero(buf == 10)
            starts = newlines[lines[bulk] - self.lines - 1] + 1
            date[bulk], tod[bulk] = glog.stamps_at(buf, starts, lambda start: chunk.find(b"] ", start))
        if kept:
            date[kept], tod[kept] = glog.head_stamps([heads[i] for i in at[kept].tolist()])
        return date, tod
