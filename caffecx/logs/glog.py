"""glog line prefixes, as Caffe writes them, and their timestamps.

glog prefixes every line with ``Lmmdd hh:mm:ss.uuuuuu threadid file:line] `` (``L`` is the severity,
one of ``I W E F``). glog >= 0.6 writes the year as well (``I20261122 15:05:29.112815  5971 ...``);
Caffe's 2014 documentation quotes a short form without time or thread (``I1203 solver.cpp:36] ``).
People commit logs with text in front of the prefix (Markdown indentation, ``tee`` or MPI prefixes,
timestamps from other tools), so the prefix is searched for, not assumed at column 0.

Classic glog has no year, so seconds since the start are computed in file order: a date that jumps
back by more than half a year is read as the next year (Dec 31 -> Jan 1), and a year segment counts as
a leap year when one of its lines is dated Feb 29.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np

SEVERITIES = {"I": "INFO", "W": "WARNING", "E": "ERROR", "F": "FATAL"}

# severity, date (mmdd or yyyymmdd), optional time, optional thread id, source file, source line
_PREFIX = (
    rb"(?<![A-Za-z0-9])([IWEF])(\d{8}|\d{4})"
    rb"(?:[ T]+(\d\d):(\d\d):(\d\d(?:\.\d{1,9})?))?"
    rb"(?: +(\d{1,20}|0x[0-9a-fA-F]+))?"
    rb" +([^\s\]]{1,300}?)(?::(\d{1,9}))?"
)
PREFIX_RE = re.compile(_PREFIX + rb"\] ")
HEAD_RE = re.compile(_PREFIX + rb"$")  # the text before "] "

_DIGITS = b"0123456789"


@dataclass(frozen=True)
class GlogPrefix:
    """One parsed glog prefix. ``column`` is where the severity letter starts (0 for a plain log)."""

    severity: str  # 'I', 'W', 'E' or 'F'
    month: int
    day: int
    year: int | None  # glog >= 0.6 only
    seconds_of_day: float | None  # None for the 2014 short prefix ``I1203 solver.cpp:36]``
    thread: str | None
    source_file: str
    source_line: int | None
    column: int

    @property
    def date_code(self) -> int:
        """``yyyymmdd`` (year 0 when the log has none)."""
        return (self.year or 0) * 10000 + self.month * 100 + self.day


def _prefix_from_match(m: re.Match[bytes]) -> GlogPrefix:
    sev, date, hh, mm, ss, thread, src, srcline = m.groups()
    if len(date) == 8:
        year, month, day = int(date[:4]), int(date[4:6]), int(date[6:])
    else:
        year, month, day = None, int(date[:2]), int(date[2:])
    tod = None if hh is None else int(hh) * 3600 + int(mm) * 60 + float(ss)
    return GlogPrefix(
        severity=sev.decode(),
        month=month,
        day=day,
        year=year,
        seconds_of_day=tod,
        thread=None if thread is None else thread.decode(),
        source_file=src.decode("utf-8", "replace"),
        source_line=None if srcline is None else int(srcline),
        column=m.start(1),
    )


def parse_prefix(line: str | bytes) -> tuple[GlogPrefix, str] | None:
    """Find the glog prefix in one line (anywhere in it) and return it with the message after ``] ``.

    Returns None for a line without a glog prefix (an echo continuation, a stack trace, plain text).
    """
    raw = line.encode("utf-8", "surrogateescape") if isinstance(line, str) else bytes(line)
    m = PREFIX_RE.search(raw)
    if m is None:
        return None
    msg = raw[m.end():].rstrip(b"\r\n")
    return _prefix_from_match(m), msg.decode("utf-8", "replace")


def parse_head(head: bytes) -> GlogPrefix | None:
    """Parse the text before a line's ``] `` as a glog prefix (None when it is not one)."""
    m = HEAD_RE.search(head)
    return None if m is None else _prefix_from_match(m)


# ---------------------------------------------------------------------------------------------
# Timestamps, vectorized: a head -> (date code yyyymmdd, seconds of day)

_CLASSIC4 = (1, 2, 3, 4, 6, 7, 9, 10, 12, 13, 15, 16, 17, 18, 19, 20)  # I0601 11:49:59.217806
_SEP4 = ((5, 32), (8, 58), (11, 58), (14, 46))
_USEC_POW = np.array([100000, 10000, 1000, 100, 10, 1], dtype=np.int64)


def _classic(u8: np.ndarray, shift: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Rows of ``u8`` (one head per row) laid out exactly as glog writes them, from column 0."""
    sev = u8[:, 0]
    ok = (sev == 73) | (sev == 87) | (sev == 69) | (sev == 70)
    for col, ch in _SEP4:
        ok &= u8[:, col + shift] == ch
    digit_cols = list(range(1, 5 + shift)) + [c + shift for c in _CLASSIC4[4:]]
    d = u8[:, digit_cols].astype(np.int32) - 48  # only the digit columns
    ok &= ((d >= 0) & (d <= 9)).all(axis=1)
    nd = 4 + shift  # date digits, then hh mm ss and six of microseconds
    year = d[:, 0] * 1000 + d[:, 1] * 100 + d[:, 2] * 10 + d[:, 3] if shift else np.zeros(len(u8), dtype=np.int32)
    md = d[:, nd - 4:nd]
    month = md[:, 0] * 10 + md[:, 1]
    day = md[:, 2] * 10 + md[:, 3]
    t = d[:, nd:]
    tod = ((t[:, 0] * 10 + t[:, 1]) * 3600 + (t[:, 2] * 10 + t[:, 3]) * 60 + t[:, 4] * 10 + t[:, 5]).astype(np.float64)
    tod += (t[:, 6:12].astype(np.int64) @ _USEC_POW) / 1e6
    code = year.astype(np.int64) * 10000 + month * 100 + day
    return ok, code, tod


def _fill(codes: np.ndarray, tods: np.ndarray, u8: np.ndarray, head: Callable[[int], bytes]) -> None:
    ok4, code4, tod4 = _classic(u8, 0)
    codes[ok4] = code4[ok4]
    tods[ok4] = tod4[ok4]
    rest = ~ok4
    if rest.any():
        ok8, code8, tod8 = _classic(u8, 4)
        ok8 &= rest
        codes[ok8] = code8[ok8]
        tods[ok8] = tod8[ok8]
        rest &= ~ok8
        for i in np.flatnonzero(rest):
            p = parse_head(head(int(i)))
            if p is not None:
                codes[i] = p.date_code
                if p.seconds_of_day is not None:
                    tods[i] = p.seconds_of_day


def stamps_at(buf: np.ndarray, starts: np.ndarray, head_end: Callable[[int], int]) -> tuple[np.ndarray, np.ndarray]:
    """`head_stamps` for the lines starting at ``starts`` of one uint8 buffer, each with one ``] `` after
    its head (``head_end(start)`` finds it; asked only for a head that is not laid out as glog writes
    it). No copy when 25 bytes can be read from every start: a layout that passes on those 25 bytes
    lies within the head, since the ``]`` that ends a head passes for none of its columns."""
    n = len(starts)
    codes = np.full(n, -1, dtype=np.int64)
    tods = np.full(n, np.nan)
    if n == 0:
        return codes, tods
    from numpy.lib.stride_tricks import sliding_window_view

    if len(buf) >= int(starts.max()) + 25:  # (a padded buffer: read 25 bytes from each start as it is)
        pad = buf
    else:
        pad = np.zeros(len(buf) + 25, dtype=np.uint8)
        pad[:len(buf)] = buf
    u8 = sliding_window_view(pad, 25)[starts]

    def head(i: int) -> bytes:
        start = int(starts[i])
        return buf[start:head_end(start)].tobytes()

    _fill(codes, tods, u8, head)
    return codes, tods


def head_stamps(heads: Sequence[bytes]) -> tuple[np.ndarray, np.ndarray]:
    """Date codes (``yyyymmdd``, year 0 when unknown; -1 when no date) and seconds of day (NaN when
    no time) for the text before ``] `` of many lines. Plain glog layouts are decoded with numpy;
    anything else (leading text, odd spacing) goes through the prefix regex."""
    n = len(heads)
    codes = np.full(n, -1, dtype=np.int64)
    tods = np.full(n, np.nan)
    if n == 0:
        return codes, tods
    u8 = np.array(heads, dtype="S25").view(np.uint8).reshape(n, 25)
    _fill(codes, tods, u8, heads.__getitem__)
    return codes, tods


_CUM = np.array([0, 31, 59, 90, 120, 151, 181, 212, 243, 273, 304, 334, 365], dtype=np.int64)
_HALF_YEAR = 182 * 86400.0


def _days_from_civil(y: np.ndarray, m: np.ndarray, d: np.ndarray) -> np.ndarray:
    """Days since 1970-01-01 of a proleptic Gregorian date (Howard Hinnant's algorithm)."""
    y = y - (m <= 2)
    era = np.floor_divide(y, 400)
    yoe = y - era * 400
    mp = (m + 9) % 12
    doy = (153 * mp + 2) // 5 + d - 1
    doe = yoe * 365 + yoe // 4 - yoe // 100 + doy
    return era * 146097 + doe - 719468


def absolute_seconds(codes: np.ndarray, tods: np.ndarray) -> np.ndarray:
    """Seconds on one timeline for stamps given in file order (NaN where unknown).

    Dates with a year are exact. Year-less dates (classic glog) start in a nominal year; a jump back
    by more than half a year starts the next year, and a year is a leap year when one of its dates
    is Feb 29 -- so the seconds stay monotonic across Dec 31 -> Jan 1.

    (Dates change rarely in file order: the calendar is worked out once per run of equal dates.)
    """
    codes = np.asarray(codes, dtype=np.int64)
    tods = np.asarray(tods, dtype=np.float64)
    n = len(codes)
    out = np.full(n, np.nan)
    if n == 0:
        return out
    starts = np.concatenate([[0], np.flatnonzero(codes[1:] != codes[:-1]) + 1])
    lengths = np.diff(np.append(starts, n))
    rc = codes[starts]  # one date per run
    year = rc // 10000
    month = (rc // 100) % 100
    day = rc % 100
    vdate = (rc >= 0) & (month >= 1) & (month <= 12) & (day >= 1) & (day <= 31)
    run_of = np.repeat(np.arange(len(starts)), lengths)
    valid = vdate[run_of] & ~np.isnan(tods)
    withyear = valid & (year > 0)[run_of]
    if withyear.any():
        days = np.zeros(len(rc), dtype=np.int64)
        wy = vdate & (year > 0)
        days[wy] = _days_from_civil(year[wy], month[wy], day[wy])
        out[withyear] = days[run_of[withyear]] * 86400.0 + tods[withyear]
    yearless = np.flatnonzero(valid & (year == 0)[run_of])
    if len(yearless):
        r = run_of[yearless]
        # runs of the year-less stamps; only where a run starts can the date jump back
        ystart = np.concatenate([[0], np.flatnonzero(r[1:] != r[:-1]) + 1])
        yrun = r[ystart]  # the date run of each
        m = month[yrun]
        d = day[yrun]
        cum = _CUM[m - 1] + d - 1
        if len(ystart) > 1:
            prev = yearless[ystart[1:] - 1]
            cur = yearless[ystart[1:]]
            coarse_prev = cum[:-1] * 86400.0 + tods[prev]
            coarse_cur = cum[1:] * 86400.0 + tods[cur]
            back = np.concatenate([[False], coarse_cur - coarse_prev < -_HALF_YEAR])
        else:
            back = np.zeros(1, dtype=bool)
        seg = np.cumsum(back)
        nseg = int(seg[-1]) + 1
        leap = np.zeros(nseg, dtype=bool)
        feb29 = (m == 2) & (d == 29)
        leap[seg[feb29]] = True
        seg_len = np.where(leap, 366, 365)
        seg_start = np.concatenate([[0], np.cumsum(seg_len)[:-1]])
        doy = _CUM[m - 1] + d - 1 + ((m > 2) & leap[seg])
        base = float(_days_from_civil(np.array([2001]), np.array([1]), np.array([1]))[0])
        dayno = base + seg_start[seg] + doy
        ylen = np.diff(np.append(ystart, len(yearless)))
        out[yearless] = np.repeat(dayno, ylen) * 86400.0 + tods[yearless]
    return out
