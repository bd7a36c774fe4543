"""A big log cut at display lines and parsed in several processes gives the in-process result."""

from __future__ import annotations

import pandas as pd
from paths import CORPUS, LENET, REPO

from caffecx.logs import parse_log
from caffecx.logs.reading import _split_points


def test_parallel_parse_matches(tmp_path) -> None:
    logs = CORPUS / "logs"
    parts = [logs / "caffenet-benchmark__batch_size__caffenet128_lsuv_bs1_lr3.9063e-05.log",
             LENET / "lenet_train.log",
             logs / "caffenet-benchmark__contrib__resnet50__ResNet-56_BN_ReLU_wd_0001.log",
             logs / "caffenet-benchmark__batch_size__tanh__caffenet128_lsuv_bs32_lr008.log",
             REPO / "tests" / "data" / "logs" / "lstm_nested.log"]  # (unrolled nets: in the last worker's part)
    path = tmp_path / "big.log"
    path.write_bytes(b"".join(p.read_bytes() for p in parts))
    points = _split_points(str(path), path.stat().st_size, 3)
    assert len(points) == 4
    data = path.read_bytes()
    for cut in points[1:-1]:
        assert data[cut - 1:cut] == b"\n" and b"] Iteration " in data[cut:data.index(b"\n", cut)]
    one = parse_log(path, workers=1)
    for workers in (2, 3):  # (2: this process takes the bigger first part)
        many = parse_log(path, workers=workers)
        for name in ("train", "test", "layers", "nets", "snapshots", "restores", "outputs"):
            pd.testing.assert_frame_equal(getattr(many, name), getattr(one, name), check_dtype=False,
                                          check_categorical=False, obj=name)
        assert [r.to_dict() for r in many.runs] == [r.to_dict() for r in one.runs]
        assert [n.to_dict() for n in many.net_logs] == [n.to_dict() for n in one.net_logs]  # children too
        assert many.messages == one.messages and many.lines == one.lines and many.glog_lines == one.glog_lines
    assert len(one.runs) == 4 + 1 + 2 + 1 + 1
    lstm = one.net_logs[-1].layer("lstm1").nested
    assert (lstm.run, lstm.parent) == (8, (len(one.net_logs) - 1, "lstm1"))
