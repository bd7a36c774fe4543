"""`ParseState`: what a log has said so far (runs, nets, tests, timings, messages) and the moves the
line handlers make on it; `caffecx.logs.scanner.LogParser` reads the lines into it."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from caffecx.logs import glog
from caffecx.logs.records import Event, LogMessage, NetLog, RunLog


class OpenBlock:
    """Lines without a glog prefix that continue a message: a parameter echo or a stack trace."""

    __slots__ = ("kind", "target", "parts", "start", "strip", "line")

    def __init__(self, kind: str, target: Any, start: int, strip: bytes, line: int) -> None:
        self.kind, self.target, self.start, self.strip, self.line = kind, target, start, strip, line
        self.parts: list[bytes] = []


class ParseState:
    """The parse's state between lines, and the moves on it that the handlers share."""

    def __init__(self, path: str | None, on_event: Callable[[Event], None] | None) -> None:
        self.path = path
        self.emit = on_event
        self.lines = 0  # newlines before the current chunk
        self.counted_line, self.counted_pos = 0, 1
        self.runs: list[RunLog] = []
        self.nets: list[NetLog] = []
        self.tests: list[dict[str, Any]] = []
        self.snapshots: list[dict[str, Any]] = []
        self.restores: list[dict[str, Any]] = []
        self.messages: list[LogMessage] = []
        self.test_batches: list[dict[str, Any]] = []
        self.test_results: list[dict[str, Any]] = []
        self.timing: list[dict[str, Any]] = []
        self.timed: list[tuple[int, bytes, str, Any]] = []  # (line, prefix, what, target): stamped at close
        self.run: RunLog | None = None
        self.ended = False  # the run ended (done, fatal, signal): a training line starts a new one
        self.active = False  # the run has trained / tested / snapshotted
        self.row = -1  # current train row, for the Train net output lines
        self.test: dict[str, Any] | None = None
        self.builders: dict[bytes | None, Any] = {}  # the nets being set up, by thread (handlers.NetBuilder)
        self.pending_net: dict[bytes | None, dict[str, Any]] = {}
        self.block: OpenBlock | None = None
        self.reading_test_results = False  # after ``caffe test``'s ``Running for N iterations.``
        self.reading_times = False  # after ``caffe time``'s ``Average time per layer:``

    def line_at(self, chunk: bytes, pos: int) -> int:
        """1-based line number of the line holding ``pos`` (positions never go back within a chunk)."""
        if pos > self.counted_pos:
            self.counted_line += chunk.count(b"\n", self.counted_pos, pos)
            self.counted_pos = pos
        return self.counted_line + 1

    # ------------------------------------------------------------------ runs and messages
    def new_run(self, reason: str, line: int | None) -> RunLog:
        self.builders.clear()
        self.pending_net.clear()
        r = RunLog(index=len(self.runs), line=line, reason=reason)
        self.runs.append(r)
        self.run, self.ended, self.active, self.row, self.test = r, False, False, -1, None
        self.reading_test_results = self.reading_times = False
        self.event("run_start", line, reason=reason)
        return r

    def current_run(self, reason: str, line: int | None) -> RunLog:
        return self.new_run(reason, line) if self.run is None or self.ended else self.run

    def end_run(self) -> None:
        self.ended, self.row, self.test = True, -1, None

    def message(self, line: int, severity: str, says: str) -> None:
        self.messages.append(LogMessage(line, severity, says, None if self.run is None else self.run.index))
        if severity != "F":
            self.event("warning" if severity == "W" else "error", line, message=says)

    def fatal(self, says: str, line: int, chunk: bytes, pos: int, head: bytes) -> None:
        r = self.current_run("fatal", line)
        if r.fatal is None:
            r.fatal, r.fatal_line = says, line
            self.open_block("fatal", r, chunk, pos, head, line)
        self.end_run()
        self.event("fatal", line, message=says)

    def stamp(self, line: int, head: bytes, what: str, target: Any) -> None:
        self.timed.append((line, head, what, target))

    def event(self, kind: str, line: int | None, /, **data: Any) -> None:
        if self.emit is not None:
            self.emit(Event(kind, line, None if self.run is None else self.run.index, data))

    # ------------------------------------------------------------------ echoes and traces
    def open_block(self, kind: str, target: Any, chunk: bytes, pos: int, head: bytes, line: int) -> None:
        p = glog.parse_head(head)
        eol = chunk.find(b"\n", pos)
        self.block = OpenBlock(kind, target, len(chunk) if eol < 0 else eol + 1,
                               head[:p.column] if p is not None else b"", line)
