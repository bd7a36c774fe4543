"""The vectorized scan of one chunk of a log: numpy over the bytes, Python only for the rare lines.

numpy finds every line, its first ``] `` (the end of the glog prefix) and the kind of its message by
comparing the first bytes with Caffe's wordings. The per-iteration lines -- ``Iteration N, loss =
x`` (also 2017's ``Iteration N (a iter/s, bs/n iters), loss = x``), ``Iteration N, lr = x`` and
``Train net output #k: name = v (* w = c loss)`` -- are parsed without a Python loop: fields are
located with byte comparisons on fixed-width windows and the numbers are handed in one batch to
pandas' C parser. A line whose text does not have exactly the expected shape is not guessed at: it
joins the rare lines (net set-up, tests, snapshots, errors...), handled in file order. The net set-up
lines (``Creating Layer X``, ``X <- b``, ``X -> t``, ``Top shape:``, ``Memory required for data:``,
``X needs backward computation.``) only fill layer records: numpy finds and cuts them up where the
dispatch's regexes would, and one tight loop fills them in; the others go one by one through
`LogParser`'s dispatch. Between two dispatched lines the state they depend on
(current run, current train row) is brought up to date from prefix counts, and afterwards numpy
assigns runs and train rows to the per-iteration lines from the recorded state changes -- with the
same results as the line-by-line path (``tests/logs`` compares the two on every log).
"""

from __future__ import annotations

import io
from bisect import bisect_left
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from caffecx.logs import glog
from caffecx.logs.numparse import padded, parse_ints_at, windows
from caffecx.logs.records import LayerRecord

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
    return (b == 32) | (b == 44) | ((b - np.uint8(9)) <= 4) | (b == 0)


def _token_end(mat: np.ndarray) -> np.ndarray:
    stop = _is_stop(mat)
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
    o_keep = np.flatnonzero(ok)
    o_c, o_idx, o_ns, o_eq, o_vs, o_ve, o_lim = (a[o_keep] for a in (o_c, o_idx, o_ns, o_eq, o_vs, o_ve, o_lim))
    s_val = fs.add(o_vs, o_ve)
    # `` (* w = c loss)``, mostly the weight ``1`` and the weighted value as written before: those are
    # known without a token search (and not parsed again)
    w_sel = np.flatnonzero(_has(pb, o_ve, o_lim, _LIT_W))
    lim, vs, ve = o_lim[w_sel], o_vs[w_sel], o_ve[w_sel]
    ws = ve + 4
    we = ws + 1
    w_one = (pb[ws] == 49) & _is_stop(pb[we]) & (lim > ws)
    wok = w_one.copy()
    other = np.flatnonzero(~w_one)
    if len(other):
        we[other], wok[other] = _tokens(pb, ws[other], lim[other])
    wok &= _has(pb, we, lim, _LIT_EQ)
    cs = we + 3
    vlen = ve - vs
    ce = cs + vlen
    c0, c1 = _masked(wd, cs, vlen)
    v0, v1 = _masked(wd, vs, vlen)
    c_same = (vlen <= 16) & (c0 == v0) & (c1 == v1) & _is_stop(pb[ce]) & (lim - cs >= vlen) & (vlen > 0)
    cok = c_same.copy()
    other = np.flatnonzero(~c_same)
    if len(other):
        ce[other], cok[other] = _tokens(pb, cs[other], lim[other])
    wok &= cok & _has(pb, ce, lim, _LIT_LOSSP)
    sel = np.flatnonzero(wok)
    w_sel, ws, we, cs, ce, w_one, c_same = (a[sel] for a in (w_sel, ws, we, cs, ce, w_one, c_same))
    w_parse = w_sel[~w_one]
    c_parse = w_sel[~c_same]
    s_w = fs.add(ws[~w_one], we[~w_one])
    s_c = fs.add(cs[~c_same], ce[~c_same])

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
    kinds = _setup_kinds(pb, gms[rare_g], gend[rare_g], w8[rare_g])
    parsed = {"fs": fs, "pb": pb, "o_c": o_c, "o_idx": o_idx, "o_ns": o_ns, "o_eq": o_eq, "s_val": s_val,
              "w_sel": w_sel, "w_parse": w_parse, "c_parse": c_parse, "s_w": s_w, "s_c": s_c, "it": it,
              "lr_sel": lr_sel, "s_lr": s_lr, "loss_sel": loss_sel, "s_loss": s_loss, "is_speed": is_speed,
              "s_a": s_a, "s_b": s_b, "n_v": n_v}
    _sequence(p, chunk, nl, starts, gi, gpos, gms, gend, rare_g, hot_g, hot_k, hot_sub, base, kinds, parsed)
    return len(nl)


_TOP_IP, _BW_NOT = 7, 8  # ``X -> Y (in-place)``, ``X does not need backward computation.``
_K_CREATE, _K_SHAPE, _K_MEM = _u64(b"Creating"), _u64(b"Top shap"), _u64(b"Memory r")
_LIT_CREATE, _LIT_MEM = _lit(b"Creating Layer "), _lit(b"Memory required for data: ")
_LIT_IN_PLACE, _LIT_NEEDS = _lit(b" (in-place)"), _lit(b" needs backward computation.")
_LIT_NOT_NEEDS = _lit(b" does not need backward computation.")
_K4 = {k: int.from_bytes(s, "little") for k, s in ((_BOTTOM, b" <- "), (_TOP, b" -> "), (_BW, b" nee"),
                                                    (_BW_NOT, b" doe"))}
_NAMED_W = 64  # the window in which the dispatch looks for `` <- `` / `` -> `` / `` backward computation.``


def _ws(win: np.ndarray) -> np.ndarray:
    """Which bytes are whitespace as a bytes regex's ``\\s`` has it (space, 9 to 13)."""
    return (win == 32) | ((win - np.uint8(9)) <= 4)


class SetupKinds:
    """Per rare line: ``kind`` (0: dispatch it; -1: a set-up form the windows do not decide, see
    `setup_kind_plain`) and the spans the set-up handlers read (``a:b`` the layer, ``c:d`` the blob;
    ``c`` the value of a ``Memory`` line)."""

    __slots__ = ("kind", "a", "b", "c", "d")

    def __init__(self, n: int) -> None:
        self.kind = np.zeros(n, dtype=np.int8)
        self.a = np.zeros(n, dtype=np.int64)
        self.b = np.zeros(n, dtype=np.int64)
        self.c = np.zeros(n, dtype=np.int64)
        self.d = np.zeros(n, dtype=np.int64)

    def put(self, sel: np.ndarray, kind: int | np.ndarray, *spans: np.ndarray) -> None:
        self.kind[sel] = kind
        for arr, v in zip((self.a, self.b, self.c, self.d), spans, strict=False):
            arr[sel] = v


def _setup_kinds(pb: np.ndarray, ms: np.ndarray, me: np.ndarray, w8: np.ndarray) -> SetupKinds:
    """The net set-up lines among the rare lines (messages ``pb[ms:me]``), read as the line-by-line
    dispatch reads them: ``Creating Layer X``, ``Top shape: ...`` (its regex is applied later: a
    line it does not match is dispatched), ``Memory required for data: N``, ``X <- Y``, ``X -> Y``
    [`` (in-place)``], ``X needs / does not need backward computation.``"""
    out = SetupKinds(len(ms))
    sel = np.flatnonzero(w8 == _K_CREATE)
    sel = sel[_has(pb, ms[sel], me[sel], _LIT_CREATE)]
    out.put(sel, _CREATE, ms[sel] + 15, me[sel])
    sel = np.flatnonzero(w8 == _K_SHAPE)
    out.put(sel, _SHAPE, ms[sel], me[sel])
    sel = np.flatnonzero(w8 == _K_MEM)
    sel = sel[_has(pb, ms[sel], me[sel], _LIT_MEM)]
    val, ok, end = parse_ints_at(pb, ms[sel] + 26, me[sel])
    ok &= end == me[sel]  # only digits to the end (longer numbers are dispatched: the same result)
    out.put(sel[ok], _MEM, 0, 0, val[ok])
    sel = np.flatnonzero((w8 != _K_CREATE) & (w8 != _K_SHAPE) & (w8 != _K_MEM))
    kind, a, b, c, d = _named_kinds(pb, ms[sel], me[sel])
    out.put(sel, kind, a, b, c, d)
    return out


def _named_kinds(pb: np.ndarray, ms: np.ndarray, me: np.ndarray
                 ) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """``X <- Y``, ``X -> Y`` [`` (in-place)``] and ``X needs / does not need backward computation.``
    exactly where the dispatch of `setup_kind_plain` and the regexes ``_RE_BOTTOM`` / ``_RE_TOP`` /
    ``_RE_BW`` take them: ``X`` runs to the first whitespace, which must start the arrow or the
    wording. Returns (kind, layer start, layer end, blob start, blob end); kind -1 where the blob
    goes past the window (decided line by line)."""
    n = len(ms)
    kind = np.zeros(n, dtype=np.int8)
    a, b = ms.copy(), ms.copy()
    c, d = ms.copy(), me.copy()
    if n == 0:
        return kind, a, b, c, d
    width = _NAMED_W
    length = me - ms
    ws = _ws(windows(pb, ms, None, width))  # (the byte at ``me`` is a CR or the newline: whitespace)
    s1 = ws.argmax(axis=1)
    cand = np.flatnonzero(ws.any(axis=1) & (s1 >= 1) & (s1 < length) & (s1 <= width - 4))
    s1, lens = s1[cand], length[cand]
    q = ms[cand] + s1
    w4 = words(pb)[q] & _LOWMASK[4]
    b[cand] = q
    c[cand] = q + 4
    k = np.zeros(len(cand), dtype=np.int8)
    arrow = np.flatnonzero((w4 == _K4[_BOTTOM]) | (w4 == _K4[_TOP]))
    if len(arrow):
        col = np.arange(width)
        after = ws[cand[arrow]] & (col[None, :] >= s1[arrow, None] + 4)
        found = after.any(axis=1)
        t = after.argmax(axis=1)
        far = np.flatnonzero(~found)  # a long blob: look further
        if len(far):
            ws2 = _ws(windows(pb, q[arrow[far]] + 4, None, 2 * width))  # (the padding is 128 bytes)
            found[far] = ws2.any(axis=1)
            t[far] = s1[arrow[far]] + 4 + ws2.argmax(axis=1)
        sa, la, top = s1[arrow], lens[arrow], w4[arrow] == _K4[_TOP]
        blob = found & (t > sa + 4)  # the blob: to the next whitespace, not empty
        ka = np.where(found, 0, -1).astype(np.int8)
        ka[blob & (t == la)] = np.where(top, _TOP, _BOTTOM)[blob & (t == la)]
        ip = np.flatnonzero(blob & top & (t < la) & (la - t == 11))
        if len(ip):
            at = ms[cand[arrow[ip]]] + t[ip]
            ok = _has(pb, at, me[cand[arrow[ip]]], _LIT_IN_PLACE)
            bs = ms[cand[arrow[ip]]] + sa[ip] + 4
            # ``X -> <- (in-place)`` holds `` <- ``, which the dispatch looks for first
            ok &= ~((t[ip] - sa[ip] == 6) & (pb[bs] == 60) & (pb[bs + 1] == 45) & (sa[ip] <= width - 7))
            ka[ip[ok]] = _TOP_IP
            d[cand[arrow[ip[ok]]]] = ms[cand[arrow[ip[ok]]]] + t[ip[ok]]
        k[arrow] = ka
    for code, lit, wide in ((_BW, _LIT_NEEDS, 6), (_BW_NOT, _LIT_NOT_NEEDS, 14)):
        sel = np.flatnonzero((w4 == _K4[code]) & (lens - s1 == len(lit)) & (s1 + wide + 22 <= width))
        if len(sel):
            k[sel[_has(pb, q[sel], me[cand[sel]], lit)]] = code
    kind[cand] = k
    return kind, a, b, c, d


def setup_kind_plain(msg: bytes) -> int:
    """The set-up form the dispatch tries for a message whose first bytes are none of ``Creating`` /
    ``Top shap`` / ``Memory r``: the first of `` <- ``, `` -> ``, `` backward computation.`` found in
    its first 64 bytes (then its regex decides)."""
    for code, lit in ((_BOTTOM, b" <- "), (_TOP, b" -> "), (_BW, b" backward computation.")):
        if msg.find(lit, 0, _NAMED_W) >= 0:
            return code
    return 0


_UNDECIDED = object()
_STAMP_END = 21  # ``I0405 18:22:46.263157`` ends there
_MIX = [np.uint64(m) for m in (0x9E3779B97F4A7C15, 0xC2B2AE3D27D4EB4F, 0x165667B19E3779F9, 0xD6E8FEB86659FD93,
                                 0xFF51AFD7ED558CCD)]


def _thread_in(chunk: bytes, a: int, pos: int, whole: bool) -> Any:
    """`parser._thread_at` on ``chunk[a:pos]``, the end of a head (``whole``: all of it); `_UNDECIDED`
    when the answer depends on the bytes before ``a``."""
    j = chunk.rfind(b" ", a, pos)
    if j < 0:
        return None if whole else _UNDECIDED
    while j > a and chunk[j - 1] == 32:
        j -= 1
    i = chunk.rfind(b" ", a, j)
    if i < 0:
        if not whole:
            return _UNDECIDED
        tok = chunk[a:j]
    else:
        tok = chunk[i + 1:j]
    return tok if tok.isdigit() else None


def _thread_codes(chunk: bytes, pb: np.ndarray, ls: np.ndarray, pos: np.ndarray) -> list[bytes | None]:
    """`parser._thread_at` for the heads ``chunk[ls:pos]`` of many lines. The thread id is near the end
    of a head (``I0405 18:22:46.263157 13500 net.cpp:157``): heads whose bytes from the 22nd on (after
    the timestamp of a plain prefix) are the same are decided once, from those bytes."""
    from caffecx.logs.parser import _thread_at

    n = len(pos)
    if n == 0:
        return []
    span = 32
    # the end of a plain prefix's timestamp (``I0405 18:22:46.263157``, with a year ``I20261122 ...``)
    end = np.where((pb[ls + _STAMP_END] != 32) & (pb[ls + _STAMP_END + 4] == 32), _STAMP_END + 4, _STAMP_END)
    whole = pos - ls <= end
    a = np.where(whole, ls, ls + end)
    length = pos - a
    w = words(pb)
    keys = [w[a + i] & _LOWMASK[np.clip(length - i, 0, 8)] for i in range(0, span, 8)]
    keys.append((length + whole * (span + 1)).astype(np.uint64))
    h = np.zeros(n, dtype=np.uint64)
    for k, mult in zip(keys, _MIX, strict=True):
        h ^= k * mult
    _, first, inv = np.unique(h, return_index=True, return_inverse=True)
    inv = inv.ravel()
    bad = length > span  # (a long head: line by line)
    for k in keys:  # (a hash collision leaves its lines to `_thread_at`)
        bad |= k[first][inv] != k
    values = [_thread_in(chunk, int(a[f]), int(pos[f]), bool(whole[f])) for f in first.tolist()]
    undecided = [j for j, v in enumerate(values) if v is _UNDECIDED]
    if undecided:
        bad |= np.isin(inv, undecided)
    out = list(map(values.__getitem__, inv.tolist()))
    for i in np.flatnonzero(bad).tolist():
        out[i] = _thread_at(chunk, int(ls[i]), int(pos[i]))
    return out


def _specials_only(p: LogParser, chunk: bytes, nl: np.ndarray, base: int) -> None:
    if b"*** " not in chunk:
        return
    from caffecx.logs.parser import special_lines

    for ls, raw in special_lines(chunk):
        p._ln, p._lastpos = base + int(np.searchsorted(nl, ls)), ls
        p._special(chunk, ls, raw)


def _sequence(p: LogParser, chunk: bytes, nl: np.ndarray, starts: np.ndarray, gi: np.ndarray, gpos: np.ndarray,
              gms: np.ndarray, gend: np.ndarray, rare_g: np.ndarray, hot_g: np.ndarray, hot_k: np.ndarray,
              hot_sub: np.ndarray, base: int, kinds: SetupKinds, v: dict[str, Any]) -> None:
    """Dispatch the rare lines in order, keeping runs and the current train row in step with the
    per-iteration lines between them; then give those lines their runs and rows (``v``: the fields
    `scan_chunk` parsed for them). The set-up lines `_setup_kinds` found only fill layer records: they
    are handled in one tight loop between the other lines (``setup_lines``), without the state the
    per-iteration lines need (unless a run has ended: a training line may start one, and a new run
    drops the nets being set up)."""
    from caffecx.logs.parser import (
        _RE_BOTTOM,
        _RE_BW,
        _RE_SHAPE,
        _RE_TOP,
        _thread_at,
        add_top_shape,
        glog_line_at,
        special_lines,
    )

    n_hot = len(hot_g)
    is_ll = hot_k != _O
    is_l = hot_k == _L
    c_ll = np.concatenate([[0], np.cumsum(is_ll)])
    c_l = np.concatenate([[0], np.cumsum(is_l)])
    ll_idx = np.flatnonzero(is_ll)
    hot_pos = gpos[hot_g]
    hot_line = base + gi[hot_g] + 1

    specials = special_lines(chunk)
    ng = len(gi)
    kind = kinds.kind
    # the set-up lines, as (kind, thread, a, b, c, d, line, glog index), and their positions
    su = np.flatnonzero(kind > 0)
    su_g = rare_g[su]
    su_pos = gpos[su_g]
    threads = _thread_codes(chunk, v["pb"], starts[gi[su_g]], su_pos)
    su_rows = list(zip(kind[su].tolist(), threads, kinds.a[su].tolist(), kinds.b[su].tolist(), kinds.c[su].tolist(),
                       kinds.d[su].tolist(), (base + gi[su_g] + 1).tolist(), su_g.tolist(), strict=True))
    su_pos_l = su_pos.tolist()
    n_su = len(su_rows)
    # the other rare lines: (glog index, position of "] ", line index, message start, end, kind, and how many
    # per-iteration lines come before it)
    ot = np.flatnonzero(kind <= 0)
    ot_g = rare_g[ot]
    ot_pos = gpos[ot_g]
    rows = list(zip(ot_g.tolist(), ot_pos.tolist(), gi[ot_g].tolist(), gms[ot_g].tolist(), gend[ot_g].tolist(),
                    kind[ot].tolist(), np.searchsorted(hot_pos, ot_pos).tolist(), strict=True))
    rows.append((ng, 1 << 62, 0, 0, 0, 0, n_hot))
    sp_hot = np.searchsorted(hot_pos, [ls for ls, _ in specials]).tolist()

    run0 = p._run.index if p._run is not None and not p._ended else -1
    cur0 = p._cur if p._run is not None and not p._ended else -1
    rows0 = p._nrows
    boundaries: list[tuple[int, int]] = []  # (hot index, run) from there on
    events: list[tuple[int, int]] = []  # (key, current train row from there on; -1 = none)
    shifts: list[tuple[int, int]] = []  # (hot index, train rows made by dispatched lines so far)
    shift = 0
    h = 0  # the per-iteration lines before this one are accounted for

    def catch_up(k: int) -> None:
        nonlocal h
        if c_ll[k] > c_ll[h]:
            if p._run is None or p._ended:
                first = int(ll_idx[np.searchsorted(ll_idx, h)])  # the first L/LR item from h
                r = p._new_run("continued", int(hot_line[first]))
                boundaries.append((first, r.index))
                events.append((2 * first, -1))
            p._active = True
        cl = int(c_l[k])
        if cl > c_l[h]:
            p._cur = rows0 + cl - 1 + shift
        p._nrows = rows0 + cl + shift
        h = k

    def hot_before(pos: int) -> int:
        return int(np.searchsorted(hot_pos, pos))

    skip_until = -1  # lines of an echo that has "] " in them (a prefix like ``[worker 1] ``) up to here

    def block_end(j: int) -> int:
        """Close the open echo at the first glog line from index ``j``; where scanning resumes."""
        while j < ng and not glog_line_at(chunk, int(gpos[j])):
            j += 1
        if j < ng:
            p._end_block(chunk, int(gpos[j]))
            return int(gpos[j])
        return 1 << 62

    rest, create_ = p._rest, p._create
    re_shape, re_bottom, re_top, re_bw = _RE_SHAPE, _RE_BOTTOM, _RE_TOP, _RE_BW

    def dispatch(g: int, pos: int, li: int, ms: int, me: int, kind: int, thread: bytes | None, hk: int) -> None:
        """One line through the parser's dispatch (``hk`` per-iteration lines before it), with the state
        the per-iteration lines depend on followed."""
        nonlocal shift, skip_until
        if hk > h:
            catch_up(hk)
        msg = chunk[ms:me]
        if kind > _CREATE:  # (a set-up form `_named_kinds` left undecided)
            if kind == _BOTTOM and (m := re_bottom.fullmatch(msg)):
                p._bottom(thread, m.group(1), m.group(2))
                return
            if kind == _TOP and (m := re_top.fullmatch(msg)):
                p._top(thread, m.group(1), m.group(2), m.group(3) is not None)
                return
            if kind == _BW and (m := re_bw.fullmatch(msg)):
                p._backward(thread, m.group(1), m.group(2) == b"needs")
                return
        run_before, ended_before, rows_before, cur_before = p._run, p._ended, p._nrows, p._cur
        p._ln, p._lastpos = base + li, pos
        if kind == _CREATE:
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

    si = 0  # the next set-up line

    def setup_lines(limit: int) -> None:
        """The set-up lines before position ``limit``."""
        nonlocal si
        builders = p._builders
        get = builders.get
        while si < n_su and su_pos_l[si] < limit:
            if su_pos_l[si] < skip_until:  # inside an echo
                j = bisect_left(su_pos_l, min(skip_until, limit), si)
                p.glog_lines -= j - si
                si = j
                continue
            if p._run is None or p._ended:  # a per-iteration line in between may start a run (new builders)
                hk = hot_before(su_pos_l[si])
                if hk > h:
                    catch_up(hk)
                j = si + 1
            else:
                j = bisect_left(su_pos_l, limit, si)
            k = si
            for kind, thread, a, b, c, d, line, g in su_rows[si:j]:
                k += 1
                bld = get(thread)
                if kind == _TOP or kind == _TOP_IP:
                    if bld is not None and (rec := bld.net._by_name.get(chunk[a:b].decode("utf-8", "replace"))):
                        rec.tops.append(chunk[c:d].decode("utf-8", "replace"))
                        rec.in_place.append(kind == _TOP_IP)
                elif kind == _SHAPE:
                    m = re_shape.fullmatch(chunk[a:b].rstrip())
                    if m is None:  # not the form: the dispatch decides
                        si = k
                        pos = su_pos_l[k - 1]
                        dispatch(g, pos, int(gi[g]), a, b, 0, thread, hot_before(pos))
                        break
                    if bld is not None and (rec := bld.cur) is not None:
                        add_top_shape(rec, m.group(1), m.group(2), line)
                elif kind == _BOTTOM:
                    if bld is not None and (rec := bld.net._by_name.get(chunk[a:b].decode("utf-8", "replace"))):
                        rec.bottoms.append(chunk[c:d].decode("utf-8", "replace"))
                elif kind == _CREATE:
                    if bld is None:  # a net that was not announced: made here (and maybe a run)
                        si = k
                        pos = su_pos_l[k - 1]
                        dispatch(g, pos, int(gi[g]), a - 15, b, _CREATE, thread, hot_before(pos))
                        break
                    name = chunk[a:b].strip().decode("utf-8", "replace")
                    rec = LayerRecord(name=name, line=line)
                    net = bld.net
                    net.layers.append(rec)
                    net._by_name[name] = rec
                    bld.cur = rec
                elif kind == _MEM:
                    if bld is not None and (rec := bld.cur) is not None:
                        rec.memory_bytes = c
                        rec.memory_line = line
                elif bld is not None and (rec := bld.net._by_name.get(chunk[a:b].decode("utf-8", "replace"))):
                    rec.needs_backward = kind == _BW
            else:
                si = j

    if p._block is not None:  # an echo from the previous chunk
        skip_until = block_end(0)
    sp_i = 0
    n_sp = len(specials)
    for g, pos, li, ms, me, kind, hk in rows:
        while sp_i < n_sp and specials[sp_i][0] < pos:  # ``*** Aborted at`` ... in between
            ls, raw = specials[sp_i]
            if si < n_su and su_pos_l[si] < ls:
                setup_lines(ls)
            if sp_hot[sp_i] > h:
                catch_up(sp_hot[sp_i])
            sp_i += 1
            state = (p._run, p._ended, p._nrows, p._cur)
            p._ln, p._lastpos = base + int(np.searchsorted(nl, ls)), ls
            p._special(chunk, ls, raw)
            if state != (p._run, p._ended, p._nrows, p._cur):
                boundaries.append((h, p._run.index if p._run is not None else -1))
                events.append((2 * h, -1 if p._ended else p._cur))
        if si < n_su and su_pos_l[si] < pos:
            setup_lines(pos)
        if g == ng:
            break
        if pos < skip_until:
            p.glog_lines -= 1
            continue
        thread = None
        if kind < 0:
            kind = setup_kind_plain(chunk[ms:me])
            thread = _thread_at(chunk, int(starts[li]), pos)
        dispatch(g, pos, li, ms, me, kind, thread, hk)
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
