"""ONNX export end to end: Caffe's blobs (fixtures), the executor (corpus nets), names, inputs and outputs,
dynamic batch, refusals, the CLI."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import onnx
import pytest
from paths import CORPUS, FIXTURES, LENET, NETS

from caffecx.blobdiff import read_reference
from caffecx.cli import main
from caffecx.errors import CaffecxError
from caffecx.export import export_onnx, inferred_shapes, select_layers
from caffecx.graph import load_net
from caffecx.io import read_net_text, write_prototxt
from caffecx.plan import plan_net
from caffecx.runtime import executor_for

ort = pytest.importorskip("onnxruntime")
from helpers import expose_all, max_rel, run_ort, trained_like  # noqa: E402

if not FIXTURES.exists():
    pytest.skip("../shared fixtures absent", allow_module_level=True)

REFERENCES = {
    "lenet_deploy_b4": (LENET / "lenet_deploy_b4.prototxt", LENET / "lenet_iter_1000.caffemodel",
                        LENET / "lenet_deploy_b4.npz"),
    **{n: (NETS / f"{n}.prototxt", NETS / f"{n}.caffemodel", NETS / f"{n}.npz")
       for n in ("layers_1", "layers_2", "layers_3_v1")},
}


@pytest.mark.parametrize("name", sorted(REFERENCES))
def test_every_blob_equals_caffe_and_the_executor(name: str) -> None:
    proto, weights, npz = REFERENCES[name]
    reference, inputs = read_reference(npz)
    plan = plan_net(load_net(proto, weights=weights))
    model = export_onnx(plan)
    got = run_ort(expose_all(model, set(reference)), inputs)
    want = executor_for(plan).forward(inputs, keep="all")
    compared = [b for b in reference if b not in inputs]
    assert set(compared) <= set(got), set(compared) - set(got)
    assert {b: max_rel(got[b], reference[b]) for b in compared if max_rel(got[b], reference[b]) > 1e-4} == {}
    assert {b: max_rel(got[b], want[b]) for b in compared if max_rel(got[b], want[b]) > 1e-4} == {}


@pytest.mark.parametrize("name", sorted(REFERENCES))
def test_inferred_shapes_equal_the_plan(name: str) -> None:
    proto, weights, _ = REFERENCES[name]
    plan = plan_net(load_net(proto, weights=weights))
    shapes = inferred_shapes(export_onnx(plan, check=False))
    for planned in plan.layers:
        for top, shape in zip(planned.node.tops, planned.top_shapes or [], strict=True):
            assert shapes[top] == list(shape), (top, shapes[top], shape)


CORPUS_NETS = ["resnet50__deploy", "bvlc_googlenet__deploy", "squeezenet_v1.1__deploy", "mobilenet_v1__deploy",
               "mobilenet_v2__deploy", "bvlc_alexnet__deploy", "mobilenet_ssd__deploy"]


@pytest.mark.parametrize("name", CORPUS_NETS)
def test_corpus_net_runs_in_onnxruntime_as_in_caffecx(name: str) -> None:
    plan = trained_like(plan_net(load_net(CORPUS / "prototxt" / f"{name}.prototxt"), batch=1))
    outputs = None
    if name == "mobilenet_ssd__deploy":  # DetectionOutput (NMS) has no mapping: export up to its bottoms
        outputs = plan.layer("detection_out").node.bottoms
    model = export_onnx(plan, outputs=outputs)
    executor = executor_for(plan)
    feeds = {k: np.random.default_rng(0).standard_normal(s).astype(np.float32)
             for k, s in executor.required_inputs.items()}
    want = executor.forward(feeds, keep="all")
    got = run_ort(expose_all(model, set(want)), feeds)
    assert len(got) > 10
    assert {b: max_rel(got[b], want[b]) for b in got if max_rel(got[b], want[b]) > 1e-4} == {}


def test_faster_rcnn_trunk_with_rois_fed(tmp_path: Path) -> None:
    """The Python proposal layer is a cut: its tops are graph inputs, its bottoms graph outputs; with the
    proposal replaced by an Input of the same rois, ROIPooling (MaxRoiPool) and the head equal caffecx."""
    source = CORPUS / "prototxt" / "faster_rcnn_vgg16__test.prototxt"
    chosen = select_layers(plan_net(load_net(source), input_shapes={"rois": (4, 5)}))
    assert chosen.inputs == ["data", "rois"]
    assert chosen.outputs == ["bbox_pred", "cls_prob", "rpn_cls_prob_reshape", "rpn_bbox_pred"]
    param = read_net_text(source).param
    layer = next(lay for lay in param.layer if lay.type == "Python")
    layer.type = "Input"
    del layer.bottom[:]
    layer.ClearField("python_param")
    layer.input_param.shape.add().dim.extend([4, 5])
    for lay in param.layer:  # a smaller image keeps the test quick
        if lay.type == "Input" and lay.name != layer.name:
            lay.input_param.shape[0].dim[2:] = [96, 128]
    write_prototxt(param, tmp_path / "frcnn.prototxt")
    plan = trained_like(plan_net(load_net(tmp_path / "frcnn.prototxt")))
    model = export_onnx(plan, outputs=["bbox_pred", "cls_prob"])
    rng = np.random.default_rng(0)
    feeds = {"data": rng.standard_normal((1, 3, 96, 128)).astype(np.float32),
             "im_info": np.array([[96, 128, 1]], dtype=np.float32),
             "rois": np.array([[0, 0, 0, 60, 40], [0, 10, 20, 120, 90], [0, 30, 5, 50, 80], [0, 0, 0, 127, 95]],
                              dtype=np.float32)}
    want = executor_for(plan).forward(feeds, keep="all")
    got = run_ort(expose_all(model, {"pool5", "fc7"}), feeds)
    assert {"pool5", "fc7", "cls_prob", "bbox_pred"} <= set(got)
    assert {b: max_rel(got[b], want[b]) for b in got if max_rel(got[b], want[b]) > 1e-4} == {}


def test_in_place_chains_weights_and_names() -> None:
    plan = trained_like(plan_net(load_net(CORPUS / "prototxt" / "resnet50__deploy.prototxt"), batch=1))
    model = export_onnx(plan)
    producers = {o: n for n in model.graph.node for o in n.output}
    # conv1 -> bn_conv1 -> scale_conv1 -> conv1_relu, all in place on "conv1"
    assert [producers[v].name.split("/")[0] for v in ("conv1/1", "conv1/2", "conv1/3", "conv1")] == \
        ["conv1", "bn_conv1", "scale_conv1", "conv1_relu"]
    assert [i.name for i in model.graph.input] == ["data"]
    assert [o.name for o in model.graph.output] == ["prob"]
    assert len(model.graph.initializer) > 100
    bn = producers["conv1/2"]
    assert bn.op_type == "BatchNormalization"


def test_dynamic_batch_runs_any_batch() -> None:
    plan = plan_net(load_net(LENET / "lenet_deploy_b4.prototxt", weights=LENET / "lenet_iter_1000.caffemodel"))
    model = export_onnx(plan, dynamic_batch=True)
    assert model.graph.input[0].type.tensor_type.shape.dim[0].dim_param == "N"
    _, inputs = read_reference(LENET / "lenet_deploy_b4.npz")
    want = executor_for(plan).forward(inputs)["prob"]
    for n in (1, 3):
        got = run_ort(model, {"data": inputs["data"][:n]})["prob"]
        assert max_rel(got, want[:n]) < 1e-5


def test_refused_layer_is_located_and_nothing_is_written(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "net.onnx"
    status = main(["export", str(LENET / "lenet_train_test.prototxt"), "--phase", "TRAIN", "-o", str(out)])
    err = capsys.readouterr().err
    assert status == 2 and not out.exists()
    assert "lenet_train_test.prototxt:" in err and "layer 'loss'" in err
    assert "'SoftmaxWithLoss' has no ONNX mapping" in err and "'ip2', 'label'" in err
    with pytest.raises(CaffecxError, match="DetectionOutput' has no ONNX mapping") as info:
        export_onnx(load_net(CORPUS / "prototxt" / "mobilenet_ssd__deploy.prototxt"))
    assert info.value.location.line is not None


def test_cli_writes_a_checked_model(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "lenet.onnx"
    status = main(["export", str(LENET / "lenet_deploy_b4.prototxt"), "--weights",
                   str(LENET / "lenet_iter_1000.caffemodel"), "-o", str(out), "--opset", "13", "--dynamic-batch"])
    assert status == 0, capsys.readouterr().err
    model = onnx.load(out)
    onnx.checker.check_model(model, full_check=True)
    assert model.opset_import[0].version == 13
    assert "outputs prob (Nx10)" in capsys.readouterr().err
    assert main(["export", str(LENET / "lenet_deploy_b4.prototxt"), "-o", str(tmp_path / "x.onnx"),
                 "--opset", "7"]) == 2
