"""``caffe test`` and ``caffe time`` logs: their tables, through the public API and the CLI."""

from __future__ import annotations

import json

from paths import LENET, REPO

from caffecx.cli import main
from caffecx.logs import parse_log

TEST_LOG = REPO / "tests" / "data" / "logs" / "lenet_test.log"


def test_caffe_test_batches_and_results() -> None:
    log = parse_log(TEST_LOG)
    assert log.test_batches[["batch", "name", "value"]].values.tolist() == [
        [0, "accuracy", 0.99], [0, "loss", 0.0253211], [1, "accuracy", 0.98], [1, "loss", 0.0412],
        [2, "accuracy", 0.98], [2, "loss", 0.0238]]
    res = log.test_results.set_index("name")
    assert res.loc["accuracy", "value"] == 0.983333 and res.loc["Loss", "value"] == 0.030107
    assert res.loc["loss", "loss_weight"] == 1.0 and res.loc["loss", "weighted"] == 0.030107
    assert len(log.train) == 0 and len(log.net_logs) == 1
    assert log.runs[0].status == "done"  # ``Loss:`` is printed once every batch has run


def test_a_test_run_cut_before_its_results_is_unfinished() -> None:
    text = TEST_LOG.read_bytes()
    log = parse_log(text[:text.index(b"Loss: ")].rsplit(b"\n", 1)[0] + b"\n")
    assert len(log.test_batches) == 6 and log.test_results.empty and log.runs[0].status == "unfinished"


def test_caffe_time_per_layer_and_direction() -> None:
    log = parse_log(LENET / "lenet_time.log")
    t = log.timing
    assert len(t) == 9 * 2 + 4
    conv1 = t[t["layer"] == "conv1"].set_index("direction")["ms"].to_dict()
    assert conv1 == {"forward": 1.347, "backward": 1.0997}
    totals = t[t["layer"].isna()].set_index("direction")["ms"].to_dict()
    assert totals == {"forward": 10.7873, "backward": 9.7007, "forward-backward": 20.5, "total": 205.0}
    assert log.runs[0].status == "done"  # ``*** Benchmark ends ***``


def test_the_summary_shows_the_results_and_the_layer_times(capsys) -> None:
    assert main(["log", str(LENET / "lenet_time.log")]) == 0
    out = capsys.readouterr().out
    assert "run 0: done" in out and "caffe time (average ms per layer)" in out
    assert "  0  conv1       1.347          1.1" in out  # forward and backward side by side
    assert "forward: 10.7873 ms, backward: 9.7007 ms, forward-backward: 20.5 ms, total: 205 ms" in out
    assert main(["log", str(TEST_LOG)]) == 0
    out = capsys.readouterr().out
    assert "caffe test results (means over 3 batch(es))" in out
    assert "  0  accuracy   0.9833            -         -" in out


def test_training_logs_have_no_such_rows() -> None:
    log = parse_log(LENET / "lenet_train.log")
    assert log.test_batches.empty and log.test_results.empty and log.timing.empty


def test_jsonl_names_the_table(capsys) -> None:
    assert main(["log", str(LENET / "lenet_time.log"), "--format", "jsonl"]) == 0
    rows = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    timing = [r for r in rows if r["table"] == "timing"]
    assert timing[0] == {"table": "timing", "log": str(LENET / "lenet_time.log"), "run": 0, "layer": "mnist",
                         "direction": "forward", "ms": 0.0191, "line": 247}


def test_csv_cells_are_quoted_as_the_csv_module_quotes_them(tmp_path, capsys) -> None:
    import csv
    import io

    log = tmp_path / "odd.log"
    log.write_text(
        "I0601 12:00:00.000000  7 solver.cpp:228] Iteration 0, loss = 0.5\n"
        'I0601 12:00:00.000000  7 solver.cpp:244]     Train net output #0: a,b"c = 0.25\n'
        "I0601 12:00:01.000000  7 solver.cpp:228] Iteration 10, loss = nan\n"
        'I0601 12:00:01.000000  7 solver.cpp:244]     Train net output #0: a,b"c = -inf\n')
    assert main(["log", str(log), "--format", "csv"]) == 0
    text = capsys.readouterr().out
    rows = list(csv.reader(io.StringIO(text)))
    assert rows[0][-1] == 'a,b"c' and text.splitlines()[0].endswith(',"a,b""c"')
    assert [(r[1], r[3], r[-1]) for r in rows[1:]] == [("0", "0.5", "0.25"), ("10", "nan", "-inf")]
    buf = io.StringIO()
    csv.writer(buf, lineterminator="\n").writerows(rows)
    assert buf.getvalue() == text  # byte for byte what the csv module writes
