"""The shortcuts of the fast path give what the plain code they replace gives (random and real inputs)."""

from __future__ import annotations

import mmap
import random

import numpy as np
import pandas as pd
from paths import CORPUS, LENET

from caffecx.logs import LogParser, glog
from caffecx.logs import fastscan as FS
from caffecx.logs import parser as P
from caffecx.logs.fastscan import _thread_codes, setup_kind_plain
from caffecx.logs.numparse import padded

LOG = CORPUS / "logs" / "caffenet-benchmark__batch_size__tanh__caffenet128_lsuv_bs32_lr008.log"


def _absolute_seconds_plain(codes: list[int], tods: list[float]) -> np.ndarray:
    """The per-stamp statement of the calendar rules (what `glog.absolute_seconds` does per run of dates)."""
    c = np.asarray(codes, dtype=np.int64)
    t = np.asarray(tods, dtype=np.float64)
    out = np.full(len(c), np.nan)
    year, month, day = c // 10000, (c // 100) % 100, c % 100
    valid = (c >= 0) & (month >= 1) & (month <= 12) & (day >= 1) & (day <= 31) & ~np.isnan(t)
    wy = valid & (year > 0)
    if wy.any():
        out[wy] = glog._days_from_civil(year[wy], month[wy], day[wy]) * 86400.0 + t[wy]
    yl = np.flatnonzero(valid & (year == 0))
    if len(yl):
        m, d = month[yl], day[yl]
        coarse = (glog._CUM[m - 1] + d - 1) * 86400.0 + t[yl]
        seg = np.cumsum(np.diff(coarse, prepend=coarse[0]) < -glog._HALF_YEAR)
        leap = np.zeros(int(seg[-1]) + 1, dtype=bool)
        leap[seg[(m == 2) & (d == 29)]] = True
        start = np.concatenate([[0], np.cumsum(np.where(leap, 366, 365))[:-1]])
        doy = glog._CUM[m - 1] + d - 1 + ((m > 2) & leap[seg])
        base = float(glog._days_from_civil(np.array([2001]), np.array([1]), np.array([1]))[0])
        out[yl] = (base + start[seg] + doy) * 86400.0 + t[yl]
    return out


def test_absolute_seconds_per_date_run() -> None:
    rnd = random.Random(7)
    dates = [1231, 101, 229, 228, 301, 615, 1301, 0, -1, 20241231, 20250101, 20240229, 1232, 100, 701, 702]
    for _ in range(3000):
        n = rnd.randint(0, 40)
        codes = sorted((rnd.choice(dates) for _ in range(n)), key=lambda _: rnd.random() < 0.7)
        tods = [rnd.choice([np.nan, 0.0, 86399.999999, rnd.uniform(0, 86400)]) for _ in range(n)]
        np.testing.assert_array_equal(glog.absolute_seconds(codes, tods), _absolute_seconds_plain(codes, tods))


def test_thread_codes_agree_with_thread_at() -> None:
    rnd = random.Random(3)
    bits = [b" ", b"  ", b"1", b"23", b"4567", b"x", b"net.cpp:157", b"I0405", b"18:22:46.263157", b"\t", b"[w 1]"]
    heads = [b"".join(rnd.choice(bits) for _ in range(rnd.randint(0, 14))) for _ in range(20000)]
    stamps = [b"I0405 18:22:46.263157", b"I20261122 15:05:29.112815", b"W0405 18:22:46.26315", b"I0405"]
    tails = [b" 13500 net.cpp:157", b"  5971 layer_factory.hpp:77", b" 1234567890 net.cpp:1", b" net.cpp:1", b"  ",
             b" x net.cpp:1", b" 12  net.cpp:1", b"", b" 1" * 20]
    heads += [rnd.choice([b"", b"> ", b"[worker 1] "]) + rnd.choice(stamps) + rnd.choice(tails) for _ in range(5000)]
    heads += [line.split(b"] ")[0] for line in LOG.read_bytes().split(b"\n")[:5000] if b"] " in line]
    data = b"".join(h + b"] m\n" for h in heads)
    pb = padded(np.frombuffer(data, dtype=np.uint8), 128)
    ls, pos, at = [], [], 0
    for h in heads:
        ls.append(at)
        pos.append(at + len(h))
        at += len(h) + 4
    got = _thread_codes(data, pb, np.array(ls, dtype=np.int64), np.array(pos, dtype=np.int64))
    assert got == [P._thread_at(data, a, b) for a, b in zip(ls, pos, strict=True)]


def _named_plain(msg: bytes) -> tuple[int, bytes | None, bytes | None]:
    """What the dispatch reads from a message (first bytes not ``Creating``/``Top shap``/``Memory r``):
    the set-up form and its layer and blob, or 0 when the line is dispatched."""
    kind = setup_kind_plain(msg)
    if kind == FS._BOTTOM and (m := P._RE_BOTTOM.fullmatch(msg)):
        return FS._BOTTOM, m.group(1), m.group(2)
    if kind == FS._TOP and (m := P._RE_TOP.fullmatch(msg)):
        return (FS._TOP_IP if m.group(3) else FS._TOP), m.group(1), m.group(2)
    if kind == FS._BW and (m := P._RE_BW.fullmatch(msg)):
        return (FS._BW if m.group(2) == b"needs" else FS._BW_NOT), m.group(1), None
    return 0, None, None


def test_set_up_lines_read_as_the_dispatch_reads_them() -> None:
    rnd = random.Random(13)
    bits = [b"conv1", b"x", b"fire2/squeeze1x1_fire2/relu_squeeze1x1_0_split", b"<-", b"->", b" <- ", b" -> ", b" ",
            b"  ", b"\t", b"\x0b", b" (in-place)", b"(in-place)", b" needs backward computation.", b"needs",
            b" does not need backward computation.", b" backward computation.", b"Solving", b"\xff", b"a" * 40,
            b"Creating Layer ", b"Top shape: 1 2 (2)", b"Memory required for data: ", b"12", b"9" * 19, b"."]
    msgs = [b"".join(rnd.choice(bits) for _ in range(rnd.randint(0, 6))) for _ in range(30000)]
    names = [b"conv1", b"x", b"<-", b"Solving", b"a\tb", b"c" * 30, b"d" * 58, b"e" * 70, b"f" * 200, b"", b"g h"]
    forms = [b" <- ", b" -> ", b" needs backward computation.", b" does not need backward computation.", b" <-  "]
    tails = [b"", b"", b" (in-place)", b" (in-place) ", b"(in-place)", b" ", b"\t", b" (in-place)x"]
    msgs += [rnd.choice(names) + rnd.choice(forms) + rnd.choice(names) + rnd.choice(tails) for _ in range(30000)]
    msgs += [m for line in LOG.read_bytes().split(b"\n") if b"] " in line for m in [line.split(b"] ", 1)[1]]]
    prefix = b"I0101 00:00:00.000000 1 net.cpp:1] "
    ends = [rnd.choice([b"\n", b"\r\n"]) for _ in msgs]
    data = b"".join(prefix + m + e for m, e in zip(msgs, ends, strict=True))
    pb = padded(np.frombuffer(data, dtype=np.uint8), 128)
    ms, me, at = [], [], 0
    for m, e in zip(msgs, ends, strict=True):
        ms.append(at + len(prefix))
        me.append(at + len(prefix) + len(m))
        at += len(prefix) + len(m) + len(e)
    ms_a, me_a = np.array(ms, dtype=np.int64), np.array(me, dtype=np.int64)
    kinds = FS._setup_kinds(pb, ms_a, me_a, FS.words(pb)[ms_a])
    for i, msg in enumerate(msgs):
        kind = int(kinds.kind[i])
        a, b, c, d = (int(x[i]) for x in (kinds.a, kinds.b, kinds.c, kinds.d))
        if msg[:8] in (b"Creating", b"Top shap", b"Memory r"):
            if kind == FS._CREATE:
                assert msg.startswith(b"Creating Layer ") and data[a:b] == msg[15:]
            elif kind == FS._SHAPE:
                assert data[a:b] == msg
            elif kind == FS._MEM:
                assert msg.startswith(b"Memory required for data: ") and msg[26:].isdigit() and c == int(msg[26:])
            else:  # dispatched: the same reading as the fast path's
                assert kind == 0 and not (msg.startswith(b"Creating Layer ") or msg.startswith(b"Top shap")), msg
                assert not (msg.startswith(b"Memory required for data: ") and msg[26:].isdigit() and len(msg) <= 44)
            continue
        want = _named_plain(msg)
        if kind == -1:
            continue  # decided line by line, by the plain reading
        got = (kind, data[a:b], None if kind in (FS._BW, FS._BW_NOT) else data[c:d]) if kind else (0, None, None)
        assert got == want, msg
    assert 0 < (kinds.kind == -1).sum() < len(msgs) // 10


def _special_lines_plain(chunk: bytes) -> list[tuple[int, bytes]]:
    out: list[tuple[int, bytes]] = []
    i = chunk.find(b"***")
    while i >= 0:
        ls = chunk.rfind(b"\n", 0, i) + 1
        le = chunk.find(b"\n", i)
        le = len(chunk) if le < 0 else le
        if P._SPECIAL.match(chunk, i) and b"] " not in chunk[ls:i] and (not out or out[-1][0] != ls):
            out.append((ls, chunk[ls:le]))
        i = chunk.find(b"***", max(le, i + 3))  # the first "***" of each line only
    return out


def test_special_lines_first_marker_of_a_line() -> None:
    rnd = random.Random(5)
    bits = [b"*", b"**", b"*** ", b"Aborted at", b"SIGTERM ", b"SIG", b"Check failure stack trace", b"\n", b"] ", b"x"]
    for _ in range(20000):
        chunk = b"".join(rnd.choice(bits) for _ in range(rnd.randint(0, 14)))
        assert P.special_lines(chunk) == _special_lines_plain(chunk), chunk


def test_cut_reads_give_feeds_chunks(tmp_path, monkeypatch) -> None:
    """Reading through `_cut_reads` hands `_chunk` exactly the chunks that feeding the plain reads does."""
    rnd = random.Random(11)
    for trial in range(60):
        size, max_line = rnd.choice([7, 64, 300]), rnd.choice([5, 40, 1000])
        monkeypatch.setattr(P, "CHUNK_SIZE", size)
        monkeypatch.setattr(P, "_MAX_LINE", max_line)
        data = b"".join(rnd.choice([b"\n", b"a", b"bb", b"x" * rnd.randint(0, 400), b"\r\n"])
                        for _ in range(rnd.randint(0, 60)))
        path = tmp_path / f"{trial}.log"
        path.write_bytes(data)
        seen: list[list[bytes]] = []
        for reads in ([data[i:i + size] for i in range(0, len(data), size)], P._chunks(str(path))[0]):
            got: list[bytes] = []
            monkeypatch.setattr(LogParser, "_chunk", lambda self, chunk, got=got: got.append(chunk))
            p = LogParser()
            for r in reads:
                p.feed(r)
            p.finish()
            seen.append(got)
        assert seen[0] == seen[1]


def test_shared_slot_hand_over() -> None:
    """A worker's parser comes back through a shared mapping when it fits, through the pipe otherwise."""
    path = str(LENET / "lenet_train.log")
    size = (LENET / "lenet_train.log").stat().st_size
    P._SHARED[-7] = mmap.mmap(-1, 16)
    P._SHARED[-8] = mmap.mmap(-1, 64 << 20)
    try:
        small = P._parse_range_shared(path, 0, size, -7)
        assert isinstance(small, LogParser)
        big = P._parse_range_shared(path, 0, size, -8)
        assert isinstance(big, tuple) and big[0] == "shared"
        a, b = P._received(small).close(), P._received(big).close()
    finally:
        P._SHARED.pop(-7)
        P._SHARED.pop(-8)
    for name in ("train", "test", "outputs", "layers", "nets"):
        pd.testing.assert_frame_equal(getattr(a, name), getattr(b, name), obj=name)
    assert [r.to_dict() for r in a.runs] == [r.to_dict() for r in b.runs]


def test_set_up_lines_after_the_run_ended() -> None:
    """A training line between two set-up lines starts a run (which drops the nets being set up)."""
    lines = [b"I1122 15:05:29.117308  5971 net.cpp:86] Creating Layer conv1",
             b"I1122 15:05:29.117309  5971 net.cpp:86] conv1 <- data",
             b"I1122 15:06:00.720312  5971 solver.cpp:332] Optimization Done.",
             b"I1122 15:05:45.150247  5971 sgd_solver.cpp:112] Iteration 400, lr = 0.00971013",
             b"I1122 15:05:29.113269  5971 net.cpp:86] Creating Layer pool2",
             b"I1122 15:05:29.113270  5971 net.cpp:86] pool2 -> pool2",
             b"I1122 15:05:39.478318  5971 solver.cpp:239] Iteration 250, loss = 0.00345573"]
    data = b"\n".join(lines) + b"\n"
    fast = LogParser()
    fast.feed(data)
    slow = LogParser(line_by_line=True)
    slow.feed(data)
    got, want = fast.close(), slow.close()
    assert [[r.to_dict() for r in n.layers] for n in got.net_logs] == [[r.to_dict() for r in n.layers]
                                                                       for n in want.net_logs]
    assert [n.run for n in got.net_logs] == [n.run for n in want.net_logs] == [0, 1]

