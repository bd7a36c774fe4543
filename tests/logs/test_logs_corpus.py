"""Every real log under ../shared parses, and what it says is read right (values copied from the files by hand).

For each log: the first and the last train row (``Iteration N, loss = x`` with its lr and outputs), one
test row (``Iteration N, Testing net (#k)`` and its ``Test net output`` lines) and one layer's
``Top shape`` / ``Memory required for data`` -- with the line numbers as ``grep -n`` shows them.
"""

from __future__ import annotations

import math

import pandas as pd
import pytest
from paths import CORPUS, FIXTURES, files

from caffecx.logs import LogParser, parse_log

LOGS = files(CORPUS, ".log") + files(FIXTURES, ".log")

# name -> {"train": [(row, {col: value})], "test": [(row, {col: value})], "layer": (net, name, shapes, memory,
#          shape line, memory line), "runs": n, "nets": n, ...}
EXPECT: dict[str, dict] = {
    "lenet_train.log": {
        "runs": 1, "nets": 2, "train_rows": 21, "test_rows": 5,
        "train": [(0, {"iteration": 0, "loss": 2.37704, "lr": 0.01, "iters_per_s": 1.47955e9, "s_per_interval": 0.299,
                       "interval_iters": 50, "output:loss": 2.37704, "line": 526}),
                  (-1, {"iteration": 1000, "loss": 0.000447371, "line": 623})],
        "test": [(-1, {"iteration": 1000, "net": 0, "accuracy": 0.994, "loss": 0.0214552, "line": 624})],
        "layer": (0, "conv1", [[64, 20, 24, 24]], 3150080, [186], 187),
    },
    "lenet_time.log": {
        "runs": 1, "nets": 1, "train_rows": 0, "test_rows": 0,
        "layer": (0, "conv1", [[64, 20, 24, 24]], 3150080, [166], 167),
    },
    "layers_1.log": {
        "runs": 1, "nets": 1, "train_rows": 0,
        "layer": (0, "conv1", [[3, 8, 20, 9]], 34560, [246], 247),
    },
    "layers_1_concat_mismatch.log": {
        "runs": 1, "nets": 1, "train_rows": 0,
        "fatal": "Check failed: top_shape[j] == bottom[i]->shape(j) (10 vs. 11)",
        "layer": (0, "data", [[3, 4, 20, 18]], 17280, None, None),
    },
    "layers_2.log": {
        "runs": 1, "nets": 1, "train_rows": 0,
        "layer": (0, "data", [[2, 6, 12, 12], [2]], 6920, [251, 252], 253),
    },
    "layers_3_v1.log": {
        "runs": 1, "nets": 1, "train_rows": 0,
        "layer": (0, "input", [[2, 1, 16, 16]], 2048, [132], 133),
    },
    "bvlc-caffe-docs__mnist_2014.log": {
        "runs": 1, "nets": 1, "train_rows": 1, "test_rows": 2,
        "train": [(0, {"iteration": 100, "loss": 0.26044, "lr": 0.00992565})],
        "test": [(0, {"score_0": 0.9785, "score_1": 0.0606671}), (1, {"score_0": 0.9897, "score_1": 0.0324599})],
        "layer": (0, "conv1", [[20, 24, 24]], None, [46], None),
    },
    "bvlc-caffe-docs__imagenet_detection_2014.log": {
        "runs": 1, "nets": 1, "train_rows": 0,
        "layer": (0, "conv1", [[96, 55, 55]], None, [41], None),
    },
    "caffenet-benchmark__architectures__SqueezeNet128_new_solver.log": {
        "runs": 2, "nets": 4, "test_rows": 170,
        "fatal": None, "first_fatal": "Check failed: error == cudaSuccess (2 vs. 0)  out of memory",
        "train": [(0, {"run": 1, "iteration": 0, "loss": 6.94159, "lr": 0.04, "output:loss": 6.95404, "line": 6687}),
                  (-1, {"run": 1, "iteration": 170000, "loss": 1.83804, "line": 21110})],
        "test": [(0, {"run": 1, "iteration": 1000, "accuracy": 0.00238, "accuracy_top5": 0.0102201})],
        "layer": (0, "data", [[512, 3, 128, 128], [512]], 100665344, [1377, 1378], 1379),
    },
    "caffenet-benchmark__batch_size__caffenet128_lsuv_bs1024.log": {
        "runs": 1, "nets": 2, "train_rows": 4001, "test_rows": 81,
        "train": [(0, {"iteration": 0, "loss": 7.39714, "lr": 0.01, "output:loss": 7.39714, "line": 1475}),
                  (1, {"iteration": 20, "loss": 6.91015}),
                  (-1, {"iteration": 80000, "loss": 2.58569, "line": 13935})],
        "test": [(0, {"iteration": 0, "accuracy": 0.001, "loss": 7.03091, "line": 1471}),
                 (-1, {"iteration": 80000, "accuracy": 0.41944, "loss": 2.65418})],
        "layer": (0, "data", [[1024, 3, 128, 128], [1024]], 201330688, [730, 731], 732),
    },
    "caffenet-benchmark__batch_size__caffenet128_lsuv_bs1_lr3.9063e-05.log": {
        "runs": 4, "nets": 6, "first_fatal": "Check failed: fd != -1 (-1 vs. -1) File not found",
        "train": [(0, {"run": 0, "iteration": 0, "loss": 7.35844, "lr": 3.9063e-05, "output:loss": 7.35844}),
                  (-1, {"run": 3, "iteration": 81920000, "loss": 2.30725, "line": 10588})],
        "test": [(0, {"iteration": 0, "accuracy": 0.00106, "loss": 7.03386})],
        "layer": (0, "data", [[1, 3, 128, 128], [1]], 196612, [731, 732], 733),
    },
    "caffenet-benchmark__batch_size__tanh__caffenet128_lsuv_bs32_lr008.log": {
        "runs": 1, "nets": 2, "train_rows": 50, "test_rows": 1, "aborted": "SIGTERM",
        "train": [(0, {"iteration": 0, "loss": 7.90261, "lr": 0.08}),
                  (-1, {"iteration": 980, "loss": 53.576, "lr": 0.08, "output:loss": 53.576, "line": 1623})],
        "test": [(0, {"iteration": 0, "accuracy": 0.00092, "loss": 7.08238})],
        "layer": (0, "data", [[32, 3, 128, 128], [32]], 6291584, [730, 731], 732),
    },
    "caffenet-benchmark__caffenet128_bn_after_tanh_again_05.log": {
        "runs": 1, "nets": 2, "train_rows": 1460, "test_rows": 29,
        "train": [(0, {"iteration": 0, "loss": 7.12749, "lr": 0.01, "output:loss": 7.12749, "line": 2298}),
                  (-1, {"iteration": 29180, "loss": 4.11039, "lr": 0.01, "line": 6796})],
        "test": [(0, {"iteration": 1000, "accuracy": 0.0311602, "loss": 6.05869, "line": 2448})],
        "layer": (0, "data", [[256, 3, 128, 128], [256]], 50332672, [1263, 1264], 1265),
    },
    "caffenet-benchmark__colorspace__LAB.log": {
        "runs": 1, "nets": 2, "train_rows": 82, "aborted": "SIGTERM",
        "train": [(0, {"iteration": 0, "loss": 7.39676, "lr": 0.01, "line": 1632}),
                  (-1, {"iteration": 1620, "loss": 6.90398, "lr": 0.01, "line": 1881})],
        "test": [(0, {"iteration": 0, "accuracy": 0.00086, "loss": 7.02764})],
        "layer": (0, "data", [[256, 3, 128, 128], [256]], 50332672, [835, 836], 837),
    },
    "caffenet-benchmark__contrib__resnet50__ResNet-56_BN_ReLU_wd_0001.log": {
        "runs": 2, "nets": 2, "train_rows": 11102, "test_rows": 166,
        "train": [(0, {"iteration": 0, "loss": 7.3402, "lr": 0.02, "acc": 0.0, "output:loss": 7.25457,
                       "line": 8825}),
                  (-1, {"run": 1, "iteration": 222020, "loss": 0.547475, "lr": 0.0002, "acc": 0.84375,
                        "output:loss": 0.529414, "line": 53818})],
        "test": [(0, {"iteration": 1000, "acc": 0.0204202, "loss": 6.04265, "line": 9034})],
        "layer": (0, "data", [[64, 3, 128, 128], [64]], 12583168, [3689, 3690], 3691),
    },
    "caffenet-benchmark__img__caffenet128_bn_after_tanh_again_05.log": {  # cut at 16 KB, in the net echo
        "runs": 1, "nets": 1, "train_rows": 0, "test_rows": 0, "solver_text": "base_lr: 0.01\ndisplay: 20\n",
        "filtered": ["data", "conv1_BN", "conv2_BN", "conv3_BN", "conv4_BN", "conv5_BN", "fc6_BN", "fc7_BN",
                     "accuracy"]},
    "caffenet-benchmark__solvers__bad__caffenet128_lsuv_adaadam_lr_001_09_0999_1e-8.log": {
        "runs": 0, "nets": 0, "train_rows": 0, "glog_lines": 0},
    "caffenet-benchmark__solvers__bad__caffenet_lsuv_rmsprop_05_lr001.log": {
        "runs": 1, "nets": 2, "train_rows": 8, "test_rows": 0,
        "train": [(0, {"iteration": 0, "loss": 7.36629, "lr": 0.01, "line": 1520}),
                  (-1, {"iteration": 140, "loss": 45.5618, "output:loss": 77.9793, "line": 1542})],
        "layer": (0, "data", [[256, 3, 128, 128], [256]], 50332672, [766, 767], 768),
    },
}


def test_the_walk_finds_the_logs() -> None:
    assert len(LOGS) >= 16
    assert {p.name for p in LOGS} == set(EXPECT), "a log without hand-read expectations (or a stale entry)"


def _parsed(path, cache={}):  # noqa: B006 - module-level memo: each log is parsed once per test run
    if path not in cache:
        cache[path] = parse_log(path, require_glog=False)  # (the shell-error log has no glog line)
    return cache[path]


def _check_row(frame: pd.DataFrame, row: int, expect: dict) -> None:
    for col, want in expect.items():
        value = frame[col].iloc[row]
        if isinstance(want, float):
            assert value == pytest.approx(want, rel=1e-12), (col, value, want)
        else:
            assert value == want, (col, value, want)


@pytest.mark.parametrize("path", LOGS, ids=lambda p: p.name)
def test_log_reads_as_written(path) -> None:
    exp = EXPECT[path.name]
    log = _parsed(path)
    for key in ("runs", "nets"):
        assert len(getattr(log, "runs" if key == "runs" else "net_logs")) == exp[key]
    if "train_rows" in exp:
        assert len(log.train) == exp["train_rows"]
    if "test_rows" in exp:
        assert len(log.test) == exp["test_rows"]
    if "glog_lines" in exp:
        assert log.glog_lines == exp["glog_lines"]
    for row, values in exp.get("train", []):
        _check_row(log.train, row, values)
    for row, values in exp.get("test", []):
        _check_row(log.test, row, values)
    if "layer" in exp:
        net, name, shapes, memory, shape_lines, memory_line = exp["layer"]
        rec = log.net_logs[net].layer(name)
        assert rec is not None
        assert rec.top_shapes == shapes
        assert rec.memory_bytes == memory
        if shape_lines is not None:
            assert rec.top_shape_lines == shape_lines
            assert rec.memory_line == memory_line
    if "fatal" in exp:
        assert (log.fatal or None) == exp["fatal"] or log.fatal.startswith(exp["fatal"])
    if "first_fatal" in exp:
        assert log.errors and log.errors[0].message.startswith(exp["first_fatal"])
    if "aborted" in exp:
        assert exp["aborted"] in log.fatal
    if "solver_text" in exp:
        assert exp["solver_text"] in log.runs[0].solver_text
    if "filtered" in exp:
        assert log.net_logs[0].filtered_layers == exp["filtered"] and log.net_logs[0].phase == "TRAIN"


@pytest.mark.parametrize("path", LOGS, ids=lambda p: p.name)
def test_every_train_row_is_in_the_text(path) -> None:
    """Rows are never invented: each train row's line holds its ``Iteration N``."""
    lines = path.read_bytes().split(b"\n")
    log = _parsed(path)
    for it, line in zip(log.train["iteration"], log.train["line"], strict=True):
        if line is not pd.NA:
            assert f"Iteration {it}".encode() in lines[int(line) - 1]


@pytest.mark.parametrize("path", LOGS, ids=lambda p: p.name)
def test_vectorized_scan_matches_line_by_line(path) -> None:
    """The numpy scan and the line-by-line dispatch give the same tables, whatever the chunking."""
    data = path.read_bytes()
    ref = LogParser(line_by_line=True)
    ref.feed(data)
    want = ref.close()
    for chunk in (len(data) + 1, 65536, 4093):
        p = LogParser()
        for i in range(0, len(data), chunk):
            p.feed(data[i:i + chunk])
        got = p.close()
        for name in ("train", "test", "layers", "nets", "snapshots", "restores", "outputs"):
            pd.testing.assert_frame_equal(getattr(got, name), getattr(want, name), check_dtype=False,
                                          check_categorical=False, obj=name)
        for name in ("train", "test"):
            pd.testing.assert_frame_equal(got.missing[name], want.missing[name], obj=f"missing {name}")
        assert [r.to_dict() for r in got.runs] == [r.to_dict() for r in want.runs]
        assert got.messages == want.messages
        assert (got.glog_lines, got.orphan_outputs, got.lines) == (want.glog_lines, want.orphan_outputs, want.lines)


def test_runs_of_a_restarted_log() -> None:
    """bs1: trained, stopped, a failed start (solver file not found), two resumes from snapshots."""
    log = _parsed(CORPUS / "logs" / "caffenet-benchmark__batch_size__caffenet128_lsuv_bs1_lr3.9063e-05.log")
    assert [r.status for r in log.runs] == ["stopped early", "fatal", "stopped early", "done"]
    assert [r.reason for r in log.runs] == ["solver", "fatal", "solver", "solver"]
    assert log.runs[2].resumed_from == "snapshots/caffenet128_no_lrn_lsuv_relu_bs1_iter_34048000.solverstate"
    assert log.runs[3].resumed_from == "snapshots/caffenet128_no_lrn_lsuv_relu_bs1_iter_72648645.solverstate"
    assert log.runs[1].fatal_line == 4034 and "caffe::ReadProtoFromTextFile()" in log.runs[1].fatal_trace
    first = log.train[log.train.run == 2].iloc[0]
    assert (first.iteration, first.loss, first.lr) == (34048000, 2.16574, 3.9063e-06)
    assert log.restores["kind"].tolist() == ["finetune", "resume", "resume"]
    assert log.runs[0].finetuned_from == "caffenet128_lsuv_bs64.prototxt.caffemodel"
    # seconds since the first Solving line, across the restarts (days later)
    assert log.train["seconds"].is_monotonic_increasing
    assert log.train.iloc[-1]["seconds"] > 7 * 86400


def test_a_second_run_without_its_set_up() -> None:
    """ResNet-56: after ``Optimization stopped early`` the file continues with another process's iterations."""
    log = _parsed(CORPUS / "logs" / "caffenet-benchmark__contrib__resnet50__ResNet-56_BN_ReLU_wd_0001.log")
    assert [(r.reason, r.line, r.status) for r in log.runs] == [("solver", 2, "stopped early"),
                                                                 ("continued", 39822, "stopped early")]
    second = log.train[log.train.run == 1].iloc[0]
    assert (second.iteration, second.loss, second.line) == (152420, 0.998126, 39822)
    assert log.snapshots.iloc[-1]["file"] == "snapshots1/ResNet56_lrwd_lsuv_iter_222022.solverstate"
    assert log.snapshots.iloc[-1]["iteration"] == 222022


def test_solver_echo_and_cut_net_echoes() -> None:
    """The solver echo parses with the schema; glog cut the 30000-byte echoes of ResNet-56, and what
    was printed before the cut is still read."""
    pytest.importorskip("caffecx.proto.caffe_pb2")
    log = _parsed(CORPUS / "logs" / "caffenet-benchmark__contrib__resnet50__ResNet-56_BN_ReLU_wd_0001.log")
    solver = log.solver
    assert solver is not None and log.runs[0].solver_truncated
    assert solver.base_lr == pytest.approx(0.02) and solver.stepsize == 100000 and solver.lr_policy == "step"
    train = log.net("TRAIN")
    assert train.param_truncated and train.param.name == "ResNet56" and len(train.param.layer) > 100
    conv = train.layer("block1_conv1")  # lines 3702-3707
    assert conv.type == "Convolution" and conv.top_shapes == [[64, 64, 61, 61]] and conv.memory_bytes == 73548544
    assert train.layer("block1_conv1_BN").type == "BatchNorm"
    lenet = _parsed(FIXTURES / "lenet" / "lenet_train.log")
    assert lenet.solver.max_iter == 1000 and lenet.solver.lr_policy == "inv" and not lenet.runs[0].solver_truncated
    assert [layer.type for layer in lenet.net("TEST").param.layer][:2] == ["Data", "Convolution"]


def test_2014_wordings() -> None:
    mnist = _parsed(CORPUS / "logs" / "bvlc-caffe-docs__mnist_2014.log")
    conv1 = mnist.net_logs[0].layer("conv1")
    assert conv1.legacy_shapes and conv1.bottoms == ["data"] and conv1.tops == ["conv1"]
    assert conv1.needs_backward is True
    assert mnist.runs[0].net_name == "LeNet" and mnist.runs[0].done
    assert mnist.test["iteration"].isna().all()  # "Testing net" without its iteration (Dec 2013)
    assert mnist.snapshots["file"].tolist() == ["lenet_iter_10000", "lenet_iter_10000.solverstate"]
    det = _parsed(CORPUS / "logs" / "bvlc-caffe-docs__imagenet_detection_2014.log")
    net = det.net_logs[0]
    assert [rec.name for rec in net.layers][:4] == ["conv1", "relu1", "pool1", "norm1"]
    assert net.layer("relu1").in_place == [True] and net.layer("relu1").tops == ["conv1"]
    assert net.layer("fc6").top_shapes == [[4096, 1, 1]] and net.outputs == ["prob"]


def test_types_from_the_echo_and_inserted_splits() -> None:
    log = _parsed(FIXTURES / "lenet" / "lenet_train.log")
    test_net = log.net("TEST", 0)
    types = {rec.name: rec.type for rec in test_net.layers}
    assert types["label_mnist_1_split"] == "Split" and types["loss"] == "SoftmaxWithLoss"
    assert test_net.layer("loss").loss_weights == [1.0] and test_net.layer("accuracy").loss_weights == [0.0]
    assert test_net.layer("accuracy").needs_backward is False
    assert test_net.filtered_layers == ["mnist"] and test_net.outputs == ["accuracy", "loss"]
    assert log.net("TRAIN").filtered_layers == ["mnist", "accuracy"]


def test_nan_and_exponents_survive() -> None:
    log = _parsed(CORPUS / "logs" / "caffenet-benchmark__batch_size__caffenet128_lsuv_bs1_lr3.9063e-05.log")
    assert log.train["lr"].iloc[-2] == 3.9063e-08  # "Iteration 81868800, lr = 3.9063e-08"
    assert math.isnan(log.train["lr"].iloc[-1])  # the final "Iteration 81920000, loss" has no lr line
    assert math.isclose(log.train["lr"].min(), 3.9063e-08)
