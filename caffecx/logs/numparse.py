"""Numbers as Caffe prints them (``0.0730743``, ``1.47955e+09``, ``-nan``, ``inf``), parsed with numpy.

Caffe writes floats with ``std::ostream`` defaults: at most 6 significant digits, exponent form for
large/small magnitudes. For such text, ``mantissa * 10**k`` (or ``/ 10**-k``) with an exact integer
mantissa below 2**53 and |k| <= 22 is a single correctly rounded operation (Clinger's fast path), so
the result is bit-identical to Python's ``float()``. Anything else (more digits, huge exponents,
``nan``/``inf``, odd text) goes through ``float()`` one value at a time.
"""

from __future__ import annotations

import numpy as np
from numpy.lib.stride_tricks import sliding_window_view

_P10F = np.array([10.0 ** k for k in range(23)])
STOPS = b" ,\r\n\t)"
_BLOCK = 16384


def padded(buf: np.ndarray, width: int = 64) -> np.ndarray:
    """``buf`` followed by ``width`` zero bytes, so that windows near its end stay in bounds."""
    out = np.zeros(len(buf) + width, dtype=np.uint8)
    out[:len(buf)] = buf
    return out


def windows(pbuf: np.ndarray, starts: np.ndarray, limits: np.ndarray | None, width: int) -> np.ndarray:
    """``width`` bytes of a `padded` buffer from each start, zeroed at and after each limit (no
    zeroing with ``limits=None``: fine when a newline or a literal check stops the reader anyway)."""
    mat = sliding_window_view(pbuf, width)[starts]
    if limits is not None:
        cut = limits - starts
        short = np.flatnonzero(cut < width)
        if len(short):
            mat[short] = np.where(np.arange(width)[None, :] < cut[short, None], mat[short], 0)
    return mat


def _token_end(mat: np.ndarray, stops: bytes) -> np.ndarray:
    stop = mat == 0
    for ch in stops:
        stop |= mat == ch
    return np.where(stop.any(axis=1), stop.argmax(axis=1), mat.shape[1])


def _parse_block(mat: np.ndarray, ends: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    n, width = mat.shape
    first = mat[:, 0]
    neg = first == 45
    sign = neg | (first == 43)
    mant = np.zeros(n, dtype=np.int64)  # Horner, one column at a time
    ndig = np.zeros(n, dtype=np.int64)
    frac = np.zeros(n, dtype=np.int64)
    ndot = np.zeros(n, dtype=np.int64)
    state = np.zeros(n, dtype=np.int8)  # 0 mantissa, 1 exponent sign, 2 exponent digits
    ev = np.zeros(n, dtype=np.int64)
    nedig = np.zeros(n, dtype=np.int64)
    eneg = np.zeros(n, dtype=bool)
    bad = np.zeros(n, dtype=bool)
    for j in range(width):
        c = mat[:, j]
        live = (j < ends) & ~(sign & (j == 0))
        if not live.any():
            break
        d = c.astype(np.int64) - 48
        isd = live & (d >= 0) & (d <= 9)
        in_m = state == 0
        md = isd & in_m
        mant = np.where(md, mant * 10 + d, mant)
        ndig += md
        frac += md & (ndot > 0)
        dot = live & (c == 46) & in_m
        ndot += dot
        e = live & ((c == 101) | (c == 69)) & in_m
        state = np.where(e, 1, state)
        es = live & (state == 1) & ~e
        esign = es & ((c == 45) | (c == 43))
        eneg |= esign & (c == 45)
        ed = live & isd & ((state == 2) | (es & ~esign))
        ev = np.where(ed, ev * 10 + d, ev)
        nedig += ed
        state = np.where(es, 2, state)
        bad |= live & ~(md | dot | e | esign | ed)
    ok = ~bad & (ndig > 0) & (ndig <= 15) & (ndot <= 1) & ((state == 0) | (nedig > 0)) & (nedig <= 3)
    exp10 = np.where(eneg, -ev, ev) - frac
    ok &= np.abs(exp10) <= 22
    scale = _P10F[np.clip(np.abs(exp10), 0, 22)]
    mf = mant.astype(np.float64)
    val = np.where(exp10 >= 0, mf * scale, mf / scale)
    return np.where(neg, -val, val), ok


def parse_tokens(mat: np.ndarray, ends: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Parse the token ``mat[i, :ends[i]]`` of every row as a float. Returns (values, ok); rows whose
    text is not a number get NaN and ok=False (``nan``/``inf`` spelled any way Caffe does are ok)."""
    n, width = mat.shape
    out = np.full(n, np.nan)
    ok = np.zeros(n, dtype=bool)
    for a in range(0, n, _BLOCK):
        v, k = _parse_block(mat[a:a + _BLOCK], ends[a:a + _BLOCK])
        out[a:a + _BLOCK] = np.where(k, v, np.nan)
        ok[a:a + _BLOCK] = k
    for i in np.flatnonzero(~ok):
        e = int(ends[i])
        if 0 < e <= width:
            try:
                out[i] = float(mat[i, :e].tobytes())
                ok[i] = True
            except ValueError:
                pass
    return out, ok


def parse_at(pbuf: np.ndarray, starts: np.ndarray, limits: np.ndarray, width: int = 24,
             stops: bytes = STOPS) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Parse the number starting at each ``starts[i]`` of a `padded` buffer (it ends at a stop byte
    or at ``limits[i]``). Returns (values, ok, end positions); a token as wide as the window is not ok."""
    if len(starts) == 0:
        return np.empty(0), np.empty(0, dtype=bool), np.empty(0, dtype=np.int64)
    mat = windows(pbuf, starts, limits, width)
    ends = _token_end(mat, stops)
    vals, ok = parse_tokens(mat, ends)
    ok &= ends < width
    return np.where(ok, vals, np.nan), ok, starts + ends


def parse_ints_at(pbuf: np.ndarray, starts: np.ndarray, limits: np.ndarray, width: int = 20
                  ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Unsigned decimal integers (1 to 18 digits) starting at ``starts``: (values, ok, ends)."""
    n = len(starts)
    if n == 0:
        return np.empty(0, dtype=np.int64), np.empty(0, dtype=bool), np.empty(0, dtype=np.int64)
    mat = windows(pbuf, starts, None, width)
    nondig = (mat < 48) | (mat > 57)
    nd = np.where(nondig.any(axis=1), nondig.argmax(axis=1), width)
    nd = np.minimum(nd, np.maximum(limits - starts, 0))
    vals = np.zeros(n, dtype=np.int64)
    for j in range(int(nd.max()) if n else 0):
        live = j < nd
        vals = np.where(live, vals * 10 + (mat[:, j].astype(np.int64) - 48), vals)
    ok = (nd > 0) & (nd <= 18)
    return np.where(ok, vals, -1), ok, starts + nd
