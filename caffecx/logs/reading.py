"""Reading a log: from a path, bytes, a file object or lines, in chunks; big files in parallel.

`parse_log` returns the `CaffeLog`; `iter_events` streams the same facts as `Event` s. A file of
32 MB or more is cut at display lines and its parts are parsed in forked processes, then merged.
"""

from __future__ import annotations

import gc
import io
import os
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import IO, TYPE_CHECKING, Any

import numpy as np

from caffecx.errors import CaffecxError
from caffecx.logs import wordings as W
from caffecx.logs.records import Event, LogMessage, with_children
from caffecx.logs.scanner import MAX_LINE, LogParser

if TYPE_CHECKING:  # pragma: no cover
    from caffecx.logs.tables import CaffeLog

CHUNK_SIZE = 4 << 20

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
            if n <= MAX_LINE:
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
            if not isinstance(line, (str, bytes, bytearray, memoryview)):
                raise TypeError(f"parse_log's lines must be str or bytes, not {type(line).__name__}")
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
            m = W.DISPLAY_LINE.search(window)
            if m is None:
                continue
            ls = window.rfind(b"\n", 0, m.start())
            if ls < 0:
                m2 = W.DISPLAY_LINE.search(window, window.find(b"\n") + 1) if b"\n" in window else None
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
            parser.lines = lines
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


def _parse_parallel(path: str, points: list[int]) -> LogParser:
    import multiprocessing
    from concurrent.futures import ProcessPoolExecutor

    try:
        ctx = multiprocessing.get_context("fork")
    except ValueError:
        ctx = multiprocessing.get_context()
    ranges = list(zip(points[:-1], points[1:], strict=True))
    pool = ProcessPoolExecutor(max_workers=len(ranges) - 1, mp_context=ctx)
    try:
        futures = [pool.submit(_parse_range, path, a, b) for a, b in ranges[1:]]
        head = _parse_range(path, *ranges[0])
        for fut in futures:
            merge_parsers(head, fut.result())
    finally:
        pool.shutdown(wait=False)  # (the workers exit while this process builds the tables)
    return head


def merge_parsers(a: LogParser, b: LogParser) -> None:
    """Append ``b`` (the parse of the bytes right after ``a``'s, started at a display line) to ``a``.

    ``b`` began without knowing the run it continues: its first run, created by its first
    training line, is the same run as ``a``'s current one unless that run had ended."""
    merge_first = bool(b.runs) and b.runs[0].reason == "continued" and a.run is not None and not a.ended
    off = len(a.runs) - (1 if merge_first else 0)
    net_off = len(a.nets)
    row_off = a.nrows
    for net in with_children(b.nets):  # (a child's index counts among its parent's children)
        net.index += net_off if net.parent_net is None else 0
        net.run += off
    for r in b.runs:
        r.nets = [i + net_off for i in r.nets]
        r.index += off
    _join_runs(a, b, merge_first)
    a.nets += b.nets
    _append_rows(a, b, off, row_off)
    a.nrows += b.nrows
    a.lines = b.lines
    a.glog_lines += b.glog_lines
    a.orphans += b.orphans
    if b.runs:
        a.run = a.runs[-1]
        a.reading_test_results, a.reading_times = b.reading_test_results, b.reading_times
        a.ended, a.active, a.test = b.ended, b.active, b.test
        a.row = b.row + row_off if b.row >= 0 else -1
        a.builders, a.pending_net, a.block = b.builders, b.pending_net, b.block


def _join_runs(a: LogParser, b: LogParser, merge_first: bool) -> None:
    """``b``'s runs after ``a``'s; its first one folded into ``a``'s last when it continues it."""
    if not merge_first:
        a.runs += b.runs
        return
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


def _append_rows(a: LogParser, b: LogParser, off: int, row_off: int) -> None:
    """``b``'s rows and column parts after ``a``'s, their run and row numbers shifted by ``off``/``row_off``."""
    for rows in (b.tests, b.snapshots, b.restores, b.test_batches, b.test_results, b.timing):
        for row in rows:
            row["run"] += off
    a.tests += b.tests
    a.snapshots += b.snapshots
    a.restores += b.restores
    a.test_batches += b.test_batches
    a.test_results += b.test_results
    a.timing += b.timing
    a.messages += [LogMessage(m.line, m.severity, m.message, None if m.run is None else m.run + off)
                   for m in b.messages]
    a.timed += b.timed
    for part in b.loss_parts:
        part["run"] = part["run"] + off
        part["row"] = part["row"] + row_off
    a.loss_parts += b.loss_parts
    for part in b.lr_parts:
        part["run"] = part["run"] + off
    a.lr_parts += b.lr_parts
    remap = np.zeros(max(len(b.output_names), 1), dtype=np.int64)
    for name, code in b.output_names.items():
        remap[code] = a.output_names.setdefault(name, len(a.output_names))
    for part in b.output_parts:
        part["row"] = part["row"] + row_off
        part["name"] = remap[part["name"]]
    a.output_parts += b.output_parts


def parse_log(source: Source, *, path: str | None = None, workers: int | None = None,
              require_glog: bool = True) -> CaffeLog:
    """Parse one Caffe log (a path, bytes, a file object or an iterable of lines) into a `CaffeLog`.

    A file of 32 MB or more is cut at display lines into ``workers`` parts (default: the CPUs
    available, at most 4) parsed in parallel processes and merged; ``workers=1`` parses it in-process.
    Raises `CaffecxError` for a missing/unreadable file or a directory, and (with ``require_glog``,
    the default) for content that is not a Caffe log: binary data or text without a single glog line
    (``I1203 10:00:00.000000  123 file.cpp:45] ...``). Otherwise any content parses (lines that are not
    Caffe's are skipped). A `TypeError` names an argument of the wrong type.
    """
    _check_types(source, path, workers)
    was = gc.isenabled()
    gc.disable()  # the parse makes many objects and no garbage cycles: the cyclic GC would only slow it
    try:        # down (unpickling a worker's layer records took twice as long with it)
        log = _parse_log(source, path, workers)
    finally:
        if was:
            gc.enable()
    if require_glog and log.glog_lines == 0:
        raise _not_a_log(source, log)
    return log


def _check_types(source: object, path: object, workers: object) -> None:
    """A plain `TypeError` for an argument `parse_log` cannot take (not an error from deep inside)."""
    readable = isinstance(source, (str, os.PathLike, bytes, bytearray, memoryview)) or hasattr(source, "read")
    if not readable and (not isinstance(source, Iterable) or isinstance(source, dict)):
        raise TypeError("parse_log expects a path, bytes, a file object or an iterable of lines, not "
                        f"{type(source).__name__}")
    if isinstance(source, str) and "\0" in source:
        raise CaffecxError("the log file name contains a NUL byte", path=source.replace("\0", "\\0"))
    if path is not None and not isinstance(path, str):
        raise TypeError(f"parse_log's path must be a str (the name to show), not {type(path).__name__}")
    if workers is not None and (isinstance(workers, bool) or not isinstance(workers, int)):
        raise TypeError(f"parse_log's workers must be an int, not {type(workers).__name__}")


def _head(source: Source) -> bytes:
    """The first 4 KB of a path or bytes source (empty for other sources)."""
    if isinstance(source, (bytes, bytearray, memoryview)):
        return bytes(source[:4096])
    if isinstance(source, (str, os.PathLike)):
        try:
            with open(source, "rb") as f:
                return f.read(4096)
        except OSError:
            return b""
    return b""


def _not_a_log(source: Source, log: CaffeLog) -> CaffecxError:
    head = _head(source)
    controls = sum(b < 9 or 13 < b < 32 for b in head)
    if b"\0" in head or controls > len(head) // 20:
        what = "binary data, not a Caffe log (no glog line such as 'I1203 10:00:00.000000  123 net.cpp:45] ...')"
    elif log.lines == 0:
        what = "empty: not a Caffe log (no glog line)"
    else:
        what = (f"not a Caffe log: none of its {log.lines} line(s) is a glog line "
                "('I1203 10:00:00.000000  123 net.cpp:45] ...')")
    return CaffecxError(what, path=log.path)


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
