"""Property tests: whatever the bytes, the parser does not raise and does not invent rows."""

from __future__ import annotations

import random
import re

import pandas as pd
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from paths import CORPUS, LENET

from caffecx.logs import LogParser, parse_log

REAL = [(LENET / "lenet_train.log").read_bytes(),
        (CORPUS / "logs" / "caffenet-benchmark__batch_size__tanh__caffenet128_lsuv_bs32_lr008.log").read_bytes()[:60000],
        (CORPUS / "logs" / "bvlc-caffe-docs__mnist_2014.log").read_bytes()]
SETTINGS = settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])


def no_invented_rows(data: bytes) -> None:
    """Every row's iteration and every value was written in the text."""
    log = parse_log(data, require_glog=False)  # (any bytes: a CaffeLog, not a "not a log" refusal)
    iterations = {int(m) for m in re.findall(rb"Iteration (\d{1,18})", data)}
    assert set(log.train["iteration"].dropna().astype(int)) <= iterations
    assert set(log.test["iteration"].dropna().astype(int)) <= iterations
    assert len(log.train) <= data.count(b"Iteration ")
    assert len(log.test) <= data.count(b"est ")
    for value in log.train["loss"].dropna():
        assert value != value or repr(value) or True  # finite or nan: both fine, just no exception
    n_layers = sum(len(n.layers) for n in log.net_logs)
    assert n_layers <= data.count(b"Creating Layer ")


def same_both_ways(data: bytes) -> None:
    fast = parse_log(data, require_glog=False)
    p = LogParser(line_by_line=True)
    p.feed(data)
    slow = p.close()
    pd.testing.assert_frame_equal(fast.train, slow.train, check_dtype=False, check_categorical=False)
    pd.testing.assert_frame_equal(fast.test, slow.test, check_dtype=False)
    def layers(log):
        return [[r.to_dict() for r in n.layers] for n in log.net_logs]

    assert layers(fast) == layers(slow)


@SETTINGS
@given(st.binary(max_size=3000))
def test_random_bytes(data: bytes) -> None:
    no_invented_rows(data)


@SETTINGS
@given(st.lists(st.sampled_from([b"I0101 00:00:00.000000 1 solver.cpp:1] ", b"] ", b"Iteration ", b"12", b", loss = ",
                                 b", lr = ", b"    Train net output #0: ", b"loss = ", b"nan", b"1e+09", b"\n", b"\r\n",
                                 b"Top shape: 1 2 (2)", b"Creating Layer x", b"x <- y", b"*** Aborted at 1\n",
                                 b"Initializing net from parameters: \n", b"Testing net (#0)", b"    Test net output #",
                                 b"F0101 00:00:00.000000 1 a.cpp:1] Check failed: x", b" (* 1 = ", b" loss)", b"0.5",
                                 b"Optimization Done.", b"layer {\n  name: \"x\"\n", b"}\n", b" ", b"-"]),
                max_size=200))
def test_glog_like_garbage(parts: list[bytes]) -> None:
    data = b"".join(parts)
    no_invented_rows(data)
    same_both_ways(data)


@SETTINGS
@given(st.integers(0, 2), st.integers(0, 10 ** 9), st.integers(1, 5000))
def test_real_log_cut_anywhere(which: int, at: int, chunk: int) -> None:
    data = REAL[which]
    cut = data[:at % (len(data) + 1)]
    no_invented_rows(cut)
    p = LogParser()
    for i in range(0, len(cut), chunk):
        p.feed(cut[i:i + chunk])
    p.close()


@SETTINGS
@given(st.integers(0, 2), st.randoms(use_true_random=False))
def test_real_log_shuffled(which: int, rnd: random.Random) -> None:
    lines = REAL[which].split(b"\n")
    rnd.shuffle(lines)
    data = b"\n".join(lines)
    no_invented_rows(data)
    same_both_ways(data)
