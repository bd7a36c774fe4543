"""caffecx bench: the JSON contract, per-layer rows in Caffe's order, and numbers that add up."""

from __future__ import annotations

import json

import pytest
from paths import LENET, REPO

from caffecx.analysis import analyze
from caffecx.bench import bench_plan
from caffecx.cli import main
from caffecx.graph import load_net
from caffecx.plan import plan_net


def test_bench_json_contract(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["bench", str(REPO / "prototxt" / "lenet.prototxt"), "--iterations", "3", "--format", "json"]) == 0
    data = json.loads(capsys.readouterr().out)
    assert {"forward_ms_median", "forward_ms_min", "gflops", "peak_bytes", "layers"} <= set(data)
    assert [r["name"] for r in data["layers"]] == ["data", "conv1", "pool1", "conv2", "pool2", "ip1", "relu1",
                                                   "ip2", "prob"]
    assert all(set(r) == {"name", "type", "ms"} and r["ms"] >= 0 for r in data["layers"])
    assert 0 < data["forward_ms_min"] <= data["forward_ms_median"]
    # weights (431,080 float32 params of LeNet) are part of the peak
    assert data["weights_bytes"] == 431080 * 4 and data["peak_bytes"] > data["weights_bytes"]
    assert data["batch"] == 64 and data["iterations"] == 3


def test_bench_gflops_is_the_analyzers_flops_over_the_median() -> None:
    plan = plan_net(load_net(LENET / "lenet_deploy_b4.prototxt", weights=LENET / "lenet_iter_1000.caffemodel"))
    result = bench_plan(plan, iterations=2)
    flops = analyze(plan).totals()["flops"]
    assert result.gflops == pytest.approx(flops / (result.forward_ms_median / 1e3) / 1e9)


def test_bench_refuses_bad_arguments(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["bench", str(REPO / "prototxt" / "lenet.prototxt"), "--iterations", "0"]) == 2
    assert "--iterations must be at least 1" in capsys.readouterr().err
