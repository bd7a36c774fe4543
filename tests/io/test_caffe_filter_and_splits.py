"""Caffe's own FilterNetTest (test_net.cpp) and SplitLayerInsertionTest (test_split_layer.cpp) cases,
kept as data in tests/data/caffe_tests/, through caffecx's `filter_net` and `insert_splits`."""

from __future__ import annotations

from pathlib import Path

import pytest
from google.protobuf import text_format
from paths import REPO

from caffecx.io.netstate import NetState, filter_net
from caffecx.io.splits import insert_splits
from caffecx.proto import caffe_pb2

CASES = REPO / "tests" / "data" / "caffe_tests"


def _cases(folder: str) -> list[str]:
    return sorted(p.name.removesuffix(".input.prototxt") for p in (CASES / folder).glob("*.input.prototxt"))


def _pair(folder: str, case: str) -> tuple[caffe_pb2.NetParameter, caffe_pb2.NetParameter]:
    def parse(path: Path) -> caffe_pb2.NetParameter:
        return text_format.Parse(path.read_text(), caffe_pb2.NetParameter())

    return parse(CASES / folder / f"{case}.input.prototxt"), parse(CASES / folder / f"{case}.expected.prototxt")


def test_every_case_is_here() -> None:
    assert len(_cases("filter_net")) == 24 and len(_cases("insert_splits")) == 8


@pytest.mark.parametrize("case", _cases("filter_net"))
def test_caffes_filter_net_cases(case: str) -> None:
    """The layers Net::FilterNet keeps, in order, for the NetState in the input's ``state`` field (Caffe's
    test compares whole messages: its FilterNet copies ``state`` as given, caffecx writes the state it
    filtered with, so the layers are what is compared); filtering again changes nothing."""
    net, expected = _pair("filter_net", case)
    state = NetState(caffe_pb2.Phase.Name(net.state.phase), net.state.level, tuple(net.state.stage))
    filtered, kept, _ = filter_net(net, state)
    assert list(filtered.layer) == list(expected.layer)
    assert [layer.name for layer, k in zip(net.layer, kept, strict=True) if k] == [x.name for x in expected.layer]
    assert list(filter_net(filtered, state)[0].layer) == list(filtered.layer)


@pytest.mark.parametrize("case", _cases("insert_splits"))
def test_caffes_split_insertion_cases(case: str) -> None:
    """InsertSplits: the whole message as Caffe's test expects it (split layers, their names and tops, the
    readers rewired, loss-weighted tops counted as readers); inserting again changes nothing."""
    net, expected = _pair("insert_splits", case)
    with_splits, _ = insert_splits(net)
    assert with_splits == expected
    assert insert_splits(with_splits)[0] == with_splits
