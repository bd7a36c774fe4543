"""Every layer of a non-spatial type in the real Caffe logs: our top shapes = the `Top shape:` lines,
our declared blobs = the shapes stored in the fixtures' .caffemodel files, and our forward = Caffe's
blobs in the fixtures' .npz (each layer fed Caffe's own bottoms and weights)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from layerkit import net_layers, setup_log
from paths import FIXTURES, NETS

from caffecx.layers import Context, RunContext, layer_class
from caffecx.layers.base import Layer

MINE = {
    "activations", "batch_norm", "scale", "bias", "mvn", "eltwise", "concat", "slice", "split", "flatten",
    "reshape", "tile", "reduction", "argmax", "softmax", "losses", "accuracy", "misc", "recurrent",
    "python_layer", "normalize", "prior_box", "permute", "detection_output", "shuffle_channel",
}
LOGS = [p for p in sorted(FIXTURES.rglob("*.log")) if "Check failed" not in p.read_text()]


def prototxt_for(log: Path) -> Path:
    for candidate in (log.with_suffix(".upgraded.prototxt"), log.with_suffix(".prototxt")):
        if candidate.exists():
            return candidate
    return log.parent / "lenet_train_test.prototxt"


def mine(type_name: str) -> bool:
    cls = layer_class(type_name)
    return cls is not None and cls.__module__.rsplit(".", 1)[-1] in MINE


def instances(log: Path, net_index: int = 0) -> list[tuple[str, Layer, object]]:
    from caffecx.proto import caffe_pb2

    params = net_layers(prototxt_for(log))
    out = []
    for step in setup_log(log, net_index):
        lp = params.get(step.name)
        if lp is None and step.name.endswith("_split"):
            lp = caffe_pb2.LayerParameter(name=step.name, type="Split", bottom=step.bottoms, top=step.tops)
        if lp is None or not mine(lp.type):
            continue
        lp_copy = caffe_pb2.LayerParameter()
        lp_copy.CopyFrom(lp)
        del lp_copy.top[:]
        lp_copy.top.extend(step.tops)
        out.append((step.name, layer_class(lp.type)(lp_copy), step))
    return out


@pytest.mark.parametrize("log", LOGS, ids=lambda p: p.name)
def test_top_shapes_match_caffe(log: Path) -> None:
    n_nets = log.read_text().count("Initializing net from parameters")
    checked = 0
    for index in range(n_nets):
        phase = "TRAIN" if "lenet_train" in log.name and index == 0 else "TEST"
        for name, layer, step in instances(log, index):
            ours = layer.setup(list(step.bottom_shapes), Context(phase=phase))
            assert ours == step.top_shapes, f"{log.name}: {name}"
            checked += 1
    assert checked >= 1


def test_the_walk_covers_the_fixture_types() -> None:
    seen = {layer.lp.type for log in LOGS for _, layer, _ in instances(log)}
    assert seen >= {"ReLU", "Split", "BatchNorm", "Scale", "Eltwise", "TanH", "Concat", "Slice", "Sigmoid",
                    "Flatten", "PReLU", "Softmax", "Power", "ELU", "AbsVal", "BNLL", "Exp", "Log", "Bias",
                    "MVN", "Reshape", "Reduction", "Tile", "ArgMax", "Threshold", "Clip", "Swish", "Dropout",
                    "SoftmaxWithLoss"}


def stored_shapes(model: Path) -> dict[str, list[tuple[int, ...]]]:
    from caffecx.proto import caffe_pb2

    net = caffe_pb2.NetParameter()
    net.ParseFromString(model.read_bytes())
    out = {}
    for lp in net.layer:
        # a 0-axis blob (PReLU channel_shared) is written with no shape field and no legacy dims
        out[lp.name] = [tuple(b.shape.dim) if b.HasField("shape") else
                        ((b.num, b.channels, b.height, b.width) if b.num else ()) for b in lp.blobs]
    return out


@pytest.mark.parametrize("model", sorted(NETS.glob("*.caffemodel")) + [FIXTURES / "lenet" / "lenet_iter_1000.caffemodel"],
                         ids=lambda p: p.name)
def test_declared_blobs_match_the_caffemodel(model: Path) -> None:
    log = model.with_suffix(".log") if model.parent == NETS else FIXTURES / "lenet" / "lenet_train.log"
    stored = stored_shapes(model)
    for name, layer, step in instances(log):
        declared = [b.shape for b in layer.param_shapes(list(step.bottom_shapes))]
        assert declared == stored.get(name, []), f"{model.name}: {name}"


def test_prelu_shared_slope_is_a_0_axis_blob_in_the_caffemodel() -> None:
    stored = stored_shapes(NETS / "layers_1.caffemodel")
    assert stored["prelu"] == [()]
    assert stored["bn2"] == [(8,), (8,), (1,)]
    assert stored["sc2"] == [(8,), (8,)]
    assert stored_shapes(NETS / "layers_2.caffemodel")["bias"] == [(6,)]


# -- forward against Caffe's own numbers -------------------------------------------------------------
FORWARD_MODULES = {
    "activations", "batch_norm", "scale", "bias", "mvn", "softmax", "inner_product", "embed", "eltwise",
    "concat", "slice", "split", "flatten", "reshape", "tile", "reduction", "argmax", "misc",
}
GOLDEN = [(NETS / f"{n}.prototxt", NETS / f"{n}.caffemodel", NETS / f"{n}.npz")
          for n in ("layers_1", "layers_2", "layers_3_v1")] + [
    (FIXTURES / "lenet" / "lenet_deploy_b4.prototxt", FIXTURES / "lenet" / "lenet_iter_1000.caffemodel",
     FIXTURES / "lenet" / "lenet_deploy_b4.npz")]


def forward_mine(planned: object) -> bool:
    impl = planned.impl
    return impl is not None and type(impl).__module__.rsplit(".", 1)[-1] in FORWARD_MODULES


def golden_cases(prototxt: Path, model: Path) -> list[tuple[object, list[object]]]:
    """(layer, in-place followers) chains whose bottoms keep their final npz value after the first layer
    ran and whose tops end as the chain left them; one layer of the chain at least of these modules, all
    runnable (a chain starting at a Convolution joins once that layer has a forward)."""
    from caffecx.graph import load_net
    from caffecx.plan import plan_net

    layers = plan_net(load_net(str(prototxt), weights=str(model))).layers
    cases = []
    for i, planned in enumerate(layers):
        later = layers[i + 1:]
        if not planned.node.bottoms or set(planned.node.tops) & set(planned.node.bottoms):
            continue
        if any(set(p.node.tops) & set(planned.node.bottoms) for p in later):
            continue
        followers = [p for p in later if set(p.node.tops) & set(planned.node.tops)]
        chain = [planned, *followers]
        if (all(len(p.node.tops) == 1 and p.node.tops == p.node.bottoms for p in followers)
                and any(forward_mine(p) for p in chain)
                and all(p.impl is not None and p.impl.forward_refusal() is None for p in chain)):
            cases.append((planned, followers))
    return cases


def run_planned(planned: object, bottoms: list[np.ndarray], dtype: type) -> list[np.ndarray]:
    blobs = [np.asarray(w).reshape(b.shape).astype(dtype)
             for w, b in zip(planned.weights, planned.param_blobs, strict=True)]
    return planned.impl.forward(bottoms, blobs, RunContext(phase="TEST", dtype=dtype))


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize(("prototxt", "model", "npz"), GOLDEN, ids=lambda p: p.name)
def test_forward_matches_caffe(prototxt: Path, model: Path, npz: Path, dtype: type) -> None:
    ref = np.load(npz)
    checked = []
    for planned, followers in golden_cases(prototxt, model):
        tops = run_planned(planned, [ref[f"blob/{b}"].astype(dtype) for b in planned.node.bottoms], dtype)
        for follower in followers:
            tops = [run_planned(follower, tops, dtype)[0]]
        for name, top in zip(planned.node.tops, tops, strict=True):
            want = ref[f"blob/{name}"]
            assert top.dtype == dtype and top.shape == want.shape, (planned.name, name)
            tol = 1e-4 * max(float(np.abs(want).max()), 1e-30)
            assert np.abs(top - want).max() <= tol, f"{npz.name}: {planned.name} -> {name}"
        checked.append(planned.type)
    assert checked, npz.name
    if npz.stem == "layers_2":
        assert {"ELU", "AbsVal", "BNLL", "Exp", "Log", "Bias", "Scale", "MVN", "Eltwise", "Reshape", "Reduction",
                "Tile", "ArgMax", "Threshold", "Clip", "Swish", "InnerProduct", "Softmax", "Split"} <= set(checked)
