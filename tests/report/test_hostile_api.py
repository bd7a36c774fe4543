"""Issue 11 for the analysis, report and bench API and their commands' int32 options: a wrong type is
a TypeError with a plain message, a value Caffe refuses a `CaffecxError` (exit 2 in the CLI)."""

from __future__ import annotations

from pathlib import Path

import pytest
from paths import REPO

from caffecx.analysis import analyze, parse_shape
from caffecx.bench import bench_plan
from caffecx.cli import main
from caffecx.errors import CaffecxError
from caffecx.graph import load_net
from caffecx.plan import plan_net
from caffecx.report import build_report, write_report
from caffecx.report.compare import compare_nets

NET = REPO / "prototxt" / "lenet.prototxt"


@pytest.fixture(scope="module")
def net():  # noqa: ANN201
    return load_net(NET)


CALLS = {
    "analyze(None)": lambda n: analyze(None),
    "analyze(path)": lambda n: analyze(str(NET)),
    "analyze(batch='3')": lambda n: analyze(n, batch="3"),
    "analyze(batch=2.5)": lambda n: analyze(n, batch=2.5),
    "analyze(batch=True)": lambda n: analyze(n, batch=True),
    "analyze(batch=0)": lambda n: analyze(n, batch=0),
    "analyze(batch=2**31)": lambda n: analyze(n, batch=2**31),
    "analyze(input_shapes='x')": lambda n: analyze(n, input_shapes="x"),
    "analyze(input_shapes={'data': '1,2'})": lambda n: analyze(n, input_shapes={"data": "1,2"}),
    "analyze(input_shapes={1: shape})": lambda n: analyze(n, input_shapes={1: (1, 1, 28, 28)}),
    "analyze(input_shapes={'data': [1.5]})": lambda n: analyze(n, input_shapes={"data": [1.5, 1, 28, 28]}),
    "analyze(base_dirs='abc')": lambda n: analyze(n, base_dirs="abc"),
    "analyze(base_dirs=[3])": lambda n: analyze(n, base_dirs=[3]),
    "parse_shape(None)": lambda n: parse_shape(None),
    "bench_plan(net)": lambda n: bench_plan(n),
    "bench_plan(iterations='2')": lambda n: bench_plan(plan_net(n), iterations="2"),
    "bench_plan(iterations=0)": lambda n: bench_plan(plan_net(n), iterations=0),
    "build_report(123)": lambda n: build_report(123),
    "build_report(options={})": lambda n: build_report(NET, options={}),
    "write_report(None, dir)": lambda n: write_report(None, "out"),
    "compare_nets(None, None)": lambda n: compare_nets(None, None),
}


@pytest.mark.parametrize("name", list(CALLS))
def test_wrong_arguments_raise_a_plain_error(net, name) -> None:
    with pytest.raises((TypeError, CaffecxError)) as info:
        CALLS[name](net)
    assert type(info.value) is TypeError or isinstance(info.value, CaffecxError)
    assert "object has no attribute" not in str(info.value) and "unsupported operand" not in str(info.value)


def test_right_arguments_still_work(net) -> None:
    import numpy as np

    result = analyze(net, batch=np.int64(2), input_shapes={"data": [2, 1, 28, 28]}, base_dirs=[Path.cwd()])
    assert list(result.layers[0].top_shapes[0]) == [2, 1, 28, 28]
    assert parse_shape("1x3x4x5") == (1, 3, 4, 5)


@pytest.mark.parametrize("argv", [
    ["analyze", str(NET), "--level", "2147483648"],
    ["analyze", str(NET), "--level", "-2147483649"],
    ["report", str(NET), "-o", "out", "--level", "2147483648"],
    ["analyze", str(NET), "--batch", "2147483648"],
    ["compare", str(NET), str(NET), "--batch", "2147483648"],
    ["bench", str(NET), "--batch", "2147483648"],
    ["audit", str(REPO / "prototxt" / "seeds"), "-o", "out", "--workers", "0"],
])
def test_int32_options_are_clear_exit_2_messages(tmp_path, monkeypatch, capsys, argv) -> None:
    monkeypatch.chdir(tmp_path)
    assert main(argv) == 2
    err = capsys.readouterr().err
    assert err.startswith("caffecx: ") and err.count("\n") == 1 and "Traceback" not in err
    assert "int32" in err or "Caffe's int" in err or "at least 1" in err
    assert list(tmp_path.iterdir()) == []
