"""The plan: every layer set up once, shapes fixed, weights checked; layer-type facts live on the classes."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from paths import CORPUS, LENET, REPO, files

from caffecx.analysis import analyze
from caffecx.errors import CaffecxError
from caffecx.graph import load_net
from caffecx.layers import Layer, registry
from caffecx.plan import plan_net


def test_each_layer_is_set_up_once_and_keeps_its_instance(monkeypatch: pytest.MonkeyPatch) -> None:
    calls: list[str] = []
    original = Layer.__init__

    def counting_init(self: Layer, lp: object) -> None:
        original(self, lp)
        calls.append(self.name)

    monkeypatch.setattr(Layer, "__init__", counting_init)
    net = load_net(LENET / "lenet_train_test.prototxt", phase="TRAIN")
    plan = plan_net(net, input_shapes={"data": (64, 1, 28, 28), "label": (64,)})
    assert calls == [n.name for n in net.layers]
    result = analyze(plan)  # counting walks the same instances: no new layer objects
    assert calls == [n.name for n in net.layers]
    conv1 = plan.layer("conv1")
    assert conv1.impl.bottom_shapes == [(64, 1, 28, 28)] and conv1.impl.top_shapes == [(64, 20, 24, 24)]
    assert result.layer("conv1").memory_bytes == 3150080  # Caffe's line in the LeNet log
    assert plan.batch == 64


def test_weights_are_checked_and_legacy_blobs_reshaped_once_by_the_plan() -> None:
    net = load_net(LENET / "lenet.prototxt", weights=LENET / "lenet_iter_1000.caffemodel")
    plan = plan_net(net)
    ip1 = plan.layer("ip1")
    assert [w.shape for w in ip1.weights] == [(500, 800), (500,)]
    assert [b.shape for b in ip1.param_blobs] == [(500, 800), (500,)]
    assert [b.kind for b in ip1.param_blobs] == ["weight", "bias"]


def test_a_stopped_plan_keeps_the_layers_before_the_error() -> None:
    proto = Path(str(LENET.parent / "nets" / "layers_1_concat_mismatch.prototxt"))
    plan = plan_net(load_net(proto), stop_on_error=True)
    assert plan.error is not None and "layer 'cat'" in str(plan.error)
    assert plan.layers[-1].name != "cat" and len(plan.layers) > 3
    with pytest.raises(CaffecxError, match="layer 'cat'"):
        plan_net(load_net(proto))


def test_class_facts_replace_type_name_lists() -> None:
    reg = registry()
    assert {n for n, c in reg.items() if c.is_source} >= {"Input", "Data", "ImageData", "HDF5Data", "DummyData",
                                                          "MemoryData", "WindowData", "AnnotatedData", "Python"}
    assert {n for n, c in reg.items() if c.closes_stage} == {"Pooling", "SPP"}
    assert {n for n, c in reg.items() if c.shares_bottom_data} == {"Split"}
    assert {n for n, c in reg.items() if not c.logged_by_2014} == {"Input"}
    assert {n for n, c in reg.items() if c.needs_feed} == {"Input"}


def test_no_registered_type_name_is_spelled_outside_the_layer_and_io_packages() -> None:
    names = set(registry())
    package = REPO / "caffecx"
    found = []
    for path in files(package, ".py"):
        parts = path.relative_to(package).parts
        if parts[0] in ("layers", "io", "logs", "proto"):  # logs: Caffe's own wordings
            continue
        for lineno, line in enumerate(path.read_text().splitlines(), 1):
            found += [f"{path.name}:{lineno}: {m}" for m in re.findall(r"[\"']([A-Za-z0-9]+)[\"']", line) if m in names]
    assert found == []


@pytest.mark.parametrize("proto", files(CORPUS / "prototxt", ".prototxt"), ids=lambda p: p.stem)
def test_every_corpus_net_plans_as_it_analyzes(proto: Path) -> None:
    try:
        net = load_net(proto)
    except CaffecxError:
        pytest.skip("not a net (a solver), or a net needing its data")
    plan = plan_net(net, stop_on_error=True)
    rows = analyze(plan).layers
    assert [r.name for r in rows] == [p.name for p in plan.layers]
    assert [r.top_shapes for r in rows] == [[list(s) for s in p.top_shapes] if p.top_shapes is not None else None
                                            for p in plan.layers]


def test_assumed_data_shapes_and_strict_data() -> None:
    net = load_net(CORPUS / "prototxt" / "bvlc_googlenet__train_val.prototxt")
    plan = plan_net(net)
    assert plan.layers[0].top_shapes == [(50, 3, 224, 224), (50,)]
    assert plan.context.assumed[0]["shape"] == [50, 3, 224, 224]
    with pytest.raises(CaffecxError, match="layer 'data': data source 'examples/imagenet/ilsvrc12_val_lmdb' not found"):
        plan_net(net, strict_data=True)
