"""Every `Top shape:` and `Memory required for data:` line Caffe printed equals the analyzer's.

The logs are read here with a few lines of regex of our own (the log parser is tested separately).
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from paths import FIXTURES, NETS

from caffecx.analysis import analyze
from caffecx.errors import ShapeError
from caffecx.graph import load_net
from caffecx.lenet import caffe_log_lines

LOGS = sorted(FIXTURES.rglob("*.log"))
SETUP = re.compile(r"\] (Top shape: .*|Memory required for data: \d+)$")


def nets_in_log(path: Path) -> list[tuple[str, list[str]]]:
    """(phase, set-up lines) of each net the log builds, in order."""
    nets: list[tuple[str, list[str]]] = []
    phase_pending = False
    for line in path.read_text().splitlines():
        if "Initializing net from parameters" in line:
            nets.append(("?", []))
            phase_pending = True
        elif phase_pending and line.strip().startswith("phase:"):
            nets[-1] = (line.split(":")[1].strip(), nets[-1][1])
            phase_pending = False
        elif (m := SETUP.search(line)) and nets:
            nets[-1][1].append(m.group(1))
    return nets


def prototxt_for(log: Path) -> Path:
    """The net a fixture log was made from: same stem, else the folder's train/test net (lenet)."""
    same = log.with_suffix(".prototxt")
    return same if same.exists() else log.parent / "lenet_train_test.prototxt"


def test_the_walk_finds_every_fixture_log() -> None:
    assert {p.name for p in LOGS} >= {"lenet_train.log", "lenet_time.log", "layers_1.log", "layers_2.log",
                                       "layers_3_v1.log", "layers_1_concat_mismatch.log"}


@pytest.mark.parametrize("log", LOGS, ids=lambda p: p.name)
def test_every_setup_line_matches(log: Path) -> None:
    nets = nets_in_log(log)
    assert nets, "the log builds no net"
    failed = "Check failed" in log.read_text()
    for phase, expected in nets:
        net = load_net(prototxt_for(log), phase=phase)
        if failed:
            with pytest.raises(ShapeError):
                analyze(net, base_dirs=[log.parent])
            continue
        ours = caffe_log_lines(analyze(net, base_dirs=[log.parent]))
        assert ours == expected
        assert len(expected) > 5


def test_lenet_memory_sequence_is_the_seeds() -> None:
    train = analyze(load_net(FIXTURES / "lenet" / "lenet_train_test.prototxt", phase="TRAIN"),
                    base_dirs=[FIXTURES / "lenet"])
    memory = [r.memory_bytes for r in train.layers]
    assert memory == [200960, 3150080, 3887360, 4706560, 4911360, 5039360, 5167360, 5169920, 5169924]


def test_concat_mismatch_names_the_layer_and_both_shapes() -> None:
    path = NETS / "layers_1_concat_mismatch.prototxt"
    net = load_net(path)
    with pytest.raises(ShapeError) as info:
        analyze(net)
    err = info.value
    assert err.location.layer == "cat"
    assert err.location.path == str(path) and err.location.line is not None
    # Caffe: "Check failed: top_shape[j] == bottom[i]->shape(j) (10 vs. 11)": pool1 is 3x8x10x5, pool1b 3x8x11x5
    digits = re.sub(r"[^0-9]+", " ", err.message)
    assert "3 8 10 5" in digits and "3 8 11 5" in digits
