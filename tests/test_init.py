"""``caffecx init``: a caffemodel as Caffe's Net::ToProto writes it, loadable by caffecx and OpenCV."""

from __future__ import annotations

import numpy as np
import pytest
from google.protobuf import text_format
from paths import CORPUS, LENET

from caffecx.cli import main
from caffecx.cli.cmd_init import initial_caffemodel
from caffecx.errors import CaffecxError
from caffecx.graph import load_net
from caffecx.io.reader import blob_to_array, read_caffemodel
from caffecx.layers import ParamBlob
from caffecx.plan import plan_net
from caffecx.proto import caffe_pb2

DEPLOY = LENET / "lenet.prototxt"
TRAINED = LENET / "lenet_iter_1000.caffemodel"


def test_init_writes_the_nets_layers_with_their_blobs(tmp_path) -> None:
    out = tmp_path / "w.caffemodel"
    assert main(["init", str(DEPLOY), "-o", str(out), "--seed", "3"]) == 0
    model = read_caffemodel(out)
    net = load_net(DEPLOY)
    plan = plan_net(net)
    assert model.name == net.name
    assert [(lp.name, lp.type, list(lp.bottom), list(lp.top)) for lp in model.layer] == [
        (n.name, n.type, n.bottoms, n.tops) for n in net.layers]
    assert all(lp.phase == caffe_pb2.TEST for lp in model.layer)
    for lp, planned in zip(model.layer, plan.layers, strict=True):
        assert [blob_to_array(b).shape for b in lp.blobs] == [b.shape for b in planned.param_blobs]
        assert all(b.shape.dim and not b.HasField("num") and len(b.data) for b in lp.blobs)
    # it loads back as weights (blob counts and shapes checked by the plan)
    loaded = plan_net(load_net(DEPLOY, weights=out))
    assert all(len(p.weights) == len(p.param_blobs) for p in loaded.layers)
    # the same seed writes the same bytes
    again = tmp_path / "again.caffemodel"
    assert main(["init", str(DEPLOY), "-o", str(again), "--seed", "3"]) == 0
    assert again.read_bytes() == out.read_bytes()


def test_weights_given_are_kept_exactly(tmp_path) -> None:
    out = tmp_path / "w.caffemodel"
    assert main(["init", str(DEPLOY), "--weights", str(TRAINED), "-o", str(out)]) == 0
    trained = {lp.name: [blob_to_array(b) for b in lp.blobs] for lp in read_caffemodel(TRAINED).layer}
    for lp in read_caffemodel(out).layer:
        for mine, theirs in zip([blob_to_array(b) for b in lp.blobs], trained.get(lp.name, []), strict=True):
            assert np.array_equal(mine, theirs.reshape(mine.shape))


def test_errors_are_located_and_nothing_is_written(tmp_path, capsys) -> None:
    bad = tmp_path / "bad.prototxt"
    bad.write_text('name: "b" layer { name: "in" type: "Input" top: "x" input_param { shape { dim: 1 dim: 2 } } }\n'
                   'layer { name: "odd" type: "NoSuchLayer" bottom: "x" top: "y" }\n'
                   'layer { name: "ip" type: "InnerProduct" bottom: "y" top: "z" inner_product_param { num_output: 2 } }\n')
    out = tmp_path / "w.caffemodel"
    out.write_bytes(b"previous")
    assert main(["init", str(bad), "-o", str(out)]) == 2
    err = capsys.readouterr().err
    assert "bad.prototxt:2" in err and "layer 'odd'" in err and "unknown layer type 'NoSuchLayer'" in err
    assert out.read_bytes() == b"previous"
    assert main(["init", str(DEPLOY), "-o", str(tmp_path / "nowhere" / "w.caffemodel")]) == 2
    assert main(["init", str(DEPLOY), "-o", str(DEPLOY)]) == 2  # never overwrites the net itself
    assert main(["init", str(DEPLOY), "-o", str(out), "--seed", "-1"]) == 2


def test_a_filler_caffe_refuses_names_the_layer() -> None:
    plan = plan_net(load_net(DEPLOY))
    conv = plan.layer("conv1")
    conv.param_blobs = [ParamBlob((2, 2), filler=text_format.Parse('type: "nope"', caffe_pb2.FillerParameter()))]
    with pytest.raises(CaffecxError, match="blob 0: unknown filler type 'nope'") as info:
        initial_caffemodel(plan)
    assert info.value.location.layer == "conv1" and info.value.location.line is not None


def _cv2_caffe():
    cv2 = pytest.importorskip("cv2")
    if not hasattr(cv2.dnn, "readNetFromCaffe"):
        pytest.skip(f"OpenCV {cv2.__version__} has no Caffe importer (removed in OpenCV 5)")
    return cv2


def test_opencv_runs_the_written_weights_like_the_original(tmp_path) -> None:
    cv2 = _cv2_caffe()
    out = tmp_path / "w.caffemodel"
    assert main(["init", str(DEPLOY), "--weights", str(TRAINED), "-o", str(out)]) == 0
    x = np.random.default_rng(0).random((64, 1, 28, 28), dtype=np.float32)
    results = []
    for weights in (TRAINED, out):
        net = cv2.dnn.readNetFromCaffe(str(DEPLOY), str(weights))
        net.setInput(x)
        results.append(net.forward())
    assert np.array_equal(results[0], results[1])


@pytest.mark.parametrize("name", ["resnet50__deploy", "bvlc_googlenet__deploy", "mobilenet_v2__deploy"])
def test_opencv_loads_and_runs_filled_corpus_nets(tmp_path, name: str) -> None:
    cv2 = _cv2_caffe()
    proto = CORPUS / "prototxt" / f"{name}.prototxt"
    out = tmp_path / "w.caffemodel"
    assert main(["init", str(proto), "-o", str(out)]) == 0
    net = cv2.dnn.readNetFromCaffe(str(proto), str(out))
    plan = plan_net(load_net(proto))
    shape = next(p.top_shapes[0] for p in plan.layers if p.impl is not None and p.impl.is_source)
    net.setInput(np.random.default_rng(0).random((1, *shape[1:]), dtype=np.float32))
    result = net.forward()
    assert np.isfinite(result).all() and result.size == 1000
