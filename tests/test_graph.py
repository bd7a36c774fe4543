"""Graph building: NetState filtering, Caffe's split insertion and names, bottom/top checks."""

from __future__ import annotations

import re

import pytest
from paths import LENET, NETS

from caffecx.errors import FilteredBlobError, GraphError
from caffecx.graph import load_net


def log_layers(log_path):
    """Layer names in the order Caffe set them up, read off a real log."""
    names = []
    for line in log_path.read_text().splitlines():
        m = re.search(r"\] Setting up (\S+)$", line)
        if m:
            names.append(m.group(1))
    return names


def log_edges(log_path):
    """(layer, '<-'|'->', blob) lines of a real log, in order."""
    return [m.groups() for m in re.finditer(r"\] (\S+) (<-|->) (\S+)", log_path.read_text())]


def test_lenet_train_and_test_layers_match_the_log() -> None:
    log = LENET / "lenet_train.log"
    names = log_layers(log)
    train = load_net(LENET / "lenet_train_test.prototxt", phase="TRAIN")
    test = load_net(LENET / "lenet_train_test.prototxt", phase="TEST")
    assert [n.name for n in train] == names[: len(train)]
    assert [n.name for n in test] == names[len(train):]
    assert "label_mnist_1_split" in [n.name for n in test]
    split = test.layer("ip2_ip2_0_split")
    assert split.type == "Split" and split.tops == ["ip2_ip2_0_split_0", "ip2_ip2_0_split_1"]
    assert test.layer("accuracy").bottoms == ["ip2_ip2_0_split_0", "label_mnist_1_split_0"]
    assert any("differed from the phase (1) specified by a rule in layer mnist" in n for n in train.notes)
    assert test.layer("relu1").in_place == [True]
    assert test.outputs == ["accuracy", "loss"]


@pytest.mark.parametrize("name", ["layers_1", "layers_2", "layers_3_v1"])
def test_split_names_and_edges_match_caffe(name) -> None:
    net = load_net(NETS / f"{name}.prototxt", phase="TEST")
    edges = []
    for node in net:
        edges += [(node.name, "<-", b) for b in node.bottoms]
        edges += [(node.name, "->", t) for t in node.tops]
    assert edges == log_edges(NETS / f"{name}.log")
    assert [n.name for n in net] == log_layers(NETS / f"{name}.log")


def test_unknown_bottom_is_named(tmp_path) -> None:
    p = tmp_path / "n.prototxt"
    p.write_text('name: "n"\nlayer { name: "in" type: "Input" top: "data" input_param { shape { dim: 1 } } }\n'
                 'layer { name: "r" type: "ReLU" bottom: "dta" top: "r" }\n')
    with pytest.raises(GraphError) as info:
        load_net(p)
    err = info.value
    assert "Unknown bottom blob 'dta'" in err.message and err.location.layer == "r"
    assert err.location.line == 3 and err.location.path == str(p)
    assert not isinstance(err, FilteredBlobError)  # no layer makes it in any phase: not a phase question


def test_top_produced_twice(tmp_path) -> None:
    text = ('layer { name: "a" type: "Input" top: "x" input_param { shape { dim: 1 } } }\n'
            'layer { name: "b" type: "Input" top: "x" input_param { shape { dim: 1 } } }\n')
    with pytest.raises(GraphError, match="produced by multiple sources"):
        load_net(text)


def test_stage_and_level_rules() -> None:
    text = """
    layer { name: "in" type: "Input" top: "x" input_param { shape { dim: 1 } } }
    layer { name: "deploy_only" type: "ReLU" bottom: "x" top: "y" include { stage: "deploy" } }
    layer { name: "not_deploy" type: "ReLU" bottom: "x" top: "z" exclude { stage: "deploy" } }
    layer { name: "lvl" type: "ReLU" bottom: "x" top: "w" include { min_level: 2 } }
    """
    def names(**kw):
        return [n.name for n in load_net(text, **kw) if n.type != "Split"]

    assert names() == ["in", "not_deploy"]
    assert names(stages=["deploy"]) == ["in", "deploy_only"]
    assert names(level=3) == ["in", "not_deploy", "lvl"]
    assert load_net(text, level=3).layer("x_in_0_split").tops == ["x_in_0_split_0", "x_in_0_split_1"]
    both = 'layer { name: "a" type: "ReLU" include { phase: TEST } exclude { phase: TRAIN } }'
    with pytest.raises(GraphError, match="either include rules or exclude rules"):
        load_net(both)
