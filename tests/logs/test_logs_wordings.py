"""Logs as people have them: every era's wording, CRLF, a cut last line, restarts, year rollover,
interleaved threads, prefixes in front of glog's, every severity, nan/inf. Built from real lines."""

from __future__ import annotations

import json
import math

import numpy as np
import pandas as pd
import pytest
from paths import LENET

from caffecx.logs import LogParser, iter_events, parse_log, parse_prefix
from caffecx.logs.glog import absolute_seconds, head_stamps

LENET_LOG = (LENET / "lenet_train.log").read_bytes()


def g(msg: str, stamp: str = "0101 00:00:00.000000", thread: int = 7, src: str = "solver.cpp:1", sev: str = "I") -> str:
    return f"{sev}{stamp} {thread:5d} {src}] {msg}\n"


def both(data: bytes):
    """Parse with the vectorized scan and line by line; they must agree."""
    fast = parse_log(data)
    p = LogParser(line_by_line=True)
    p.feed(data)
    slow = p.close()
    for name in ("train", "test", "layers", "nets", "snapshots"):
        pd.testing.assert_frame_equal(getattr(fast, name), getattr(slow, name), check_dtype=False,
                                      check_categorical=False, obj=name)
    assert [r.to_dict() for r in fast.runs] == [r.to_dict() for r in slow.runs]
    return fast


def test_lenet_contract() -> None:
    log = both(LENET_LOG)
    assert len(log.train) == 21 and log.train["iteration"].tolist() == list(range(0, 1001, 50))
    assert log.train.iloc[-1]["loss"] == 0.000447371
    assert log.test["iteration"].tolist() == [0, 250, 500, 750, 1000] and log.test.iloc[-1]["accuracy"] == 0.994
    assert [(n.phase, n.test_index, n.name) for n in log.net_logs] == [("TRAIN", None, "LeNet"), ("TEST", 0, "LeNet")]
    assert log.snapshots["iteration"].tolist() == [500, 500, 1000, 1000]
    assert log.runs[0].done and log.fatal is None


def test_crlf_gives_the_same_tables() -> None:
    log = both(LENET_LOG.replace(b"\n", b"\r\n"))
    ref = parse_log(LENET_LOG)
    pd.testing.assert_frame_equal(log.train, ref.train)
    pd.testing.assert_frame_equal(log.test, ref.test)
    assert log.net("TEST").layer("conv1").top_shapes == [[100, 20, 24, 24]]
    assert log.runs[0].solver_text == ref.runs[0].solver_text


def test_a_cut_last_line_is_read_as_far_as_it_goes() -> None:
    cut = LENET_LOG[:LENET_LOG.index(b"Iteration 950 (") + len(b"Iteration 950 (50.1002 iter/s, 0.998s/50 iters), lo")]
    log = both(cut)
    assert log.train.iloc[-1]["iteration"] == 900  # the cut display line says no loss: not a row
    cut2 = LENET_LOG[:LENET_LOG.index(b"loss = 0.000447371") + len(b"loss = 0.0004")]
    log2 = both(cut2)
    assert log2.train.iloc[-1]["iteration"] == 1000 and log2.train.iloc[-1]["loss"] == 0.0004


def test_two_runs_in_one_file() -> None:
    log = both(LENET_LOG + LENET_LOG)
    assert [r.reason for r in log.runs] == ["solver", "solver"] and len(log.net_logs) == 4
    assert len(log.train) == 42 and log.train["run"].tolist() == [0] * 21 + [1] * 21
    assert [n.run for n in log.net_logs] == [0, 0, 1, 1]
    assert log.train.iloc[21]["line"] == 629 + 526


def test_restore_after_training_starts_a_run() -> None:
    text = (g("Solving LeNet") + g("Iteration 0, loss = 2") + g("Iteration 0, lr = 0.01")
            + g("Restoring previous solver status from a_iter_100.solverstate") + g("Iteration 100, loss = 1")
            + g("Iteration 100, lr = 0.001"))
    log = both(text.encode())
    assert [r.reason for r in log.runs] == ["continued", "resume"]
    assert log.runs[1].resumed_from == "a_iter_100.solverstate"
    assert log.train[["run", "iteration", "lr"]].values.tolist() == [[0, 0, 0.01], [1, 100, 0.001]]


def test_seconds_stay_monotonic_across_new_year() -> None:
    text = (g("Solving X", "1231 23:59:58.500000") + g("Iteration 0, loss = 1", "1231 23:59:59.000000")
            + g("Iteration 10, loss = 1", "0101 00:00:01.250000") + g("Iteration 20, loss = 1", "0228 00:00:00.000000")
            + g("Iteration 30, loss = 1", "0301 00:00:00.000000"))
    log = both(text.encode())
    assert log.train["seconds"].tolist() == [0.5, 2.75, 58 * 86400 + 1.5, 59 * 86400 + 1.5]


def test_leap_day_and_years_written_by_glog_06() -> None:
    codes, tods = head_stamps([b"I0228 23:00:00.000000 1 a.cpp:1", b"I0229 23:00:00.000000 1 a.cpp:1",
                               b"I0301 23:00:00.000000 1 a.cpp:1"])
    assert np.diff(absolute_seconds(codes, tods)).tolist() == [86400.0, 86400.0]
    codes, tods = head_stamps([b"I20231231 23:59:59.000000 1 a.cpp:1", b"I20240101 00:00:01.000000 1 a.cpp:1"])
    assert np.diff(absolute_seconds(codes, tods)).tolist() == [2.0]


def test_prefixes_glog_writes() -> None:
    p, msg = parse_prefix("I20261122 15:05:29.112815  5971 net.cpp:139] Memory required for data: 200960")
    assert (p.severity, p.year, p.month, p.day, p.thread, p.source_file, p.source_line) == (
        "I", 2026, 11, 22, "5971", "net.cpp", 139)
    assert msg == "Memory required for data: 200960"
    p, msg = parse_prefix("    I1203 solver.cpp:36] Solver scaffolding done.")
    assert (p.month, p.day, p.seconds_of_day, p.thread, p.column) == (12, 3, None, None, 4)
    assert parse_prefix("[libprotobuf WARNING google/protobuf/io/coded_stream.cc:537] Reading") is None
    assert parse_prefix("  top: \"conv1\"") is None


@pytest.mark.parametrize("prefix", ["    ", "[worker 1] ", "2016-06-04T20:56:00Z host caffe: ", "> "])
def test_text_in_front_of_the_prefix(prefix: str) -> None:
    """Markdown indentation, ``tee``/MPI/syslog prefixes: the same tables."""
    data = b"".join(prefix.encode() + line + b"\n" for line in LENET_LOG.split(b"\n")[:-1])
    log = both(data)
    ref = parse_log(LENET_LOG)
    pd.testing.assert_frame_equal(log.train, ref.train)
    pd.testing.assert_frame_equal(log.test, ref.test)
    assert [len(n.layers) for n in log.net_logs] == [9, 12]
    assert log.net("TRAIN").layer("ip1").top_shapes == [[64, 500]]
    assert log.runs[0].solver_text == ref.runs[0].solver_text  # the prefix is taken off the echo too


def test_interleaved_threads_set_up_two_nets() -> None:
    """Two GPUs' solvers logging their set-up at once: lines go to the net of their thread."""
    a = [g("Creating Layer conv", thread=11, src="net.cpp:86"), g("conv <- data", thread=11, src="net.cpp:408"),
         g("conv -> conv", thread=11, src="net.cpp:382"), g("Top shape: 8 3 5 5 (600)", thread=11, src="net.cpp:131"),
         g("Memory required for data: 2400", thread=11, src="net.cpp:139")]
    b = [g("Creating Layer conv", thread=22, src="net.cpp:86"), g("conv <- data", thread=22, src="net.cpp:408"),
         g("conv -> conv", thread=22, src="net.cpp:382"), g("Top shape: 4 3 5 5 (300)", thread=22, src="net.cpp:131"),
         g("Memory required for data: 1200", thread=22, src="net.cpp:139")]
    text = "".join(x + y for x, y in zip(a, b, strict=True))
    log = both(text.encode())
    assert [n.thread for n in log.net_logs] == ["11", "22"]
    assert [n.layer("conv").top_shapes for n in log.net_logs] == [[[8, 3, 5, 5]], [[4, 3, 5, 5]]]
    assert [n.layer("conv").memory_bytes for n in log.net_logs] == [2400, 1200]
    assert [n.layer("conv").memory_line for n in log.net_logs] == [9, 10]


def test_other_threads_between_a_display_and_its_outputs() -> None:
    text = (g("Iteration 20, loss = 1.5") + g("Restarting data prefetching from start.", thread=9)
            + g("    Train net output #0: loss = 1.25 (* 1 = 1.25 loss)") + g("Iteration 20, lr = 0.1"))
    log = both(text.encode())
    assert log.train[["iteration", "loss", "lr", "output:loss"]].values.tolist() == [[20, 1.5, 0.1, 1.25]]


def test_severities_and_a_fatal_check() -> None:
    text = (g("Solving X") + g("Iteration 0, loss = 3") + g("Note that future Caffe releases ...", sev="W")
            + g("Something odd", sev="E") + "[libprotobuf ERROR google/protobuf/text_format.cc:274] Error parsing\n"
            + g("Check failed: error == cudaSuccess (2 vs. 0)  out of memory", sev="F", src="syncedmem.cpp:56")
            + "*** Check failure stack trace: ***\n    @     0x7f0559e4524a  (unknown)\n")
    log = both(text.encode())
    assert [(m.severity, m.line) for m in log.messages] == [("W", 3), ("E", 4), ("E", 5), ("F", 6)]
    assert log.fatal == "Check failed: error == cudaSuccess (2 vs. 0)  out of memory"
    assert log.runs[0].status == "fatal" and "(unknown)" in log.runs[0].fatal_trace


def test_killed_by_a_signal() -> None:
    text = (g("Iteration 0, loss = 3") + '*** Aborted at 1459571987 (unix time) try "date -d @1459571987" ***\n'
            + "PC: @     0x7f9de9247414 __pthread_cond_wait\n"
            + "*** SIGTERM (@0x3e800006dc4) received by PID 28499 (TID 0x7f9df58c5ac0) from PID 28100; stack trace: ***\n")
    log = both(text.encode())
    assert log.fatal.startswith("*** SIGTERM") and log.runs[0].abort_line == 2


def test_nan_inf_and_exponents_survive() -> None:
    text = (g("Iteration 10 (1.47955e+09 iter/s, 0.001s/10 iters), loss = nan")
            + g("    Train net output #0: loss = -nan (* 1 = -nan loss)")
            + g("    Train net output #1: acc = 1e-05") + g("Iteration 10, lr = inf")
            + g("Iteration 20, loss = 87.3365") + g("Iteration 20, lr = 3.9063e-08"))
    log = both(text.encode())
    tr = log.train
    assert math.isnan(tr["loss"][0]) and math.isinf(tr["lr"][0]) and tr["iters_per_s"][0] == 1.47955e9
    assert math.isnan(tr["output:loss"][0]) and tr["acc"][0] == 1e-05
    assert tr["lr"][1] == 3.9063e-08
    rows = log.to_json()["train"]
    assert rows[0]["loss"] == "nan" and rows[0]["lr"] == "inf" and rows[1]["acc"] is None  # logged vs not logged
    json.dumps(log.to_json(), allow_nan=False)
    long = log.outputs
    assert (long["name"][0], long["index"][0], long["loss_weight"][0]) == ("loss", 0, 1.0)
    assert math.isnan(long["weighted"][0])


def test_2014_testing_and_scores() -> None:
    text = (g("Iteration 1000, Testing net") + g("Test score #0: 0.9785") + g("Test score #1: 0.0606671")
            + g("Iteration 1000, lr = 0.00992565") + g("Iteration 1000, loss = 0.26044")
            + g("Snapshotting to lenet_iter_1000") + g("Snapshotting solver state to lenet_iter_1000.solverstate"))
    log = both(text.encode())
    assert log.test[["iteration", "net", "score_0", "score_1"]].values.tolist() == [[1000, 0, 0.9785, 0.0606671]]
    assert log.train[["iteration", "loss", "lr"]].values.tolist() == [[1000, 0.26044, 0.00992565]]
    assert log.test.iloc[0]["lr"] == 0.00992565
    assert log.snapshots[["iteration", "kind"]].values.tolist() == [[1000, "weights"], [1000, "solverstate"]]


def test_hdf5_snapshots_and_several_test_nets() -> None:
    text = (g("Iteration 500, Testing net (#0)") + g("    Test net output #0: accuracy = 0.5")
            + g("Iteration 500, Testing net (#1)") + g("    Test net output #0: accuracy = 0.25")
            + g("Snapshotting to HDF5 file m_iter_500.caffemodel.h5")
            + g("Snapshotting solver state to HDF5 file m_iter_500.solverstate.h5"))
    log = both(text.encode())
    assert log.test[["iteration", "net", "accuracy"]].values.tolist() == [[500, 0, 0.5], [500, 1, 0.25]]
    assert log.snapshots["format"].tolist() == ["hdf5", "hdf5"]


def test_events_stream_in_file_order() -> None:
    events = list(iter_events(LENET_LOG))
    kinds = [e.kind for e in events]
    assert kinds[0] == "run_start" and kinds.count("train") == 21 and kinds.count("test_start") == 5
    assert kinds.count("top_shape") == sum(LENET_LOG.count(b"Top shape:") for _ in [0])
    lines = [e.line for e in events if e.line is not None]
    assert lines == sorted(lines)
    first = next(e for e in events if e.kind == "train")
    assert first.data["iteration"] == 0 and first.data["iters_per_s"] == 1.47955e9 and first.line == 526


def test_inputs_of_every_kind(tmp_path) -> None:
    path = tmp_path / "x.log"
    path.write_bytes(LENET_LOG)
    ref = parse_log(path)
    with open(path, "rb") as f:
        assert len(parse_log(f).train) == 21
    with open(path) as f:
        assert len(parse_log(f).train) == 21
    assert len(parse_log(LENET_LOG.decode().splitlines()).train) == 21
    assert len(parse_log(LENET_LOG).test) == len(ref.test) == 5
    assert ref.path == str(path)
