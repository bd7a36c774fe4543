"""caffecx compare (seed 004's model A against model C) and caffecx audit of the shared corpus."""

from __future__ import annotations

import csv
import json

import pytest
from paths import CORPUS, REPO

from caffecx.cli import main

SEEDS = REPO / "prototxt" / "seeds"


def test_compare_model_a_and_c(capsys, tmp_path) -> None:
    png = tmp_path / "c.png"
    assert main(["compare", str(SEEDS / "he_sun_model_a.prototxt"), str(SEEDS / "he_sun_model_c.prototxt"),
                 "--format", "json", "--plot", str(png)]) == 0
    rows = {(r["scope"], r["quantity"]): r for r in json.loads(capsys.readouterr().out)["rows"]}
    # model C replaces stage 2's 5x5 conv by two 3x3: stage-2 MACs x 1.125, one more layer deep
    assert rows[("stage 2", "macs")]["a"] == 223_027_200 and rows[("stage 2", "macs")]["ratio"] == pytest.approx(1.125, abs=1e-4)
    assert (rows[("stage 2", "depth")]["a"], rows[("stage 2", "depth")]["b"]) == (1, 2)
    for stage in ("stage 1", "stage 3", "stage 4"):
        assert rows[(stage, "macs")]["ratio"] == 1
    assert rows[("stage 2", "receptive_field")]["a"] == rows[("stage 2", "receptive_field")]["b"] == "41x41"
    assert rows[("total", "macs")]["a"] == 834_253_504
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert main(["compare", str(SEEDS / "he_sun_model_a.prototxt"), str(SEEDS / "he_sun_model_c.prototxt"),
                 "--format", "markdown"]) == 0
    assert "| stage 2 | macs | 223,027,200 | 250,896,384 | 1.125 |" in capsys.readouterr().out


def test_audit_of_the_corpus(tmp_path, capsys) -> None:
    out = tmp_path / "audit"
    assert main(["audit", str(CORPUS), "-o", str(out), "--no-reports"]) == 0
    rows = list(csv.DictReader((out / "audit.csv").open()))
    files = sorted(p.relative_to(CORPUS).as_posix() for p in CORPUS.rglob("*")
                   if p.is_file() and not any(s.startswith(".") for s in p.relative_to(CORPUS).parts))
    assert [r["path"] for r in rows] == files  # one row per file, in order
    assert all(r["status"] for r in rows)
    by = {r["path"]: r for r in rows}
    assert by["prototxt/resnet50__deploy.prototxt"]["status"] == "ok"
    assert by["prototxt/resnet50__deploy.prototxt"]["macs"] == "3857973248"
    assert by["prototxt/caffenet__deploy_v0_2014.prototxt"]["era"] == "V0"
    assert by["prototxt/alexnet__deploy_v1_2014.prototxt"]["era"] == "V1"
    googlenet = by["prototxt/bvlc_googlenet__train_val.prototxt"]
    assert googlenet["status"] == "ok" and googlenet["assumed"] == "data=50,3,224,224"
    alexnet = by["prototxt/bvlc_alexnet__train_val.prototxt"]
    assert alexnet["status"] == "error" and "train_val.prototxt:21:1: layer 'data'" in alexnet["detail"]
    assert "does not determine C (channels)" in alexnet["detail"]
    assert by["prototxt/pycaffe__linreg.prototxt"]["status"] == "not set up"
    assert by["prototxt/resnet50__deploy.prototxt"]["phase"] == "TEST"
    ssd_train = by["prototxt/mobilenet_ssd__train.prototxt"]  # its data layer is TRAIN-only: audited in TRAIN
    assert (ssd_train["phase"], ssd_train["status"], ssd_train["assumed"]) == ("TRAIN", "ok", "data=24,3,300,300")
    assert ssd_train["macs"] == "27563500032"  # 24 x 1,148,479,168
    assert by["logs/caffenet-benchmark__colorspace__LAB.log"]["status"] == "fatal in log"
    resnet56 = by["logs/caffenet-benchmark__contrib__resnet50__ResNet-56_BN_ReLU_wd_0001.log"]
    assert resnet56["status"] == "check incomplete"  # glog cut its echoes: nothing disagrees, 72 layers unchecked
    assert "TRAIN INCOMPLETE: 72 layers not checked (glog cut the net's echo at 30000 bytes" in resnet56["detail"]
    assert by["NOTES.md"]["status"] == "skipped"
    page = (out / "index.html").read_text()
    assert page.count("<tr>") == len(rows) + 1
    err = capsys.readouterr().err
    assert f"{len(rows)}/{len(rows)}" in err


def test_audit_survives_bad_files_and_links_reports(tmp_path, capsys) -> None:
    src = tmp_path / "zoo"
    src.mkdir()
    (src / "good.prototxt").write_text((REPO / "prototxt" / "lenet.prototxt").read_text())
    (src / "broken.prototxt").write_text("layer { name: 'x' type: \n")
    (src / "junk.caffemodel").write_bytes(b"\x00\xff" * 10)
    (src / "<b>.log").write_text("not a log\n")
    real = (REPO / "logs" / "lenet_train.log").read_text()
    (src / "lenet_tampered.log").write_text(real.replace("Top shape: 64 20 24 24 (737280)",
                                                         "Top shape: 64 20 25 25 (800000)", 1))
    out = tmp_path / "out"
    assert main(["audit", str(src), "-o", str(out)]) == 0
    rows = {r["path"]: r for r in csv.DictReader((out / "audit.csv").open())}
    assert set(rows) == {"good.prototxt", "broken.prototxt", "junk.caffemodel", "<b>.log", "lenet_tampered.log"}
    tampered = rows["lenet_tampered.log"]
    assert tampered["status"] == "check mismatch" and "TRAIN MISMATCH: 1 mismatch(es)" in tampered["detail"]
    assert rows["broken.prototxt"]["status"] == "error" and "broken.prototxt:" in rows["broken.prototxt"]["detail"]
    assert rows["junk.caffemodel"]["status"] in ("error", "crash")
    assert rows["good.prototxt"]["status"] == "ok" and rows["good.prototxt"]["macs"] == "146752000"  # 64 x 2,293,000
    link = rows["good.prototxt"]["report"]
    assert link.startswith("reports/good.prototxt-") and (out / link).is_file()
    page = (out / "index.html").read_text()
    assert "<b>.log" not in page and "&lt;b&gt;.log" in page
