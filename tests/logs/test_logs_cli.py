"""``caffecx log``: JSON contract, parse_log.py-style CSV, plots, exit status 2 on a bad path."""

from __future__ import annotations

import csv
import json

from paths import CORPUS, LENET, REPO

from caffecx.cli import main

LENET_LOG = LENET / "lenet_train.log"


def run_cli(capsys, *args: str) -> tuple[int, str, str]:
    code = main(["log", *map(str, args)])
    out, err = capsys.readouterr()
    return code, out, err


def test_json_contract_for_lenet(capsys) -> None:
    code, out, _ = run_cli(capsys, LENET_LOG, "--format", "json")
    assert code == 0
    doc = json.loads(out)
    assert {"nets", "train", "test", "snapshots", "solver"} <= set(doc)
    assert len(doc["nets"]) == 2 and [(n["name"], n["phase"]) for n in doc["nets"]] == [("LeNet", "TRAIN"),
                                                                                         ("LeNet", "TEST")]
    conv1 = next(layer for layer in doc["nets"][0]["layers"] if layer["name"] == "conv1")
    assert {"name", "type", "bottoms", "tops", "top_shapes", "memory_bytes"} <= set(conv1)
    assert (conv1["type"], conv1["bottoms"], conv1["tops"], conv1["top_shapes"], conv1["memory_bytes"]) == (
        "Convolution", ["data"], ["conv1"], [[64, 20, 24, 24]], 3150080)
    train = doc["train"]
    assert len(train) == 21 and [r["iteration"] for r in train] == list(range(0, 1001, 50))
    assert {"iteration", "loss", "lr", "seconds", "iters_per_s"} <= set(train[0])
    assert train[0]["iters_per_s"] == 1.47955e9 and train[0]["lr"] == 0.01 and train[0]["output:loss"] == 2.37704
    assert train[-1]["loss"] == 0.000447371 and train[-1]["lr"] is None  # not logged for the final display
    test = doc["test"]
    assert [r["iteration"] for r in test] == [0, 250, 500, 750, 1000]
    assert test[-1]["accuracy"] == 0.994 and test[-1]["net"] == 0 and test[-1]["loss"] == 0.0214552
    assert [s["file"] for s in doc["snapshots"]][:2] == ["examples/mnist/lenet_iter_500.caffemodel",
                                                         "examples/mnist/lenet_iter_500.solverstate"]
    if doc["solver"] is not None:  # with the schema (or its text fallback)
        assert doc["solver"]["max_iter"] == 1000 and doc["solver"]["lr_policy"] == "inv"


def test_bundled_copy_is_the_fixture() -> None:
    assert (REPO / "logs" / "lenet_train.log").read_bytes() == LENET_LOG.read_bytes()
    rows = list(csv.reader((REPO / "logs" / "PROVENANCE.tsv").read_text().splitlines(), delimiter="\t"))
    assert rows[0][:4] == ["file", "source", "commit", "license"] and rows[1][0] == "lenet_train.log"
    assert "9b8915401" in rows[1][2] and rows[1][3] == "BSD-2-Clause"


def test_csv_files_like_parse_log(capsys, tmp_path) -> None:
    code, _, err = run_cli(capsys, LENET_LOG, "--csv", tmp_path)
    assert code == 0 and "lenet_train.log.train" in err
    with open(tmp_path / "lenet_train.log.train") as f:
        train = list(csv.DictReader(f))
    with open(tmp_path / "lenet_train.log.test") as f:
        test = list(csv.DictReader(f))
    assert list(train[0])[:4] == ["NumIters", "Seconds", "LearningRate", "loss"]  # parse_log.py's names
    assert len(train) == 21 and train[-1]["NumIters"] == "1000"  # parse_log.py drops this last row
    assert train[-1]["TrainingLoss"] == "0.000447371" and train[-1]["loss"] == "" and train[0]["loss"] == "2.37704"
    assert list(test[0])[:5] == ["NumIters", "Seconds", "LearningRate", "accuracy", "loss"]
    assert [r["NumIters"] for r in test] == ["0", "250", "500", "750", "1000"] and test[-1]["accuracy"] == "0.994"


def test_csv_and_table_to_stdout(capsys) -> None:
    code, out, _ = run_cli(capsys, LENET_LOG, "--format", "csv")
    rows = list(csv.DictReader(out.splitlines()))
    assert code == 0 and len(rows) == 21 and rows[-1]["loss"] == "0.000447371" and rows[-1]["lr"] == ""
    code, out, _ = run_cli(capsys, LENET_LOG)
    assert code == 0 and "21 train rows" in out and "LeNet" in out and "accuracy" in out


def test_plot_of_several_logs(capsys, tmp_path) -> None:
    png = tmp_path / "curves.png"
    code, out, err = run_cli(capsys, LENET_LOG, CORPUS / "logs" / "caffenet-benchmark__colorspace__LAB.log",
                             "--plot", png)
    assert code == 0 and out == "" and "curves.png" in err
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" and png.stat().st_size > 10000


def test_curves_figure_scales() -> None:
    from caffecx.logs import parse_log
    from caffecx.report.curves import curves_figure

    step = parse_log(CORPUS / "logs" / "caffenet-benchmark__batch_size__caffenet128_lsuv_bs1024.log")
    lenet = parse_log(LENET_LOG)
    fig = curves_figure([lenet, step])
    # rows: training loss, one per test output (accuracy, loss), lr; columns: iterations, time
    axes = [fig.axes[i] for i in range(8)]
    assert [ax.get_ylabel() for ax in axes[::2]] == ["training loss", "accuracy", "loss", "learning rate"]
    assert [ax.get_yscale() for ax in axes] == ["log", "log", "linear", "linear", "log", "log", "log", "log"]
    lr = axes[6].get_lines()[1]  # the step policy: 0.01 -> 1e-5 in three steps of 10x
    assert sorted(set(lr.get_ydata().tolist()), reverse=True) == [0.01, 0.001, 0.0001, 1e-05]
    # one colour per log, the logs named once in the figure's legend, the step run's time in hours
    assert [line.get_color() for line in axes[2].get_lines()] == ["C0", "C1"]
    assert [t.get_text() for t in fig.legends[0].get_texts()] == [
        "lenet_train.log", "caffenet-benchmark__batch_size__caffenet128_lsuv_bs1024.log"]
    assert axes[7].get_xlabel() == "hours since the start"
    assert max(axes[3].get_lines()[1].get_xdata()) < 13  # 12.6 hours
    # lenet alone: its lr spans less than 10x (linear), each row its own colour, the name in the title
    one = curves_figure([lenet])
    assert one.axes[6].get_yscale() == "linear" and one._suptitle.get_text() == "lenet_train.log"
    assert [one.axes[i].get_lines()[0].get_color() for i in (0, 2, 4, 6)] == ["C0", "C1", "C2", "C3"]
    assert one.axes[7].get_xlabel() == "seconds since the start" and not one.legends


def test_several_logs_as_json(capsys) -> None:
    code, out, _ = run_cli(capsys, LENET_LOG, CORPUS / "logs" / "bvlc-caffe-docs__mnist_2014.log", "--format", "json")
    docs = json.loads(out)
    assert code == 0 and [len(d["train"]) for d in docs] == [21, 1]


def test_bad_paths_exit_2(capsys, tmp_path) -> None:
    code, _, err = run_cli(capsys, tmp_path / "missing.log")
    assert code == 2 and "missing.log: no such log file" in err
    code, _, err = run_cli(capsys, tmp_path)
    assert code == 2 and "is a directory" in err


def test_a_log_that_is_only_a_shell_error(capsys) -> None:
    # (issue 11) a file without a single glog line is not a Caffe log: said so, exit 2, nothing on stdout
    path = CORPUS / "logs" / "caffenet-benchmark__solvers__bad__caffenet128_lsuv_adaadam_lr_001_09_0999_1e-8.log"
    code, out, err = run_cli(capsys, path, "--format", "json")
    assert code == 2 and out == "" and err == f"caffecx: {path}: not a Caffe log: none of its 1 line(s) is a glog line " \
        "('I1203 10:00:00.000000  123 net.cpp:45] ...')\n"
