"""The vectorized scan of one chunk of a log: numpy over the bytes, Python only for the rare lines.

numpy finds every line, its first ``] `` (the end of the glog prefix) and the kind of its message by
comparing the first bytes with Caffe's wordings. The per-iteration lines -- ``Iteration N, loss =
x`` (also 2017's ``Iteration N (a iter/s, bs/n iters), loss = x``), ``Iteration N, lr = x`` and
``Train net output #k: name = v (* w = c loss)`` -- are parsed without a Python loop: fields are
located with byte comparisons on fixed-width windows and the numbers are handed in one batch to
pandas' C parser. A line whose text does not have exactly the expected shape is not guessed at: it
joins the other lines (net set-up, tests, snapshots, errors...) that `LogParser` dispatches one by
one, in file order. Between two such lines the state they depend on (current run, current train row)
is brought up to date from prefix counts, and afterwards numpy assigns runs and train rows to the
per-iteration lines from the recorded state changes -- with the same results as the line-by-line
path (``tests/logs`` compares the two on every log).
"""

from __future__ import annotations

import io
from bisect import bisect_left
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from caffecx.logs import glog
from caffecx.logs.numparse import padded, parse_ints_at, windows

if TYPE_CHECKING:  # pragma: no cover
    from caffecx.logs.parser import LogParser

_STOPS = b" ,\r\n\t\x0b\x0c"  # a number ends at whitespace or a comma (the regexes' ``[^\s,]+``)
_L, _LR, _O = 1, 2, 3
_CREATE, _SHAPE, _MEM, _BOTTOM, _TOP, _BW = 1, 2, 3, 4, 5, 6  # kinds above _CREATE only fill records


def _u64(s: bytes) -> np.uint64:
    return np.frombuffer(s[:8].ljust(8, b"\0"), dtype="<u8")[0]


_LOWMASK = np.array([(1 << (8 * k)) - 1 for k in range(8)] + [(1 << 64) - 1], dtype=np.uint64)


def words(pb: np.ndarray) -> np.ndarray:
    """The 8 bytes from every position of a `padded` buffer as little-endian uint64s (element ``i`` is
    ``pb[i:i + 8]``): an unaligned view, no copy. One gather then compares 8 bytes at once."""
    return np.ndarray((len(pb) - 7,), dtype="<u8", buffer=pb, strides=(1,))


def _masked(w: np.ndarray, pos: np.ndarray, length: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The first ``length`` (at most 16) bytes at each ``pos`` as two words, the bytes after zeroed."""
    return (w[pos] & _LOWMASK[np.clip(length, 0, 8)], w[pos + 8] & _LOWMASK[np.clip(length - 8, 0, 8)])


def _lit(s: bytes) -> np.ndarray:
    return np.frombuffer(s, dtype=np.uint8)


_K_O, _LIT_O = _u64(b"    Trai"), _lit(b"    Train net output #")
_K_IT = _u64(b"Iteratio")
_LIT_LR, _LIT_LOSS = _lit(b", lr = "), _lit(b", loss = ")
_LIT_ITERS, _LIT_ITER_S = _lit(b" iters), loss = "), _lit(b" iter/s, ")
_LIT_W, _LIT_EQ, _LIT_LOSSP = _lit(b" (* "), _lit(b" = "), _lit(b" loss)")
# always-INFO messages nothing is read from (only skipped when the line starts with ``I``)
_SKIP = [_lit(p) for p in (
    b"Data layer prefetch queue empty", b"Creating layer ", b"Setting up ", b"Ignoring source layer ",
    b"Restarting data prefetching", b"Waiting for data", b"output data size: ", b"Opened lmdb ",
    b"Opened leveldb ", b"Sharing parameters ", b"Solver scaffolding done", b"Starting Optimization",
    b"Use CPU", b"Use GPU ", b"Using GPUs ")]


def _is_stop(b: np.ndarray) -> np.ndarray:
    """Bytes that end a number token (`_STOPS` and the zero padding)."""
    return (b == 32) | (b == 44) | ((b >= 9) & (b <= 13)) | (b == 0)


def _token_end(mat: np.ndarray) -> np.ndarray:
    stop = mat == 0
    for ch in _STOPS:
        stop |= mat == ch
    return np.where(stop.any(axis=1), stop.argmax(axis=1), mat.shape[1])


def _tokens(pb: np.ndarray, starts: np.ndarray, limits: np.ndarray, width: int = 32
            ) -> tuple[np.ndarray, np.ndarray]:
    """End positions of the number tokens starting at ``starts`` and whether each is 1..width-1 long
    (a 16-byte window first, the full width for the rare longer ones)."""
    if len(starts) == 0:
        return starts.copy(), np.zeros(0, dtype=bool)
    rel = _token_end(windows(pb, starts, None, 16))  # a newline ends a token: no need to cut at the limit
    long = np.flatnonzero(rel >= 16)
    if len(long) and width > 16:
        rel[long] = _token_end(windows(pb, starts[long], None, width))
    rel = np.minimum(rel, np.maximum(limits - starts, 0))  # a CR before the newline
    return starts + rel, (rel > 0) & (rel < width)


def _has(pb: np.ndarray, at: np.ndarray, limits: np.ndarray, lit: np.ndarray) -> np.ndarray:
    """Whether the bytes at each ``at`` are ``lit`` (and end by ``limits``), 8 bytes per comparison."""
    if len(at) == 0:
        return np.zeros(0, dtype=bool)
    w = words(pb)
    raw = lit.tobytes()
    ok = at + len(raw) <= limits
    for j in range(0, len(raw), 8):
        part = raw[j:j + 8]
        x = w[at + j] if j else w[at]
        if len(part) < 8:
            x &= _LOWMASK[len(part)]
        ok &= x == int.from_bytes(part, "little")
    return ok


def _find(pb: np.ndarray, starts: np.ndarray, limits: np.ndarray, lit: np.ndarray, width: int
          ) -> tuple[np.ndarray, np.ndarray]:
    """First position of ``lit`` in each window; (positions, found). Looks in 32 bytes first."""
    if len(starts) == 0:
        return starts.copy(), np.zeros(0, dtype=bool)

    def look(st: np.ndarray, lim: np.ndarray, w: int) -> tuple[np.ndarray, np.ndarray]:
        win = windows(pb, st, None, w)
        k = len(lit)
        hit = win[:, :w - k + 1] == lit[0]
        for i in range(1, k):
            hit &= win[:, i:w - k + 1 + i] == lit[i]
        pos = st + hit.argmax(axis=1)
        return pos, hit.any(axis=1) & (pos + k <= lim)

    narrow = min(width, 32)
    pos, found = look(starts, limits, narrow)
    if width > narrow:
        miss = np.flatnonzero(~found)
        if len(miss):
            pos[miss], found[miss] = look(starts[miss], limits[miss], width)
    return pos, found


class FloatSpans:
    """Number tokens given as byte spans of the chunk, parsed together (pandas' C float parser;
    ``float()`` for anything it rejects). ``nan``/``inf`` as Caffe prints them are values."""

    def __init__(self, pb: np.ndarray) -> None:
        self.pb = pb
        self.starts: list[np.ndarray] = []
        self.ends: list[np.ndarray] = []
        self.values: np.ndarray | None = None
        self.ok: np.ndarray | None = None

    def add(self, starts: np.ndarray, ends: np.ndarray) -> slice:
        a = sum(len(s) for s in self.starts)
        self.starts.append(starts)
        self.ends.append(ends)
        return slice(a, a + len(starts))

    def run(self) -> None:
        s = np.concatenate(self.starts) if self.starts else np.empty(0, dtype=np.int64)
        e = np.concatenate(self.ends) if self.ends else np.empty(0, dtype=np.int64)
        n = len(s)
        length = np.clip(e - s, 0, 31)
        vals = None
        if n:
            # the tokens, one per line: their bytes and a newline each (row-major order of a mask)
            width = int(length.max()) + 1
            mat = windows(self.pb, s, None, width)
            col = np.arange(width)
            mat[np.arange(n), length] = 10
            blob = mat[col[None, :] <= length[:, None]]
            try:
                frame = pd.read_csv(io.BytesIO(blob.tobytes()), header=None, dtype=np.float64, engine="c",
                                    sep="\x01", quoting=3, skip_blank_lines=False, keep_default_na=False,
                                    na_values=["nan", "-nan", "NaN", "-NaN", "+nan"], comment=None)
                if frame.shape == (n, 1):
                    vals = frame.iloc[:, 0].to_numpy(dtype=np.float64)
            except (ValueError, TypeError, IndexError, pd.errors.ParserError, pd.errors.EmptyDataError):
                vals = None
        ok = length > 0
        if vals is None:
            vals = np.full(n, np.nan)
            for i in np.flatnonzero(ok):
                try:
                    vals[i] = float(self.pb[s[i]:s[i] + length[i]].tobytes())
                except ValueError:
                    ok[i] = False
        self.values, self.ok = vals, ok

    def get(self, sl: slice) -> tuple[np.ndarray, np.ndarray]:
        assert self.values is not None and self.ok is not None
        return self.values[sl], ~self.ok[sl]


def scan_chunk(p: LogParser, chunk: bytes) -> int:
    """Parse one chunk (whole lines) into ``p``: per-iteration lines vectorized, the rest via ``p._rest``.
    Returns the number of lines (newlines) of the chunk."""
    buf = np.frombuffer(chunk, dtype=np.uint8)
    nl = np.flatnonzero(buf == 10)
    if len(nl) == 0:
        return 0
    pb = padded(buf, 128)
    starts = np.empty(len(nl), dtype=np.int64)
    starts[0] = 0
    starts[1:] = nl[:-1] + 1
    ends = nl.astype(np.int64)
    base = p._lines
    brk = np.flatnonzero(buf == 93)
    brk = brk[pb[brk + 1] == 32]
    if len(brk):
        j = np.searchsorted(brk, starts)
        jc = np.minimum(j, len(brk) - 1)
        gi = np.flatnonzero((j < len(brk)) & (brk[jc] < ends))
        gpos = brk[jc[gi]]
    else:
        gi = gpos = np.empty(0, dtype=np.int64)
    ng = len(gi)
    p.glog_lines += ng
    if ng == 0 and p._block is None:
        _specials_only(p, chunk, nl, base)
        return len(nl)
    gms = gpos + 2
    gend = ends[gi]
    gend = gend - ((gend > gms) & (buf[np.maximum(gend - 1, 0)] == 13))  # CRLF

    wd = words(pb)
    w8 = wd[gms]  # the first 8 bytes of every message
    info = buf[starts[gi]] == 73  # the line starts with an INFO prefix
    skip = np.zeros(ng, dtype=bool)
    for lit in _SKIP:
        cand = np.flatnonzero((w8 == _u64(lit.tobytes())) & info)
        if len(cand):
            skip[cand[_has(pb, gms[cand], gend[cand], lit)]] = True
    fs = FloatSpans(pb)

    # ``    Train net output #k: name = v`` [`` (* w = c loss)``]
    o_c = np.flatnonzero(w8 == _K_O)
    if len(o_c):
        o_c = o_c[_has(pb, gms[o_c], gend[o_c], _LIT_O)]
    o_ms, o_lim = gms[o_c], gend[o_c]
    o_idx, ok, o_ie = parse_ints_at(pb, o_ms + 22, o_lim)
    ok &= (o_ie - o_ms - 22 <= 9) & (pb[o_ie] == 58) & (pb[o_ie + 1] == 32)
    o_ns = o_ie + 2
    o_eq, found = _find(pb, o_ns, o_lim, _LIT_EQ, 96)
    ok &= found & (o_eq > o_ns) & (o_eq - o_ns <= 64)
    o_vs = o_eq + 3
    o_ve, vok = _tokens(pb, o_vs, o_lim)
    ok &= vok
    wt = _has(pb, o_ve, o_lim, _LIT_W)
    o_ws = o_ve + 4
    # the usual weight ``1`` and weighted value as written before: their ends without a token search
    o_we = o_ws + 1
    wok = (pb[o_ws] == 49) & _is_stop(pb[o_we]) & (o_lim > o_ws)
    other = np.flatnonzero(~wok)
    if len(other):
        o_we[other], wok[other] = _tokens(pb, o_ws[other], o_lim[other])
    wt &= wok & _has(pb, o_we, o_lim, _LIT_EQ)
    o_cs = o_we + 3
    vlen = o_ve - o_vs
    o_ce = o_cs + vlen
    c0, c1 = _masked(wd, o_cs, vlen)
    v0, v1 = _masked(wd, o_vs, vlen)
    cok = (vlen <= 16) & (c0 == v0) & (c1 == v1) & _is_stop(pb[o_ce]) & (o_lim - o_cs >= vlen) & (vlen > 0)
    other = np.flatnonzero(~cok)
    if len(other):
        o_ce[other], cok[other] = _tokens(pb, o_cs[other], o_lim[other])
    wt &= cok & _has(pb, o_ce, o_lim, _LIT_LOSSP)
    o_keep = np.flatnonzero(ok)
    o_c, o_idx, o_ns, o_eq, o_vs, o_ve, wt = (a[o_keep] for a in (o_c, o_idx, o_ns, o_eq, o_vs, o_ve, wt))
    o_ws, o_we, o_cs, o_ce = (a[o_keep] for a in (o_ws, o_we, o_cs, o_ce))
    s_val = fs.add(o_vs, o_ve)
    w_sel = np.flatnonzero(wt)
    # the usual ``(* 1 = v loss)``: the weight is 1 and the weighted value is the value, as written
    w_one = (o_we[w_sel] - o_ws[w_sel] == 1) & (pb[o_ws[w_sel]] == 49)
    vlen = o_ve[w_sel] - o_vs[w_sel]
    c_same = (o_ce[w_sel] - o_cs[w_sel] == vlen) & (vlen <= 16)
    if len(w_sel):
        c0, c1 = _masked(wd, o_cs[w_sel], vlen)
        v0, v1 = _masked(wd, o_vs[w_sel], vlen)
        c_same &= (c0 == v0) & (c1 == v1)
    w_parse = w_sel[~w_one]
    c_parse = w_sel[~c_same]
    s_w = fs.add(o_ws[w_parse], o_we[w_parse])
    s_c = fs.add(o_cs[c_parse], o_ce[c_parse])

    # ``Iteration N, lr = x`` / ``Iteration N, loss = x`` / ``Iteration N (a iter/s, bs/n iters), loss = x``
    i_c = np.flatnonzero(w8 == _K_IT)
    i_c = i_c[(pb[gms[i_c] + 8] == 110) & (pb[gms[i_c] + 9] == 32)]
    i_ms, i_lim = gms[i_c], gend[i_c]
    it, it_ok, it_e = parse_ints_at(pb, i_ms + 10, i_lim)
    is_lr = it_ok & _has(pb, it_e, i_lim, _LIT_LR)
    is_loss = it_ok & _has(pb, it_e, i_lim, _LIT_LOSS)
    is_speed = it_ok & (pb[it_e] == 32) & (pb[it_e + 1] == 40)
    n_e = np.zeros(len(i_c), dtype=np.int64)
    n_v = np.full(len(i_c), -1, dtype=np.int64)
    a_s = it_e + 2
    a_e = np.zeros(len(i_c), dtype=np.int64)
    b_s = np.zeros(len(i_c), dtype=np.int64)
    b_e = np.zeros(len(i_c), dtype=np.int64)
    sp = np.flatnonzero(is_speed)
    if len(sp):  # 2017+: ``Iteration N (a iter/s, bs/n iters), loss = x``
        lim = i_lim[sp]
        ae, a_ok = _tokens(pb, a_s[sp], lim)
        ok = a_ok & _has(pb, ae, lim, _LIT_ITER_S)
        bs = ae + 9
        be, b_found = _find(pb, bs, lim, _lit(b"s/"), 34)
        bw = windows(pb, bs, np.minimum(be, lim), 32)
        bad_b = np.zeros(len(sp), dtype=bool)
        for ch in _STOPS:
            bad_b |= (bw == ch).any(axis=1)
        ok &= b_found & ~bad_b & (be > bs)
        nv, n_ok, ne = parse_ints_at(pb, be + 2, lim)
        ok &= n_ok & _has(pb, ne, lim, _LIT_ITERS)
        a_e[sp], b_s[sp], b_e[sp], n_v[sp], n_e[sp] = ae, bs, be, nv, ne
        is_speed[sp] = ok
    lr_sel = np.flatnonzero(is_lr)
    loss_sel = np.flatnonzero((is_loss | is_speed) & ~is_lr)
    v_start = np.where(is_lr, it_e + 7, np.where(is_loss, it_e + 9, n_e + 16))
    v_end, v_ok = _tokens(pb, v_start, i_lim)
    lr_sel = lr_sel[v_ok[lr_sel]]
    loss_sel = loss_sel[v_ok[loss_sel]]
    s_lr = fs.add(v_start[lr_sel], v_end[lr_sel])
    s_loss = fs.add(v_start[loss_sel], v_end[loss_sel])
    speed = loss_sel[is_speed[loss_sel]]
    s_a = fs.add(a_s[speed], a_e[speed])
    s_b = fs.add(b_s[speed], b_e[speed])
    fs.run()

    # the hot items, in file order; everything else is dispatched one line at a time
    hot_g = np.concatenate([o_c, i_c[lr_sel], i_c[loss_sel]])
    hot_k = np.concatenate([np.full(len(o_c), _O), np.full(len(lr_sel), _LR), np.full(len(loss_sel), _L)]
                           ).astype(np.int8)
    hot_sub = np.concatenate([np.arange(len(o_c)), np.arange(len(lr_sel)), np.arange(len(loss_sel))])
    order = np.argsort(hot_g, kind="stable")
    hot_g, hot_k, hot_sub = hot_g[order], hot_k[order], hot_sub[order]
    rare_mask = ~skip
    rare_mask[hot_g] = False
    rare_g = np.flatnonzero(rare_mask)
    # net set-up lines get their own handler (same regexes as the line-by-line dispatch)
    setup = np.zeros(ng, dtype=np.int8)
    for code, lit in ((_SHAPE, b"Top shap"), (_MEM, b"Memory r"), (_CREATE, b"Creating")):
        setup[w8 == _u64(lit)] = code
    named = np.flatnonzero((setup == 0) & rare_mask)
    if len(named):
        mw = windows(pb, gms[named], None, 64)
        lim = gend[named] - gms[named]
        for code, lit in ((_BOTTOM, b" <- "), (_TOP, b" -> "), (_BW, b" backward computation.")):
            k = len(lit)
            hit = mw[:, :64 - k + 1] == lit[0]
            for i in range(1, k):
                hit &= mw[:, i:64 - k + 1 + i] == lit[i]
            sel = hit.any(axis=1) & (hit.argmax(axis=1) + k <= lim) & (setup[named] == 0)
            setup[named[sel]] = code
    parsed = {"fs": fs, "pb": pb, "o_c": o_c, "o_idx": o_idx, "o_ns": o_ns, "o_eq": o_eq, "s_val": s_val,
              "w_sel": w_sel, "w_parse": w_parse, "c_parse": c_parse, "s_w": s_w, "s_c": s_c, "it": it,
              "lr_sel": lr_sel, "s_lr": s_lr, "loss_sel": loss_sel, "s_loss": s_loss, "is_speed": is_speed,
              "s_a": s_a, "s_b": s_b, "n_v": n_v}
    _sequence(p, chunk, buf, nl, starts, gi, gpos, gms, gend, rare_g, hot_g, hot_k, hot_sub, base, setup, parsed)
    return len(nl)


def _thread_spans(pb: np.ndarray, ls: np.ndarray, pos: np.ndarray, width: int = 48
                  ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """`parser._thread_at` for many heads ``pb[ls:pos]`` at once: the token before the last run of spaces
    (``... 24067 net.cpp:322``), from the ``width`` bytes before each ``pos``. Returns (start, end, how):
    how 1 = a thread id at [start, end), 0 = none, -1 = not decided in the window (ask `_thread_at`)."""
    n = len(pos)
    how = np.full(n, -1, dtype=np.int8)
    a = np.zeros(n, dtype=np.int64)
    b = np.zeros(n, dtype=np.int64)
    sel = np.flatnonzero(pos >= width)
    if len(sel) == 0:
        return a, b, how
    p0 = pos[sel] - width
    win = windows(pb, p0, None, width)
    col = np.arange(width)
    valid = col[None, :] >= (ls[sel] - p0)[:, None]
    reach = ls[sel] >= p0  # the window holds the whole head
    sp = (win == 32) & valid

    def last_before(mask: np.ndarray, before: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        m = mask & (col[None, :] < before[:, None])
        found = m.any(axis=1)
        return width - 1 - m[:, ::-1].argmax(axis=1), found

    j, has_j = last_before(sp, np.full(len(sel), width))
    # back over the spaces before j: the last valid non-space before it, plus one
    k, has_k = last_before(valid & ~sp, j)
    first_valid = np.maximum(ls[sel] - p0, 0)
    jj = np.where(has_k, k + 1, first_valid)
    i, has_i = last_before(sp, jj)
    tok_a = np.where(has_i, i + 1, first_valid)
    dig = (win >= 48) & (win <= 57)
    in_tok = (col[None, :] >= tok_a[:, None]) & (col[None, :] < jj[:, None])
    digits = ~(in_tok & ~dig).any(axis=1) & (jj > tok_a)
    decided = np.where(has_j, (has_k | reach) & (has_i | reach), reach)
    res = np.where(has_j, np.where(digits, 1, 0), 0)
    how[sel] = np.where(decided, res, -1).astype(np.int8)
    a[sel] = p0 + tok_a
    b[sel] = p0 + jj
    return a, b, how


def _specials_only(p: LogParser, chunk: bytes, nl: np.ndarray, base: int) -> None:
    if b"*** " not in chunk:
        return
    from caffecx.logs.parser import special_lines

    for ls, raw in special_lines(chunk):
        p._ln, p._lastpos = base + int(np.searchsorted(nl, ls)), ls
        p._special(chunk, ls, raw)


def _sequence(p: LogParser, chunk: bytes, buf: np.ndarray, nl: np.ndarray, starts: np.ndarray, gi: np.ndarray,
              gpos: np.ndarray, gms: np.ndarray, gend: np.ndarray, rare_g: np.ndarray, hot_g: np.ndarray,
              hot_k: np.ndarray, hot_sub: np.ndarray, base: int, setup: np.ndarray, v: dict[str, Any]) -> None:
    """Dispatch the rare lines in order, keeping runs and the current train row in step with the
    per-iteration lines between them; then give those lines their runs and rows (``v``: the fields
    `scan_chunk` parsed for them)."""
    from caffecx.logs.parser import (
        _RE_BOTTOM,
        _RE_BW,
        _RE_SHAPE,
        _RE_TOP,
        _thread_at,
        glog_line_at,
        special_lines,
    )

    n_hot = len(hot_g)
    is_ll = hot_k != _O
    is_l = hot_k == _L
    c_ll = np.concatenate([[0], np.cumsum(is_ll)])
    c_l = np.concatenate([[0], np.cumsum(is_l)])
    nxt = np.full(n_hot + 1, n_hot, dtype=np.int64)  # first L/LR item at or after each index
    ll_idx = np.flatnonzero(is_ll)
    if len(ll_idx):
        nxt[:n_hot] = ll_idx[np.minimum(np.searchsorted(ll_idx, np.arange(n_hot)), len(ll_idx) - 1)]
        nxt[:n_hot][np.arange(n_hot) > ll_idx[-1]] = n_hot
    hot_pos = gpos[hot_g].tolist()
    hot_line = base + gi[hot_g] + 1

    specials = special_lines(chunk)
    ng = len(gi)
    # per rare line: (glog index, position of "] ", line index, message start, end, line start, set-up kind)
    r_pos, r_ls, r_kind = gpos[rare_g], starts[gi[rare_g]], setup[rare_g]
    # thread ids of the set-up lines (their builder), found with numpy
    threads: list[bytes | None] = [None] * len(rare_g)
    su = np.flatnonzero(r_kind > 0)
    if len(su):
        ta, tb, how = _thread_spans(v["pb"], r_ls[su], r_pos[su])
        for k, a, b, h in zip(su.tolist(), ta.tolist(), tb.tolist(), how.tolist(), strict=True):
            threads[k] = chunk[a:b] if h == 1 else None if h == 0 else _thread_at(chunk, int(r_ls[k]), int(r_pos[k]))
    rare_rows = list(zip(rare_g.tolist(), r_pos.tolist(), gi[rare_g].tolist(), gms[rare_g].tolist(),
                         gend[rare_g].tolist(), r_kind.tolist(), threads, strict=True))
    rare_rows.append((ng, 1 << 62, 0, 0, 0, 0, None))

    run0 = p._run.index if p._run is not None and not p._ended else -1
    cur0 = p._cur if p._run is not None and not p._ended else -1
    rows0 = p._nrows
    boundaries: list[tuple[int, int]] = []  # (hot index, run) from there on
    events: list[tuple[int, int]] = []  # (key, current train row from there on; -1 = none)
    shifts: list[tuple[int, int]] = []  # (hot index, train rows made by dispatched lines so far)
    shift = 0
    h = 0
    next_hot = hot_pos[0] if n_hot else 1 << 62

    def catch_up(k: int) -> None:
        nonlocal h, next_hot
        if c_ll[k] > c_ll[h]:
            first = int(nxt[h])
            if p._run is None or p._ended:
                r = p._new_run("continued", int(hot_line[first]))
                boundaries.append((first, r.index))
                events.append((2 * first, -1))
            p._active = True
        cl = int(c_l[k])
        if cl > c_l[h]:
            p._cur = rows0 + cl - 1 + shift
        p._nrows = rows0 + cl + shift
        h = k
        next_hot = hot_pos[h] if h < n_hot else 1 << 62

    skip_until = -1  # lines of an echo that has "] " in them (a prefix like ``[worker 1] ``) up to here

    def block_end(j: int) -> int:
        """Close the open echo at the first glog line from index ``j``; where scanning resumes."""
        while j < ng and not glog_line_at(chunk, int(gpos[j])):
            j += 1
        if j < ng:
            p._end_block(chunk, int(gpos[j]))
            return int(gpos[j])
        return 1 << 62

    if p._block is not None:  # an echo from the previous chunk
        skip_until = block_end(0)
    sp_i = 0
    n_sp = len(specials)
    rest, shape_, memory_, create_, bottom_, top_, backward_ = (p._rest, p._shape, p._memory, p._create, p._bottom,
                                                                p._top, p._backward)
    re_shape, re_bottom, re_top, re_bw = _RE_SHAPE, _RE_BOTTOM, _RE_TOP, _RE_BW
    for g, pos, li, ms, me, kind, thread in rare_rows:
        while sp_i < n_sp and specials[sp_i][0] < pos:  # ``*** Aborted at`` ... in between
            ls, raw = specials[sp_i]
            sp_i += 1
            if next_hot < ls:
                catch_up(bisect_left(hot_pos, ls, h))
            state = (p._run, p._ended, p._nrows, p._cur)
            p._ln, p._lastpos = base + int(np.searchsorted(nl, ls)), ls
            p._special(chunk, ls, raw)
            if state != (p._run, p._ended, p._nrows, p._cur):
                boundaries.append((h, p._run.index if p._run is not None else -1))
                events.append((2 * h, -1 if p._ended else p._cur))
        if g == ng:
            break
        if pos < skip_until:
            p.glog_lines -= 1
            continue
        if next_hot < pos:
            catch_up(bisect_left(hot_pos, pos, h))
        msg = chunk[ms:me]
        if kind > _CREATE:  # layer lines that only fill a layer record: no state to follow
            if kind == _SHAPE and (m := re_shape.fullmatch(msg.rstrip())):
                shape_(thread, m.group(1), m.group(2), base + li + 1)
                continue
            if kind == _MEM and msg.startswith(b"Memory required for data: ") and msg[26:].isdigit() \
                    and len(msg) <= 46:
                memory_(thread, msg[26:], base + li + 1)
                continue
            if kind == _BOTTOM and (m := re_bottom.fullmatch(msg)):
                bottom_(thread, m.group(1), m.group(2))
                continue
            if kind == _TOP and (m := re_top.fullmatch(msg)):
                top_(thread, m.group(1), m.group(2), m.group(3) is not None)
                continue
            if kind == _BW and (m := re_bw.fullmatch(msg)):
                backward_(thread, m.group(1), m.group(2) == b"needs")
                continue
        run_before, ended_before, rows_before, cur_before = p._run, p._ended, p._nrows, p._cur
        p._ln, p._lastpos = base + li, pos
        if kind == _CREATE and msg.startswith(b"Creating Layer "):
            create_(thread, msg[15:].strip(), base + li + 1)
        else:
            rest(chunk, pos, msg)
        if p._run is not run_before:
            boundaries.append((h, p._run.index if p._run is not None else -1))
        if p._nrows != rows_before:
            shift += p._nrows - rows_before
            shifts.append((h, shift))
        if p._run is not run_before or p._ended != ended_before or p._cur != cur_before:
            events.append((2 * h, p._cur if not p._ended else -1))
        if p._block is not None:
            skip_until = block_end(g + 1)
    catch_up(n_hot)
    if n_hot == 0:
        return

    # runs and train rows of the per-iteration lines
    idx = np.arange(n_hot)
    run = np.full(n_hot, run0, dtype=np.int64)
    for at, r in boundaries:
        run[at:] = r
    shift_at = np.zeros(n_hot, dtype=np.int64)
    for at, s in shifts:
        shift_at[at:] = s
    row_id = rows0 + c_l[:-1] + shift_at  # for L items: their own row
    keys = np.concatenate([np.array([k for k, _ in events], dtype=np.int64), 2 * np.flatnonzero(is_l) + 1])
    vals = np.concatenate([np.array([r for _, r in events], dtype=np.int64), row_id[is_l]])
    korder = np.argsort(keys, kind="stable")
    keys, vals = keys[korder], vals[korder]
    if len(keys):
        at = np.searchsorted(keys, 2 * idx + 1, side="left") - 1
        cur = np.where(at >= 0, vals[np.maximum(at, 0)], cur0)
    else:
        cur = np.full(n_hot, cur0, dtype=np.int64)

    fs: FloatSpans = v["fs"]
    o_sel = np.flatnonzero(hot_k == _O)
    o_rows = cur[o_sel]
    live = o_rows >= 0
    p.orphans += int((~live).sum())
    if live.any():
        sub = hot_sub[o_sel][live]
        val, val_m = fs.get(v["s_val"])
        n_o = len(v["o_c"])
        w = np.full(n_o, np.nan)
        wm = np.ones(n_o, dtype=bool)
        c = np.full(n_o, np.nan)
        cm = np.ones(n_o, dtype=bool)
        w_sel = v["w_sel"]
        w[w_sel], wm[w_sel] = 1.0, False
        w[v["w_parse"]], wm[v["w_parse"]] = fs.get(v["s_w"])
        c[w_sel], cm[w_sel] = val[w_sel], val_m[w_sel]
        c[v["c_parse"]], cm[v["c_parse"]] = fs.get(v["s_c"])
        names = _names(p, v["pb"], v["o_ns"], v["o_eq"])
        p.out_parts.append({"row": o_rows[live], "index": v["o_idx"][sub], "name": names[sub],
                            "value": val[sub], "value_missing": val_m[sub], "loss_weight": w[sub],
                            "loss_weight_missing": wm[sub], "weighted": c[sub], "weighted_missing": cm[sub]})
    lr_items = np.flatnonzero(hot_k == _LR)
    if len(lr_items):
        sub = hot_sub[lr_items]
        lr, lr_m = fs.get(v["s_lr"])
        p.lr_parts.append({"run": run[lr_items], "iteration": v["it"][v["lr_sel"]][sub], "lr": lr[sub],
                           "lr_missing": lr_m[sub]})
    l_items = np.flatnonzero(is_l)
    if len(l_items):
        sub = hot_sub[l_items]
        sel = v["loss_sel"]
        loss, loss_m = fs.get(v["s_loss"])
        n_l = len(sel)
        ips = np.full(n_l, np.nan)
        ips_m = np.ones(n_l, dtype=bool)
        spi = np.full(n_l, np.nan)
        spi_m = np.ones(n_l, dtype=bool)
        ni = np.full(n_l, -1, dtype=np.int64)
        sp = np.flatnonzero(v["is_speed"][sel])
        ips[sp], ips_m[sp] = fs.get(v["s_a"])
        spi[sp], spi_m[sp] = fs.get(v["s_b"])
        ni[sp] = v["n_v"][sel][sp]
        g = hot_g[l_items]
        codes, tods = glog.stamps_at(v["pb"], starts[gi[g]], gpos[g])  # (padded: no copy)
        p.row_parts.append({
            "row": row_id[l_items], "run": run[l_items], "iteration": v["it"][sel][sub], "loss": loss[sub],
            "loss_missing": loss_m[sub], "lr": np.full(len(sub), np.nan), "lr_missing": np.ones(len(sub), dtype=bool),
            "iters_per_s": ips[sub], "iters_per_s_missing": ips_m[sub], "s_per_interval": spi[sub],
            "s_per_interval_missing": spi_m[sub], "interval_iters": ni[sub], "date": codes, "tod": tods,
            "line": base + gi[g] + 1,
        })


def _names(p: LogParser, pb: np.ndarray, ns: np.ndarray, eq: np.ndarray) -> np.ndarray:
    """Output names (between ``#k: `` and `` = ``) as codes of ``p.out_names``."""
    n = len(ns)
    if n == 0:
        return np.empty(0, dtype=np.int64)
    length = eq - ns
    table = p.out_names
    if int(length.max()) <= 16:  # names are short: two words and the length are the name
        k0, k1 = _masked(words(pb), ns, length)
        h = (k0 * np.uint64(0x9E3779B97F4A7C15)) ^ (k1 * np.uint64(0xC2B2AE3D27D4EB4F)) ^ length.astype(np.uint64)
        _, first, inv = np.unique(h, return_index=True, return_inverse=True)
        inv = inv.ravel()
        if (k0[first][inv] == k0).all() and (k1[first][inv] == k1).all() and (length[first][inv] == length).all():
            codes = np.array([table.setdefault(pb[ns[i]:eq[i]].tobytes(), len(table)) for i in first.tolist()],
                             dtype=np.int64)
            return codes[inv]
    width = 16 if int(length.max()) <= 16 else 64
    mat = np.ascontiguousarray(windows(pb, ns, eq, width))
    keys = mat.view(np.dtype((np.void, width))).ravel()
    uniq, first, inv = np.unique(keys, return_index=True, return_inverse=True)
    codes = np.array([table.setdefault(bytes(mat[i, :eq[i] - ns[i]]), len(table)) for i in first.tolist()],
                     dtype=np.int64)
    return codes[inv.ravel()]
