"""caffecx report: LeNet's numbers in both files, byte-identical output, escaping, nothing partial."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from paths import LENET, REPO

from caffecx.cli import main
from caffecx.report import build_report, write_report
from caffecx.report.html import to_html
from caffecx.report.markdown import to_markdown

WEIGHTS = LENET / "lenet_iter_1000.caffemodel"


@pytest.fixture(scope="module")
def lenet_report():
    import os

    cwd = os.getcwd()
    os.chdir(REPO)
    try:
        return build_report(weights=WEIGHTS)
    finally:
        os.chdir(cwd)


def test_lenet_report_numbers(lenet_report) -> None:
    md = to_markdown(lenet_report)
    # conv1 of the TEST net (batch 100): 100x20x24x24, 520 params, 28.8 M MACs, memory line 4,922,800
    assert "| conv1 | Convolution | 100x20x24x24 | 520 | 28,800,000 | 58,752,000 | 4,922,800 | 576 | 5x5 | 1 |" in md
    assert "| ip1 | InnerProduct | 100x500 | 400,500 | 40,000,000 |" in md
    assert "| memory_bytes | 8,086,808 |" in md and "| macs | 229,300,000 |" in md
    # per stage: stage 2 holds conv2's 160 M MACs (69.78 %)
    assert "| 2 | 2 | 25,000 | 25,050 | 160,000,000 | 320,640,000 | 400,000 | 0.6978 | 0.05811 |" in md
    # the check against the real log: the TRAIN net (28 lines) and TEST #0 (39 lines) all match
    assert lenet_report.check.ok and [len(n.rows) for n in lenet_report.check.nets] == [28, 39]
    assert "| TRAIN | mnist | memory_bytes | 200960 | 200960 | match | 180 |" in md.replace(",", "")
    # weight statistics of the caffemodel: conv1's 20x1x5x5 filters
    conv1 = next(w for w in lenet_report.weights if w.layer == "conv1" and w.blob == 0)
    assert (conv1.count, conv1.nan, conv1.inf, conv1.zeros) == (500, 0, 0, 0.0)
    assert conv1.min == pytest.approx(-0.3974, abs=1e-4) and conv1.max == pytest.approx(0.4691, abs=1e-4)
    # the forward check reads the real MNIST LMDB: accuracy 0.99 on its first 100 test images
    acc = next(o for o in lenet_report.forward.outputs if o["blob"] == "accuracy")
    assert lenet_report.forward.finite and acc["shape"] == "()" and acc["min"] == pytest.approx(0.99)
    assert sorted(lenet_report.figures) == ["graph.svg", "log_curves.svg", "macs_params.svg", "memory.svg"]
    assert lenet_report.graph_method in ("caffecx layered", "graphviz dot")


def test_the_check_section_gives_each_nets_verdict(lenet_report) -> None:
    import copy

    from paths import CORPUS

    from caffecx.check import check_log

    assert "| TRAIN | prototxt/lenet_train_test.prototxt | 28 | 0 | OK |  |" in to_markdown(lenet_report)
    cut = copy.copy(lenet_report)  # a real log whose echoes glog cut: nothing disagrees, 72 layers unchecked
    cut.check = check_log(CORPUS / "logs" / "caffenet-benchmark__contrib__resnet50__ResNet-56_BN_ReLU_wd_0001.log")
    md = to_markdown(cut)
    assert "`caffecx check`: nothing disagrees, but not every line could be checked (below)." in md
    assert "| TRAIN | log echo | 369 | 0 | INCOMPLETE |  |" in md


def test_html_is_self_contained(lenet_report) -> None:
    page = to_html(lenet_report)
    assert "<script" not in page and "http://" not in page.replace('xmlns="http://www.w3.org/2000/svg"', "")
    assert "https://" not in page and page.count('src="data:image/svg+xml;base64,') == 4
    assert re.search(r"<td class=\"n\">28,800,000</td>", page)
    for title in ("Summary", "Layers", "Per stage and per type", "Graph", "Plots", "Training log",
                  "Check against the log", "Weights", "Forward check", "Roofline"):
        assert f">{title}</h2>" in page


def test_same_inputs_give_identical_files(tmp_path, monkeypatch) -> None:
    monkeypatch.chdir(REPO)
    assert main(["report", "-o", str(tmp_path / "a")]) == 0
    assert main(["report", "-o", str(tmp_path / "b")]) == 0
    names = sorted(p.name for p in (tmp_path / "a").iterdir())
    assert names == ["graph.svg", "log_curves.svg", "macs_params.svg", "memory.svg", "report.html", "report.md"]
    for name in names:
        assert (tmp_path / "a" / name).read_bytes() == (tmp_path / "b" / name).read_bytes(), name
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".")]  # no staging folder left


def test_layer_names_are_escaped(tmp_path) -> None:
    evil = "<script>alert(1)</script>"
    net = tmp_path / "evil.prototxt"
    net.write_text(f'name: "{evil}"\ninput: "data"\ninput_shape {{ dim: 1 dim: 3 dim: 8 dim: 8 }}\n'
                   f'layer {{ name: "{evil}" type: "Convolution" bottom: "data" top: "{evil}" '
                   'convolution_param { num_output: 4 kernel_size: 3 } }\n')
    out = write_report(build_report(net), tmp_path / "out")
    page = (out / "report.html").read_text()
    assert evil not in page and "<script" not in page
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in page
    assert evil not in (out / "report.md").read_text() and evil.encode() not in (out / "graph.svg").read_bytes()
    assert sorted(p.name for p in out.iterdir()) == ["graph.svg", "macs_params.svg", "memory.svg", "report.html",
                                                     "report.md"]


def test_a_failing_report_writes_nothing(tmp_path, capsys) -> None:
    out = tmp_path / "r"
    bad = tmp_path / "bad.prototxt"
    bad.write_text('layer { name: "c" type: "Convolution" bottom: "nowhere" top: "c" }\n')
    assert main(["report", str(bad), "-o", str(out)]) == 2
    assert "bad.prototxt:1:1: layer 'c'" in capsys.readouterr().err
    assert list(tmp_path.iterdir()) == [bad]


def test_assumed_inputs_in_the_report(tmp_path) -> None:
    from paths import CORPUS

    report = build_report(CORPUS / "prototxt" / "finetune_flickr_style__train_val.prototxt")
    assert report.analysis.assumed_inputs[0]["shape"] == [50, 3, 227, 227]
    md = to_markdown(report)
    assert "| data | data | ImageData | 50x3x227x227 | N from batch_size, C from is_color, H,W from crop_size |" in md
    assert "| data (assumed) | ImageData |" in md


def test_roofline_with_machine_peaks_and_caffe_times() -> None:
    from caffecx.report.model import Options
    from caffecx.report.roofline import Machine, caffe_time_table, layer_traffic

    caffe = caffe_time_table(LENET / "lenet_time.log")
    assert caffe["conv1"] == 1.347 and caffe["pool1"] == 4.1822 and len(caffe) == 9
    opts = Options(phase="TRAIN", machine=Machine(100.0, 10.0, 1024, 128), caffe_time=str(LENET / "lenet_time.log"))
    report = build_report(LENET / "lenet_train_test.prototxt", options=opts)
    conv1 = next(r for r in report.roofline if r["name"] == "conv1")
    # TRAIN batch 64: bottoms 64x1x28x28 + tops 64x20x24x24 + 520 params, 4 bytes each
    assert conv1["bytes"] == (64 * 784 + 64 * 20 * 576 + 520) * 4 == 3151904
    assert conv1["flops"] == 37_601_280 and conv1["bound"] == "compute"
    assert conv1["predicted_ms"] == pytest.approx(37_601_280 / 100e9 * 1e3)
    assert conv1["caffe_ms"] == 1.347
    pool1 = next(r for r in layer_traffic(report.analysis) if r["name"] == "pool1")
    assert pool1["intensity"] == pytest.approx(0.2)
    assert "roofline.svg" in report.figures


def test_caffe_times_are_the_last_benchmarks_and_a_training_log_has_none(tmp_path) -> None:
    from caffecx.errors import CaffecxError
    from caffecx.report.roofline import caffe_time_table

    real = (LENET / "lenet_time.log").read_text()
    twice = tmp_path / "two_benchmarks.log"  # a second `caffe time` appended: its times are the ones taken
    twice.write_text(real + real.replace("conv1\tforward: 1.347 ms.", "conv1\tforward: 2.5 ms."))
    caffe = caffe_time_table(twice)
    assert caffe["conv1"] == 2.5 and caffe["pool1"] == 4.1822 and len(caffe) == 9
    with pytest.raises(CaffecxError, match="no per-layer 'forward: X ms' lines"):
        caffe_time_table(LENET / "lenet_train.log")


def test_bench_machine_json(capsys) -> None:
    import json

    assert main(["bench", "--machine", "--format", "json"]) == 0
    m = json.loads(capsys.readouterr().out)
    assert m["gemm_gflops"] > 0.1 and m["bandwidth_gbs"] > 0.1 and m["matmul_n"] == 1024


def test_readme_picture_exists() -> None:
    assert Path(REPO / "docs" / "report.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
