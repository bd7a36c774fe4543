"""`caffecx check`: real logs against the analyzer, from the named prototxt or from the log's own echo."""

from __future__ import annotations

import json

import pytest
from paths import CORPUS, FIXTURES, LENET, NETS

from caffecx.check import check_log
from caffecx.cli import main

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
    result = check_log(log)
    text = log.read_text(errors="replace")
    if "Top shape:" not in text:
        assert not [r for r in result.rows if r.quantity.startswith("top_shape")]
        return
    if "Initializing net from parameters" not in text:  # 2014 excerpts: nothing to rebuild the net from
        assert result.nets and all("no net parameter echo" in (n.error or "") for n in result.nets)
        assert not result.ok
        return
    cut = [n for n in result.nets if n.error and "cut short" in n.error]
    if cut:  # glog cut the echo of a big net at 30000 bytes: the net cannot be rebuilt from the log alone
        assert not result.ok and all("cut short" in (n.error or "") for n in result.nets)
        return
    unknown = [r for r in result.rows if r.status == "unknown"]
    if unknown:
        pytest.skip(f"layers unknown to the analyzer: {sorted({r.layer for r in unknown})[:5]}")
    assert result.ok, result.mismatches().head(20).to_string()
