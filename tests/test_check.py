"""`caffecx check`: real logs against the analyzer, from the named prototxt or from the log's own echo."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
from paths import CORPUS, FIXTURES, LENET, NETS

from caffecx.check import UNROLLED, check_log
from caffecx.cli import main
from caffecx.errors import CaffecxError
from caffecx.logs import parse_log

FIXTURE_LOGS = sorted(FIXTURES.rglob("*.log"))


def prototxt_for(log):
    same = log.with_suffix(".prototxt")
    return same if same.exists() else log.parent / "lenet_train_test.prototxt"


@pytest.mark.parametrize("log", FIXTURE_LOGS, ids=lambda p: p.name)
@pytest.mark.parametrize("with_net", [True, False], ids=["net", "echo"])
def test_fixture_logs_check_clean(log, with_net) -> None:
    result = check_log(log, prototxt_for(log) if with_net else None)
    assert result.ok, result.mismatches().to_string()
    compared = sum(len(n.rows) for n in result.nets)
    shapes_in_log = log.read_text().count("Top shape:")
    assert compared >= shapes_in_log  # every Top shape line was compared


def test_lenet_train_log_checks_both_nets() -> None:
    result = check_log(LENET / "lenet_train.log", LENET / "lenet_train_test.prototxt")
    assert [n.label for n in result.nets] == ["TRAIN", "TEST #0"]
    frame = result.to_frame()
    conv1 = frame[(frame.net == "TRAIN") & (frame.layer == "conv1") & (frame.quantity == "top_shape[0]")]
    assert conv1.iloc[0]["log_value"] == "64 20 24 24" == conv1.iloc[0]["analyzer_value"]
    mem = frame[(frame.net == "TEST #0") & (frame.quantity == "memory_bytes")]
    assert list(mem["log_value"])[-1] == 8086808


def test_concat_mismatch_log_agrees_up_to_the_failure() -> None:
    result = check_log(NETS / "layers_1_concat_mismatch.log")
    assert result.ok
    err = [r for r in result.rows if r.quantity == "error"]
    assert len(err) == 1 and err[0].layer == "cat"
    assert "Check failed" in err[0].log_value


def test_a_net_against_another_nets_log_reports_mismatches(capsys) -> None:
    code = main(["check", str(NETS / "layers_1.prototxt"), str(NETS / "layers_2.log")])
    out = capsys.readouterr().out
    assert code == 1
    assert "MISMATCH" in out
    assert "2 6 12 12" in out and "3 4 20 18" in out  # the data top: log value, analyzer value


def test_check_json_and_exit_codes(capsys, tmp_path) -> None:
    assert main(["check", str(NETS / "layers_2.log"), "--format", "json"]) == 0
    doc = json.loads(capsys.readouterr().out)
    assert doc["ok"] is True and doc["nets"][0]["net"] == "TEST" and doc["nets"][0]["mismatches"] == 0
    assert main(["check", str(tmp_path / "missing.log")]) == 2
    assert "missing.log" in capsys.readouterr().err


CORPUS_LOGS = sorted((CORPUS / "logs").glob("*.log"))


@pytest.mark.parametrize("log", CORPUS_LOGS, ids=lambda p: p.name[:60])
def test_corpus_logs_check_from_their_echo(log) -> None:
    text = log.read_text(errors="replace")
    if parse_log(log, require_glog=False).glog_lines == 0:  # (a shell error, not a Caffe log: bad input)
        with pytest.raises(CaffecxError, match="not a Caffe log"):
            check_log(log)
        return
    result = check_log(log)
    if "Top shape:" not in text:
        assert not [r for r in result.rows if r.quantity.startswith("top_shape")]
        return
    if "Initializing net from parameters" not in text:  # 2014 excerpts: nothing to rebuild the net from
        assert result.nets and all("no net parameter echo" in (n.error or "") for n in result.nets)
        assert not result.ok
        return
    if any(n.unchecked for n in result.nets):  # glog cut the echo of a big net at 30000 bytes: the layers
        # it shows in full are checked, the others are counted in one "layers not checked" row
        assert not result.ok
        assert all(r.status == "match" for r in result.rows if r.quantity != "layers not checked")
        return
    unknown = [r for r in result.rows if r.status == "unknown"]
    if unknown:
        pytest.skip(f"layers unknown to the analyzer: {sorted({r.layer for r in unknown})[:5]}")
    assert result.ok, result.mismatches().head(20).to_string()


def test_resnet56_log_with_a_cut_echo_checks_against_its_prototxt() -> None:
    # glog cut this log's ResNet-56 echo at 30000 bytes; the corpus has the net's train_val (a solver
    # with the net inline): every layer, top shape and memory line of both nets then matches
    log = CORPUS / "logs" / "caffenet-benchmark__contrib__resnet50__ResNet-56_BN_ReLU_wd_0001.log"
    net = CORPUS / "prototxt" / "caffenet-benchmark__resnetbn_56_lsuv__train_val.prototxt"
    result = check_log(log, net)
    assert [n.label for n in result.nets] == ["TRAIN", "TEST #0"]
    assert result.ok and [len(n.rows) for n in result.nets] == [592, 592]


def test_a_cut_echo_is_checked_up_to_its_last_whole_layer(capsys) -> None:
    # without the prototxt: the 119 layers the cut echo shows in full are checked (every layer, top
    # shape and memory line matches, the label's split for the loss and accuracy past the cut passed
    # over), the other 72 are counted, and the advice is to name the NET
    log = CORPUS / "logs" / "caffenet-benchmark__contrib__resnet50__ResNet-56_BN_ReLU_wd_0001.log"
    result = check_log(log)
    assert [(n.label, n.error, n.unchecked) for n in result.nets] == [("TRAIN", None, 72), ("TEST #0", None, 72)]
    for n in result.nets:
        left = [r for r in n.rows if r.status != "match"]
        assert [(r.layer, r.quantity, r.log_value) for r in left] == [("block4_conv86_BN", "layers not checked", 72)]
        assert "119 layers checked, 72 not" in left[0].analyzer_value and "caffecx check NET LOG" in left[0].analyzer_value
        assert len(n.rows) == 369 and sum(r.quantity == "memory_bytes" for r in n.rows) == 119
    # (issue 11) no disagreement was found, but not everything could be checked: exit 2, not 1
    assert main(["check", str(log), "--format", "json"]) == 2
    out, err = capsys.readouterr()
    doc = json.loads(out)
    assert [(n["unchecked_layers"], n["mismatches"], n["verdict"]) for n in doc["nets"]] == [
        (72, 1, "INCOMPLETE"), (72, 1, "INCOMPLETE")]
    assert err.splitlines() == ["caffecx: TRAIN not checked in full: 72 layer(s) not checked",
                                "caffecx: TEST #0 not checked in full: 72 layer(s) not checked"]


DOCS = CORPUS / "logs"


def test_a_2014_documentation_excerpt_is_checked_on_what_it_shows(capsys) -> None:
    # the MNIST tutorial quotes one layer in 2014's wording, "Top shape: 20 24 24" (no batch, no
    # count), and its data layer not at all: the batch comes from --input-shape
    log = DOCS / "bvlc-caffe-docs__mnist_2014.log"
    net = CORPUS / "prototxt" / "lenet__train_v0_2014.prototxt"
    result = check_log(log, net, input_shapes={"data": (64, 1, 28, 28)})
    assert result.ok
    assert [(r.layer, r.quantity, r.log_value, r.analyzer_value) for r in result.rows] == [
        ("conv1", "layer", "conv1", "conv1"), ("conv1", "top_shape[0]", "20 24 24", "20 24 24")]
    assert main(["check", str(net), str(log), "--input-shape", "data=64,1,28,28"]) == 0
    capsys.readouterr()
    # the LevelDB source cannot be read here: missing input (exit 2, the advice on stderr), not a mismatch
    assert main(["check", str(net), str(log)]) == 2
    out, err = capsys.readouterr()
    assert out == "" and "--input-shape data=64,C,H,W" in err


def test_a_2014_log_with_padding_layers_checks_against_the_v0_net() -> None:
    # the detection tutorial's log (Feb 2014) sets up padding layers (pad2 ... pad5) and 4-D
    # fully-connected tops ("4096 1 1"); Caffe's V0 upgrade folds the padding into conv2 ... conv5
    log = DOCS / "bvlc-caffe-docs__imagenet_detection_2014.log"
    result = check_log(log, CORPUS / "prototxt" / "caffenet__deploy_v0_2014.prototxt")
    assert result.ok and len(result.rows) == 50
    rows = {(r.layer, r.quantity): r for r in result.rows}
    assert rows[("pad2", "layer")].analyzer_value == "folded into 'conv2' (pad 2)"
    assert rows[("fc6", "top_shape[0]")].analyzer_value == "4096 1 1"
    assert rows[("prob", "top_shape[0]")].log_value == "1000 1 1"
    # the R-CNN deploy net of today ends in fc-rcnn, not the tutorial's fc8 + prob
    other = check_log(log, CORPUS / "prototxt" / "bvlc_reference_rcnn_ilsvrc13__deploy.prototxt")
    assert sorted((r.layer, r.log_value, r.analyzer_value) for r in other.rows if r.status != "match") == [
        ("fc-rcnn", None, "fc-rcnn"), ("fc8", "fc8", None), ("prob", "prob", None)]


def test_a_layer_the_log_never_set_up_is_a_mismatch(tmp_path) -> None:
    # a net with one more layer than the one the log built: the log finished its set-up without it
    extra = tmp_path / "layers_2_plus.prototxt"
    extra.write_text((NETS / "layers_2.prototxt").read_text()
                     + '\nlayer { name: "extra_relu" type: "ReLU" bottom: "sm" top: "extra" }\n')  # sm: a net output
    result = check_log(NETS / "layers_2.log", extra)
    assert [(r.layer, r.quantity, r.log_value, r.analyzer_value) for r in result.rows if r.status != "match"] == [
        ("extra_relu", "layer", None, "extra_relu")]


def test_a_log_that_sets_up_no_net_is_bad_input(capsys) -> None:
    log = CORPUS / "logs" / "caffenet-benchmark__img__caffenet128_bn_after_tanh_again_05.log"
    assert main(["check", str(log)]) == 2
    assert capsys.readouterr().err.startswith(f"caffecx: {log}: the log sets up no net: nothing to check")


DATA_LOGS = Path(__file__).resolve().parent / "data" / "logs"


def test_softmax_with_two_tops_refused_by_both() -> None:
    """Caffe's ``Check failed: top.size() == num_loss_weights`` at set-up; the analyzer refuses it too."""
    result = check_log(DATA_LOGS / "softmax_two_tops_refused.log")
    assert result.ok
    err = [r for r in result.rows if r.quantity == "error"]
    assert len(err) == 1 and err[0].layer == "loss" and "num_loss_weights" in err[0].log_value
    assert "once per top blob" in err[0].analyzer_value


def test_caffe_refused_what_caffecx_accepts(tmp_path) -> None:
    text = (DATA_LOGS / "softmax_two_tops_refused.log").read_text()
    text = text.replace('  top: "prob"\n', "").replace(" loss -> prob\n", " loss -> loss\n")
    log = tmp_path / "refused.log"
    log.write_text(text)
    result = check_log(log)
    assert not result.ok
    net = result.nets[0]
    assert net.error is not None and "Caffe refused layer 'loss'" in net.error and "caffecx accepted" in net.error


def test_json_all_lists_matched_rows(capsys) -> None:
    assert main(["check", str(DATA_LOGS / "softmax_two_tops_refused.log"), "--format", "json", "--all"]) == 0
    rows = json.loads(capsys.readouterr().out)["nets"][0]["rows"]
    assert {r["status"] for r in rows} == {"match"} and len(rows) == 5


# -- verdicts a script can trust (issue 11) ------------------------------------------------------------

LENET_LOG = LENET / "lenet_train.log"
LENET_WEIGHTS = LENET / "lenet_iter_1000.caffemodel"


@pytest.mark.parametrize("content", [None, b"\x08\x96\x01garbage\xff\xfe" * 20, b"layer { name: 'a' type: ",
                                     b"not: a: net {{{"])
@pytest.mark.parametrize("fmt", ["table", "json"])
def test_an_unreadable_net_is_bad_input_with_nothing_on_stdout(tmp_path, capsys, content, fmt) -> None:
    net = tmp_path / "net.prototxt"
    if content is not None:
        net.write_bytes(content)
    assert main(["check", str(net), str(LENET_LOG), "--format", fmt]) == 2
    out, err = capsys.readouterr()
    assert out == "" and err.splitlines()[-1].startswith(f"caffecx: {net}") and "MISMATCH" not in err
    with pytest.raises(CaffecxError):
        check_log(LENET_LOG, net)


def test_a_caffemodel_holding_only_the_train_net_asked_for_test_is_bad_input(capsys) -> None:
    assert main(["check", str(LENET_WEIGHTS), str(LENET_LOG), "--phase", "TEST"]) == 2
    out, err = capsys.readouterr()
    assert out == "" and "holds the net Caffe saved after training" in err and "--phase TRAIN" in err
    # without --phase: TRAIN is checked (OK), TEST could not be: exit 2, the reason on stderr
    assert main(["check", str(LENET_WEIGHTS), str(LENET_LOG)]) == 2
    out, err = capsys.readouterr()
    assert "TRAIN (" in out and ": OK" in out and "NOT CHECKED" in out
    assert err.startswith("caffecx: TEST #0 not checked in full: ")
    result = check_log(LENET_LOG, LENET_WEIGHTS)
    assert [(n.label, n.verdict, n.bad_input) for n in result.nets] == [("TRAIN", "OK", False),
                                                                          ("TEST #0", "NOT CHECKED", True)]
    assert result.status == 2
    assert main(["check", str(LENET_WEIGHTS), str(LENET_LOG), "--phase", "TRAIN"]) == 0


def test_exit_1_only_for_a_real_disagreement(tmp_path, capsys) -> None:
    # the LeNet prototxt with conv1 at 30 outputs: a real disagreement with the log (exit 1, on stdout)
    net = tmp_path / "lenet30.prototxt"
    net.write_text((LENET / "lenet_train_test.prototxt").read_text().replace("num_output: 20", "num_output: 30"))
    assert main(["check", str(net), str(LENET_LOG)]) == 1
    out, err = capsys.readouterr()
    assert "MISMATCH" in out and err == ""
    assert check_log(LENET_LOG, net).status == 1
    assert main(["check", str(LENET / "lenet_train_test.prototxt"), str(LENET_LOG)]) == 0


def test_a_log_without_an_echo_and_without_net_is_bad_input(tmp_path, capsys) -> None:
    text = LENET_LOG.read_text()
    start = text.index("Initializing net from parameters")
    cut = text[:text.rfind("\n", 0, start) + 1]
    rest = text[start:]
    body = "\n".join(line for line in rest.splitlines()
                     if re.match(r"^[IWEF]\d{4,8} ", line))  # the glog lines only: the echo's body is gone
    log = tmp_path / "no_echo.log"
    log.write_text(cut + body + "\n")
    result = check_log(log)
    # (the echo's first line stays, its body is gone: no whole layer to rebuild the net from)
    assert result.nets and all(n.bad_input and "name the prototxt" in n.error for n in result.nets)
    assert main(["check", str(log)]) == 2
    out, err = capsys.readouterr()
    assert out == "" and "name the prototxt" in err


@pytest.mark.parametrize("call", [
    lambda: check_log(None),
    lambda: check_log(3),
    lambda: check_log(LENET_LOG, 3),
    lambda: check_log(LENET_LOG, phase=1),
])
def test_check_log_argument_types(call) -> None:
    with pytest.raises(TypeError):
        call()
    with pytest.raises(CaffecxError, match="TRAIN or TEST"):
        check_log(LENET_LOG, phase="train")


# -- nets built inside a layer's set-up: a recurrent layer's unrolled net (issue 9) --------------------

RECURRENT_NET = Path(__file__).resolve().parent / "data" / "lstm_nested.prototxt"
RECURRENT_LOG = DATA_LOGS / "lstm_nested.log"  # its TEST set-up as Caffe prints it: see tests/logs/test_logs_nested.py


def recurrent_log_with(tmp_path: Path, line: int, old: str, new: str) -> Path:
    """The recurrent log with ``old`` replaced by ``new`` on (1-based) line ``line``."""
    lines = RECURRENT_LOG.read_text().split("\n")
    assert lines[line - 1].endswith(old), lines[line - 1]
    lines[line - 1] = lines[line - 1][:-len(old)] + new
    log = tmp_path / "altered.log"
    log.write_text("\n".join(lines))
    return log


@pytest.mark.parametrize("with_net", [True, False], ids=["net", "echo"])
def test_a_recurrent_log_checks_each_unrolled_net_against_caffecx_s(with_net) -> None:
    result = check_log(RECURRENT_LOG, RECURRENT_NET if with_net else None)
    assert [(n.label, n.source, n.verdict, len(n.rows)) for n in result.nets] == [
        ("TEST", str(RECURRENT_NET) if with_net else "log echo", "OK", 17),
        ("TEST > lstm1", UNROLLED, "OK", 89), ("TEST > rnn1", UNROLLED, "OK", 88)]
    assert result.ok and result.status == 0
    text = RECURRENT_LOG.read_text()
    quantities = [r.quantity for r in result.rows]  # every layer, Top shape and Memory line of the log
    assert quantities.count("layer") == text.count("] Creating Layer ") == 57
    assert sum(q.startswith("top_shape") for q in quantities) == text.count("] Top shape: ") == 80
    assert quantities.count("memory_bytes") == text.count("] Memory required for data: ") == 57
    rows = {(r.net, r.layer, r.quantity): r for r in result.rows}
    # the outer LSTM's own lines stay in the outer net: 30 floats on top of the 168 bytes before it
    assert (rows[("TEST", "lstm1", "top_shape[0]")].log_value, rows[("TEST", "lstm1", "memory_bytes")].log_value,
            rows[("TEST", "lstm1", "memory_bytes")].line) == ("3 2 5", 288, 587)
    # the unrolled net: memory from 0 again; the three layers named "lstm1_" matched in their order
    firsts = [(r.log_value, r.analyzer_value, r.line) for r in result.rows
              if r.net == "TEST > lstm1" and r.layer == "lstm1_" and r.quantity != "layer"]
    assert firsts == [("3 2 4", "3 2 4", 341), ("3 2", "3 2", 342), (120, 120, 343),
                      ("1 2 5", "1 2 5", 349), ("1 2 5", "1 2 5", 350), (200, 200, 351),
                      ("1 2 5", "1 2 5", 535), (2752, 2752, 536)]
    assert rows[("TEST > lstm1", "lstm1_gate_input_1", "top_shape[0]")].analyzer_value == "1 2 20"  # 4 x 5 gates
    assert rows[("TEST > lstm1", "h_pseudoloss", "memory_bytes")].analyzer_value == 2876
    assert rows[("TEST > rnn1", "o_pseudoloss", "memory_bytes")].analyzer_value == 940


def test_a_wrong_lstm_top_shape_is_a_mismatch(tmp_path, capsys) -> None:
    # the LSTM's own "Top shape" line (after its unrolled net's set-up), 3 2 5 in Caffe's log, made 3 2 7
    log = recurrent_log_with(tmp_path, 586, "Top shape: 3 2 5 (30)", "Top shape: 3 2 7 (42)")
    result = check_log(log, RECURRENT_NET)
    assert [(r.net, r.layer, r.quantity, r.log_value, r.analyzer_value, r.line) for r in result.rows
            if r.status != "match"] == [("TEST", "lstm1", "top_shape[0]", "3 2 7", "3 2 5", 586)]
    assert [n.verdict for n in result.nets] == ["MISMATCH", "OK", "OK"] and result.status == 1
    assert main(["check", str(RECURRENT_NET), str(log)]) == 1
    out = capsys.readouterr().out
    assert out.splitlines()[:4] == [
        f"TEST ({RECURRENT_NET}): 17 compared, 1 not matching: MISMATCH",
        "layer  quantity      log    analyzer  status    line",
        "-----  ------------  -----  --------  --------  ----",
        "lstm1  top_shape[0]  3 2 7  3 2 5     mismatch   586"]


@pytest.mark.parametrize(("line", "layer", "logged", "right"), [
    (430, "lstm1_gate_input_1", 1596, 1592),  # 398 floats: 20 more than unit 1's 378
    (536, "lstm1_", 2756, 2752),  # the third "lstm1_" (the split copying c_3 to c_T), not the first
])
def test_a_wrong_memory_line_in_an_unrolled_net_is_a_mismatch(tmp_path, capsys, line, layer, logged, right) -> None:
    log = recurrent_log_with(tmp_path, line, f"Memory required for data: {right}",
                             f"Memory required for data: {logged}")
    result = check_log(log)
    assert [(r.net, r.layer, r.quantity, r.log_value, r.analyzer_value, r.line) for r in result.rows
            if r.status != "match"] == [("TEST > lstm1", layer, "memory_bytes", logged, right, line)]
    assert main(["check", str(log), "--format", "json"]) == 1
    doc = json.loads(capsys.readouterr().out)
    assert [(n["net"], n["verdict"], n["compared"], n["mismatches"]) for n in doc["nets"]] == [
        ("TEST", "OK", 17, 0), ("TEST > lstm1", "MISMATCH", 89, 1), ("TEST > rnn1", "OK", 88, 0)]


def test_check_cli_on_the_recurrent_log(capsys) -> None:
    assert main(["check", str(RECURRENT_NET), str(RECURRENT_LOG)]) == 0
    assert capsys.readouterr().out.splitlines() == [
        f"TEST ({RECURRENT_NET}): 17 compared, 0 not matching: OK",
        "TEST > lstm1 (caffecx's unrolled net): 89 compared, 0 not matching: OK",
        "TEST > rnn1 (caffecx's unrolled net): 88 compared, 0 not matching: OK"]


def without_the_outer_echo(tmp_path: Path) -> Path:
    """The recurrent log without the outer net's parameter echo (so that the outer net cannot be rebuilt
    from the log alone)."""
    lines = RECURRENT_LOG.read_text().split("\n")
    start = next(i for i, x in enumerate(lines) if x.endswith("] Initializing net from parameters: "))
    end = next(i for i in range(start + 1, len(lines)) if re.match(r"I\d{4,8} ", lines[i]))
    log = tmp_path / "no_outer_echo.log"
    log.write_text("\n".join(lines[:start + 1] + lines[end:]))
    return log


def test_unrolled_nets_fall_back_to_their_echo_when_the_outer_net_is_not_rebuilt(tmp_path) -> None:
    result = check_log(without_the_outer_echo(tmp_path))
    assert [(n.label, n.source, n.verdict, len(n.rows)) for n in result.nets] == [
        ("net 0", "log echo", "NOT CHECKED", 0), ("net 0 > lstm1", "log echo", "OK", 89),
        ("net 0 > rnn1", "log echo", "OK", 88)]  # (no echo: the log does not say the outer net's phase)
    assert result.status == 2  # the outer net needs NET: named, all three are checked against caffecx's nets
    named = check_log(without_the_outer_echo(tmp_path), RECURRENT_NET)
    assert [(n.source, n.verdict) for n in named.nets] == [(str(RECURRENT_NET), "OK"), (UNROLLED, "OK"),
                                                           (UNROLLED, "OK")]


def cut_lstm_echo(tmp_path: Path) -> Path:
    """The recurrent log with the lstm1 unrolled net's echo cut inside 'lstm1_transform_1', as glog cuts
    a message at 30000 bytes (a long sequence's unrolled echo ends mid-field)."""
    lines = RECURRENT_LOG.read_text().split("\n")
    start = 92  # (0-based) the echo's first line after "Initializing net from parameters:" on line 92
    end = next(i for i in range(start, len(lines)) if re.match(r"I\d{8} ", lines[i]))
    inside = next(i for i in range(start, end) if lines[i] == '  name: "lstm1_transform_1"')
    log = tmp_path / "cut.log"
    log.write_text("\n".join(lines[:inside + 3] + ["    num_out"] + lines[end:]))
    return log


def test_an_unrolled_net_with_a_cut_echo_is_checked_in_full_against_caffecx_s(tmp_path) -> None:
    result = check_log(cut_lstm_echo(tmp_path), RECURRENT_NET)
    assert [(n.source, n.verdict, len(n.rows)) for n in result.nets] == [
        (str(RECURRENT_NET), "OK", 17), (UNROLLED, "OK", 89), (UNROLLED, "OK", 88)]
    assert result.status == 0


def test_an_unrolled_net_with_a_cut_echo_and_no_outer_net_is_checked_up_to_the_cut(tmp_path, capsys) -> None:
    # without the outer net (its echo gone, no NET) the lstm1 net can only come from its own cut echo
    lines = cut_lstm_echo(tmp_path).read_text().split("\n")
    start = next(i for i, x in enumerate(lines) if x.endswith("] Initializing net from parameters: "))
    end = next(i for i in range(start + 1, len(lines)) if re.match(r"I\d{4,8} ", lines[i]))
    log = tmp_path / "cut_no_outer.log"
    log.write_text("\n".join(lines[:start + 1] + lines[end:]))
    result = check_log(log)
    assert [n.verdict for n in result.nets] == ["NOT CHECKED", "INCOMPLETE", "OK"] and result.status == 2
    inner = result.nets[1]
    checked = [r.layer for r in inner.rows if r.quantity == "layer"]
    assert checked[:3] == ["lstm1_", "lstm1_", "lstm1_cont_slice"]
    left = [r for r in inner.rows if r.status != "match"]
    assert [(r.quantity, r.log_value) for r in left] == [("layers not checked", 25 - len(checked))]
    assert "the net that layer 'lstm1' builds in its set-up can only be rebuilt from its echo" in left[0].analyzer_value
    assert "NET LOG" not in left[0].analyzer_value


def test_a_recurrent_layer_the_analyzer_refuses_builds_nothing_its_echo_is_checked(tmp_path) -> None:
    # NET's cont is 3 x 3, the data 3 x 2: caffecx refuses lstm1 (cont must be (T, N)); its unrolled
    # net is then checked against its own echo, and the outer net's disagreement is reported
    net = tmp_path / "bad_cont.prototxt"
    net.write_text(RECURRENT_NET.read_text().replace("shape { dim: 3 dim: 2 }", "shape { dim: 3 dim: 3 }", 1))
    result = check_log(RECURRENT_LOG, net)
    assert [(n.label, n.source, n.verdict) for n in result.nets][1:] == [
        ("TEST > lstm1", "log echo", "OK"), ("TEST > rnn1", "log echo", "OK")]
    assert result.nets[0].verdict == "MISMATCH" and result.status == 1
