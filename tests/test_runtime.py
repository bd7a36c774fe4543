"""The executor against real Caffe: every blob of every forward in the fixtures, through the CLI and the API."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from paths import FIXTURES, LENET, REPO, files

from caffecx.blobdiff import compare_blob, compare_blobs, read_reference
from caffecx.cli import main
from caffecx.errors import CaffecxError, ShapeError
from caffecx.graph import load_net
from caffecx.runtime import executor_for

REFERENCES = files(FIXTURES, ".npz")


def net_files(npz: Path) -> tuple[Path, Path]:
    """The prototxt (same stem) and caffemodel (same stem, else the folder's one) of a reference npz."""
    models = sorted(npz.parent.glob("*.caffemodel"))
    same = npz.with_suffix(".caffemodel")
    return npz.with_suffix(".prototxt"), same if same.exists() else models[0]


@pytest.mark.parametrize("npz", REFERENCES, ids=[p.stem for p in REFERENCES])
def test_every_blob_equals_caffe_through_the_cli(npz: Path, capsys: pytest.CaptureFixture[str]) -> None:
    proto, model = net_files(npz)
    status = main(["run", str(proto), "--weights", str(model), "--compare", str(npz)])
    out = capsys.readouterr().out
    blobs, _ = read_reference(npz)
    assert status == 0, out
    assert f"{len(blobs)} of {len(blobs)} blobs agree within 0.0001" in out


@pytest.mark.parametrize("npz", REFERENCES, ids=[p.stem for p in REFERENCES])
def test_every_blob_equals_caffe_through_the_api(npz: Path) -> None:
    proto, model = net_files(npz)
    reference, inputs = read_reference(npz)
    net = load_net(proto, weights=model)
    ours = net.forward(inputs, keep="all")
    rows = compare_blobs(ours, reference)
    assert [r.name for r in rows if not r.ok] == []
    assert set(reference) <= set(ours)


def test_lenet_float64_reference_is_closer_to_caffe_than_the_tolerance() -> None:
    reference, inputs = read_reference(LENET / "lenet_deploy_b4.npz")
    net = load_net(LENET / "lenet_deploy_b4.prototxt", weights=LENET / "lenet_iter_1000.caffemodel")
    out64 = net.forward(inputs, dtype=np.float64)
    out32 = net.forward(inputs)
    assert out64["prob"].dtype == np.float64 and out32["prob"].dtype == np.float32
    assert compare_blob("prob", out64["prob"], reference["prob"]).max_rel < 1e-5
    # the trained LeNet classifies the 4 fixed inputs as Caffe did
    assert np.array_equal(out32["prob"].argmax(1), reference["prob"].argmax(1))


def test_outputs_only_by_default_and_dead_blobs_are_freed() -> None:
    net = load_net(LENET / "lenet_deploy_b4.prototxt", weights=LENET / "lenet_iter_1000.caffemodel")
    _, inputs = read_reference(LENET / "lenet_deploy_b4.npz")
    assert list(net.forward(inputs)) == ["prob"]
    assert list(net.forward(inputs, keep=["conv1", "prob"])) == ["conv1", "prob"]


def test_missing_and_misshapen_inputs_name_the_blob_and_both_shapes() -> None:
    executor = executor_for(load_net(LENET / "lenet_deploy_b4.prototxt", weights=LENET / "lenet_iter_1000.caffemodel"))
    with pytest.raises(CaffecxError, match=r"input 'data' \(4, 1, 28, 28\) not given"):
        executor.forward({})
    with pytest.raises(ShapeError, match=r"input 'data' has shape \(4, 1, 28, 27\), the net expects \(4, 1, 28, 28\)"):
        executor.forward({"data": np.zeros((4, 1, 28, 27), np.float32)})
    with pytest.raises(CaffecxError, match="no input blob 'image'"):
        executor.forward({"image": np.zeros((4, 1, 28, 28), np.float32)})


def test_nan_inputs_propagate_as_in_caffe() -> None:
    net = load_net(LENET / "lenet_deploy_b4.prototxt", weights=LENET / "lenet_iter_1000.caffemodel")
    x = np.zeros((4, 1, 28, 28), np.float32)
    x[1, 0, 10, 10] = np.nan
    prob = net.forward(data=x)["prob"]
    assert np.isnan(prob[1]).all() and np.isfinite(prob[[0, 2, 3]]).all()


def test_cli_errors_exit_2_and_write_nothing(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    proto = LENET / "lenet_deploy_b4.prototxt"
    bad = tmp_path / "x.npy"
    np.save(bad, np.zeros((4, 1, 20, 20), np.float32))
    out = tmp_path / "out.npz"
    assert main(["run", str(proto), "--input", f"data={bad}", "--out", str(out)]) == 2
    err = capsys.readouterr().err
    assert "input 'data' has shape (4, 1, 20, 20), the net expects (4, 1, 28, 28)" in err
    assert not out.exists()
    assert main(["run", str(proto), "--out", str(out)]) == 2
    assert "input 'data' (4, 1, 28, 28) not given" in capsys.readouterr().err
    assert list(tmp_path.iterdir()) == [bad]


def test_weights_of_the_wrong_shape_name_the_layer(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    text = (LENET / "lenet_deploy_b4.prototxt").read_text().replace("num_output: 500", "num_output: 400")
    proto = tmp_path / "lenet400.prototxt"
    proto.write_text(text)
    assert main(["run", str(proto), "--weights", str(LENET / "lenet_iter_1000.caffemodel")]) == 2
    err = capsys.readouterr().err
    assert "layer 'ip1'" in err and "shape mismatch" in err


def test_out_writes_blob_keys_and_compare_reads_them_back(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    npz = LENET / "lenet_deploy_b4.npz"
    out = tmp_path / "ours.npz"
    model = LENET / "lenet_iter_1000.caffemodel"
    proto = LENET / "lenet_deploy_b4.prototxt"
    assert main(["run", str(proto), "--weights", str(model), "--compare", str(npz), "--blobs", "all",
                 "--out", str(out)]) == 0
    with np.load(out) as data:
        assert sorted(data.files) == sorted(k for k in np.load(npz).files if k.startswith("blob/"))
    capsys.readouterr()
    # a reference from another model disagrees: exit 1 and the blobs that differ are listed
    status = main(["run", str(proto), "--compare", str(npz)])
    text = capsys.readouterr().out
    assert status == 1 and "differs" in text and "data" in text


def test_top_k_prints_the_best_classes_with_labels(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    npz = LENET / "lenet_deploy_b4.npz"
    reference, _ = read_reference(npz)
    labels = tmp_path / "labels.txt"
    labels.write_text("".join(f"digit {i}\n" for i in range(10)))
    assert main(["run", str(LENET / "lenet_deploy_b4.prototxt"), "--weights", str(LENET / "lenet_iter_1000.caffemodel"),
                 "--compare", str(npz), "--top", "2", "--labels", str(labels)]) == 0
    out = capsys.readouterr().out
    best = int(reference["prob"][0].argmax())
    assert f"prob[0]:\n  1. class {best} " in out and f"digit {best}" in out


@pytest.mark.parametrize("name", ["lenet", "squeezenet_v1.1__deploy", "bvlc_googlenet__deploy"])
def test_init_weights_run_the_same_in_opencv_and_caffecx(name: str, tmp_path: Path) -> None:
    cv2 = pytest.importorskip("cv2")
    if not hasattr(cv2.dnn, "readNetFromCaffe"):
        pytest.skip("this OpenCV has no Caffe importer (removed in 5.x)")
    from paths import CORPUS

    from caffecx.io import read_net_text, write_prototxt

    source = LENET / "lenet.prototxt" if name == "lenet" else CORPUS / "prototxt" / f"{name}.prototxt"
    param = read_net_text(source).param
    for layer in param.layer:  # batch 2: two samples through both peers
        for shape in layer.input_param.shape:
            shape.dim[0] = 2
    proto, model = tmp_path / "net.prototxt", tmp_path / "net.caffemodel"
    write_prototxt(param, proto)
    assert main(["init", str(proto), "-o", str(model), "--seed", "3"]) == 0
    executor = executor_for(load_net(proto, weights=model))
    (input_name, shape), = executor.required_inputs.items()
    x = np.random.default_rng(1).standard_normal(shape).astype(np.float32)
    ours = executor.forward({input_name: x})[executor.outputs[-1]]
    cv_net = cv2.dnn.readNetFromCaffe(str(proto), str(model))
    cv_net.setInput(x)
    theirs = cv_net.forward().reshape(ours.shape)
    assert compare_blob("out", ours, theirs, 1e-4).ok, np.abs(ours - theirs).max()


def test_batchnorm_and_scale_chains_fold_into_the_convolution_with_the_same_blobs() -> None:
    npz = FIXTURES / "nets" / "layers_1.npz"
    proto, model = net_files(npz)
    reference, inputs = read_reference(npz)
    folded = executor_for(load_net(proto, weights=model))
    plain = executor_for(load_net(proto, weights=model), fold=False)
    names = {folded.plan.layers[i].name for i in folded.folded}
    assert {folded.plan.layer(n).type for n in names} == {"BatchNorm", "Scale", "ReLU"} and not plain.folded
    a, b = folded.forward(inputs, keep="all"), plain.forward(inputs, keep="all")
    assert [d.name for d in compare_blobs(a, reference) if not d.ok] == []
    assert all(compare_blob(k, a[k], b[k], 1e-5).ok for k in b)


@pytest.mark.parametrize("relu, fused", [
    ('layer { name: "r" type: "ReLU" bottom: "c" top: "c" }', True),
    ('layer { name: "r" type: "ReLU" bottom: "c" top: "c" relu_param { negative_slope: 0.1 } }', True),
    ('layer { name: "r" type: "ReLU" bottom: "c" top: "r" }', False),  # not in place: "c" keeps its value
    ('layer { name: "s" type: "Split" bottom: "c" top: "c1" top: "c2" }\n'
     'layer { name: "r" type: "ReLU" bottom: "c1" top: "c1" }', False),
])
@pytest.mark.parametrize("conv", ["kernel_size: 3 pad: 1", "kernel_size: 1", "kernel_size: 3 group: 4 stride: 2"])
def test_an_in_place_relu_after_a_convolution_folds_into_it(relu: str, fused: bool, conv: str) -> None:
    text = f"""name: "t" layer {{ name: "x" type: "Input" top: "x" input_param {{ shape {{ dim: 2 dim: 4 dim: 9
    dim: 9 }} }} }}
    layer {{ name: "c" type: "Convolution" bottom: "x" top: "c" convolution_param {{ num_output: 4 {conv}
    weight_filler {{ type: "gaussian" std: 1 }} bias_filler {{ type: "gaussian" std: 1 }} }} }}
    {relu}"""
    x = np.random.default_rng(3).standard_normal((2, 4, 9, 9)).astype(np.float32)
    folded = executor_for(load_net(text))
    plain = executor_for(load_net(text), fold=False)
    assert bool(folded.folded) == fused
    a, b = folded.forward({"x": x}, keep="all"), plain.forward({"x": x}, keep="all")
    assert a.keys() == b.keys()
    for name in b:
        np.testing.assert_allclose(a[name], b[name], rtol=1e-6, atol=1e-6)


@pytest.mark.parametrize("param", ["", "eltwise_param { coeff: 1 coeff: -0.5 coeff: 2 }",
                                   "eltwise_param { coeff: -1 coeff: 1 coeff: 1 }", "eltwise_param { operation: MAX }",
                                   "eltwise_param { operation: PROD }"])
def test_an_in_place_relu_after_an_eltwise_folds_into_it(param: str) -> None:
    text = f"""name: "t" layer {{ name: "x" type: "Input" top: "x" input_param {{ shape {{ dim: 2 dim: 3 dim: 40
    dim: 40 }} }} }}
    layer {{ name: "n" type: "Power" bottom: "x" top: "n" power_param {{ scale: -1 }} }}
    layer {{ name: "h" type: "Power" bottom: "x" top: "h" power_param {{ scale: 0.5 shift: 0.25 }} }}
    layer {{ name: "e" type: "Eltwise" bottom: "x" bottom: "n" bottom: "h" top: "e" {param} }}
    layer {{ name: "r" type: "ReLU" bottom: "e" top: "e" relu_param {{ negative_slope: 0.125 }} }}"""
    x = np.random.default_rng(4).standard_normal((2, 3, 40, 40)).astype(np.float32)
    folded, plain = executor_for(load_net(text)), executor_for(load_net(text), fold=False)
    assert [folded.plan.layers[i].name for i in folded.folded] == ["r"] and not plain.folded
    np.testing.assert_array_equal(folded.forward({"x": x})["e"], plain.forward({"x": x})["e"])


@pytest.mark.parametrize("batch", [1, 3])
@pytest.mark.parametrize("keep", ["outputs", "all"])
def test_convolutions_write_straight_into_the_concat_after_them(batch: int, keep: str) -> None:
    conv = 'weight_filler { type: "gaussian" std: 1 } bias_filler { type: "gaussian" std: 1 }'
    text = f"""name: "t" layer {{ name: "x" type: "Input" top: "x" input_param {{ shape {{ dim: {batch} dim: 4
    dim: 9 dim: 9 }} }} }}
    layer {{ name: "a" type: "Convolution" bottom: "x" top: "a" convolution_param {{ num_output: 3 kernel_size: 3
    pad: 1 {conv} }} }}
    layer {{ name: "ra" type: "ReLU" bottom: "a" top: "a" }}
    layer {{ name: "d" type: "Convolution" bottom: "x" top: "d" convolution_param {{ num_output: 4 group: 4
    kernel_size: 3 pad: 1 {conv} }} }}
    layer {{ name: "b" type: "Convolution" bottom: "x" top: "b" convolution_param {{ num_output: 2 kernel_size: 1
    {conv} }} }}
    layer {{ name: "p" type: "Power" bottom: "x" top: "p" power_param {{ scale: -1 }} }}
    layer {{ name: "j" type: "Concat" bottom: "a" bottom: "p" bottom: "d" bottom: "b" top: "j" }}
    layer {{ name: "rj" type: "ReLU" bottom: "j" top: "j" relu_param {{ negative_slope: 0.5 }} }}"""
    x = np.random.default_rng(5).standard_normal((batch, 4, 9, 9)).astype(np.float32)
    into, copied = executor_for(load_net(text)), executor_for(load_net(text))
    copied.slots = {}
    named = {into.plan.layers[i].name: (into.plan.layers[c].name, s) for i, (c, s) in into.slots.items()}
    assert named == {"a": ("j", slice(0, 3)), "d": ("j", slice(7, 11)), "b": ("j", slice(11, 13))}
    ours, theirs = into.forward({"x": x}, keep=keep), copied.forward({"x": x}, keep=keep)
    assert ours.keys() == theirs.keys()
    for name in theirs:  # the kept bottoms too: the in-place ReLU after the Concat left them alone
        np.testing.assert_array_equal(ours[name], theirs[name])


def test_in_place_layers_never_write_into_the_callers_input() -> None:
    text = """name: "t" layer { name: "x" type: "Input" top: "x" input_param { shape { dim: 2 dim: 3 } } }
    layer { name: "r" type: "ReLU" bottom: "x" top: "x" }"""
    x = np.array([[-1.0, 2.0, -3.0], [4.0, -5.0, 6.0]], np.float32)
    out = load_net(text).forward(x=x)["x"]
    assert out.tolist() == [[0, 2, 0], [4, 0, 6]] and x[0, 0] == -1.0


@pytest.mark.parametrize("layer, why", [
    ('type: "Python" python_param { module: "os" layer: "system" }', "has no forward pass"),
    ('type: "NoSuchLayer"', "unknown layer type 'NoSuchLayer'"),
    ('type: "Pooling" pooling_param { pool: STOCHASTIC kernel_size: 2 stride: 2 }', "STOCHASTIC"),
])
def test_layers_that_cannot_run_are_refused_by_name_and_line_before_any_work(
        layer: str, why: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    proto = tmp_path / "bad.prototxt"
    proto.write_text('name: "bad"\nlayer { name: "x" type: "Input" top: "x" input_param { shape { dim: 1 dim: 1 '
                     'dim: 4 dim: 4 } } }\nlayer { name: "r" type: "ReLU" bottom: "x" top: "r" }\n'
                     f'layer {{ name: "odd" bottom: "r" top: "y" {layer} }}\n')
    out = tmp_path / "out.npz"
    args = ["run", str(proto), "--out", str(out), "--input-shape", "y=1,1,2,2"]
    assert main(args) == 2
    err = capsys.readouterr().err
    assert f"{proto}:4:1: layer 'odd': cannot run" in err and why in err
    assert not out.exists()


def test_an_image_input_goes_through_the_input_layers_transform(tmp_path: Path,
                                                                capsys: pytest.CaptureFixture[str]) -> None:
    from PIL import Image

    pixels = np.random.default_rng(2).integers(0, 256, (28, 28), dtype=np.uint8)
    image = tmp_path / "digit.png"
    Image.fromarray(pixels, mode="L").save(image)
    array = tmp_path / "digit.npy"
    np.save(array, np.broadcast_to(pixels.astype(np.float32), (64, 1, 28, 28)))
    proto = str(REPO / "prototxt" / "lenet.prototxt")
    model = str(LENET / "lenet_iter_1000.caffemodel")
    a, b = tmp_path / "a.npz", tmp_path / "b.npz"
    assert main(["run", proto, "--weights", model, "--input", f"data={image}", "--out", str(a)]) == 0
    assert main(["run", proto, "--weights", model, "--input", str(array), "--out", str(b)]) == 0
    with np.load(a) as x, np.load(b) as y:
        assert x["blob/prob"].shape == (64, 10) and np.array_equal(x["blob/prob"], y["blob/prob"])


def test_caffe_test_iterations_reproduce_the_logs_test_outputs(capsys: pytest.CaptureFixture[str]) -> None:
    """The TEST net over the log's test_iter (10 batches of 100, the data cursor moving on) prints the
    very values Caffe's log printed at iteration 1000 with the weights it saved then."""
    log = (REPO / "logs" / "lenet_train.log").read_text().splitlines()
    last = [line.split("Test net output #", 1)[1].split(": ", 1)[1] for line in log if "Test net output #" in line][-2:]
    assert main(["run", str(REPO / "prototxt" / "lenet_train_test.prototxt"), "--weights",
                 str(LENET / "lenet_iter_1000.caffemodel"), "--iterations", "10"]) == 0
    assert capsys.readouterr().out.splitlines() == last == [
        "accuracy = 0.994", "loss = 0.0214552 (* 1 = 0.0214552 loss)"]


def test_a_batchnorm_with_a_new_top_folds_and_its_bottom_is_computed_when_kept() -> None:
    text = """name: "m" layer { name: "x" type: "Input" top: "x" input_param { shape { dim: 2 dim: 3 dim: 6 dim: 6 } } }
    layer { name: "conv" type: "Convolution" bottom: "x" top: "conv"
            convolution_param { num_output: 4 kernel_size: 3 bias_term: false weight_filler { type: "gaussian" std: 0.5 } } }
    layer { name: "bn" type: "BatchNorm" bottom: "conv" top: "conv/bn" }
    layer { name: "sc" type: "Scale" bottom: "conv/bn" top: "conv/bn"
            scale_param { bias_term: true filler { type: "uniform" min: 0.5 max: 2 } bias_filler { type: "uniform" } } }
    layer { name: "relu" type: "ReLU" bottom: "conv/bn" top: "conv/bn" }"""
    net = load_net(text)
    plan_weights = {"bn": [np.array([0.5, -1, 2, 0], np.float32), np.array([1, 4, 0.25, 9], np.float32),
                           np.array([0.5], np.float32)]}
    net.layer("bn").blobs = plan_weights["bn"]
    folded, plain = executor_for(net), executor_for(net, fold=False)
    assert {folded.plan.layers[i].name for i in folded.folded} == {"bn", "sc", "relu"} and folded.hidden == {"conv"}
    x = np.random.default_rng(5).standard_normal((2, 3, 6, 6)).astype(np.float32)
    a, b = folded.forward({"x": x}), plain.forward({"x": x})
    assert compare_blob("conv/bn", a["conv/bn"], b["conv/bn"], 1e-5).ok
    every = folded.forward({"x": x}, keep="all")  # the folded-away blob asked for: the net as written
    assert set(every) == {"x", "conv", "conv/bn"} and np.array_equal(every["conv"], plain.forward({"x": x}, keep="all")["conv"])
