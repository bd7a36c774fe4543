"""The analyzer on real nets: the LeNet analysis, the corpus deploy nets, weights, batch scaling, CLI."""

from __future__ import annotations

import json

import pytest
from paths import CORPUS, FIXTURES, LENET, NETS, REPO

from caffecx.analysis import analyze
from caffecx.cli import main
from caffecx.errors import FilteredBlobError, GraphError, ShapeError, WeightsError
from caffecx.graph import load_net
from caffecx.lenet import lenet_analysis, write_report

DEPLOY = sorted((CORPUS / "prototxt").glob("*deploy*.prototxt"))


def test_lenet_seed_claims() -> None:
    result = lenet_analysis(REPO / "prototxt")
    c = result.claims
    assert c["conv1_ratio"] == 576 and c["ip1_ratio"] == 1
    assert c["conv1_vs_ip1_compute"] == pytest.approx(0.72)
    assert c["conv1_vs_ip1_weights"] == pytest.approx(0.00125)
    conv1 = result.deploy.layer("conv1")
    assert conv1.macs == 64 * 288000 and conv1.weights == 500 and conv1.params == 520
    # the seed quotes these lines of Caffe's log (TRAIN net, batch 64)
    assert result.log_lines[:5] == ["Top shape: 64 1 28 28 (50176)", "Top shape: 64 (64)",
                                    "Memory required for data: 200960", "Top shape: 64 20 24 24 (737280)",
                                    "Memory required for data: 3150080"]
    assert "Memory required for data: 5167360" in result.log_lines


def test_lenet_report_files(tmp_path) -> None:
    md, png = write_report(lenet_analysis(REPO / "prototxt"), tmp_path)
    text = md.read_text()
    assert "| conv1 compute / weights | 576 | 576 |" in text
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_lenet_report_sets_the_lines_against_caffes_log(tmp_path) -> None:
    result = lenet_analysis(REPO / "prototxt")  # the bundled logs/lenet_train.log
    assert result.log_path and result.log_path.endswith("lenet_train.log")
    assert len(result.against_log) == 19 and all(x.same for x in result.against_log)
    conv1 = [x for x in result.against_log if x.layer == "conv1"]
    assert [(x.log, x.log_line) for x in conv1] == [("Top shape: 64 20 24 24 (737280)", 186),
                                                    ("Memory required for data: 3150080", 187)]
    assert "19 of 19 lines identical" in result.to_markdown()
    # a log that says otherwise is shown as differing, line by line
    bad = tmp_path / "lenet_train.log"
    bad.write_text((LENET / "lenet_train.log").read_text().replace("data: 3150080", "data: 3150081", 1))
    other = lenet_analysis(REPO / "prototxt", log=bad)
    differs = [x for x in other.against_log if not x.same]
    assert [(x.layer, x.caffecx, x.log) for x in differs] == [
        ("conv1", "Memory required for data: 3150080", "Memory required for data: 3150081")]
    assert "18 of 19 lines identical" in other.to_markdown() and "**differs**" in other.to_markdown()


def test_lenet_cli(tmp_path, capsys) -> None:
    assert main(["lenet", "--out-dir", str(tmp_path)]) == 0
    assert "0.00125" in capsys.readouterr().out
    assert (tmp_path / "lenet_analysis.png").exists()


@pytest.mark.parametrize("path", DEPLOY, ids=lambda p: p.name)
def test_corpus_deploy_nets_have_no_unknown_layers(path) -> None:
    result = analyze(load_net(path))
    assert result.unknown == []
    assert result.totals()["macs"] > 0 and result.layers[-1].memory_bytes > 0


def test_known_totals_of_classic_nets() -> None:
    alexnet = analyze(load_net(CORPUS / "prototxt" / "bvlc_alexnet__deploy.prototxt"))
    assert alexnet.totals()["params"] == 60_965_224  # AlexNet's well-known parameter count
    assert alexnet.layer("conv1").top_shapes == [[10, 96, 55, 55]]
    resnet50 = analyze(load_net(CORPUS / "prototxt" / "resnet50__deploy.prototxt"))
    # 25.5 M learnable + BatchNorm statistics; ~3.86 G MACs per 224x224 image
    assert resnet50.layer("fc1000").top_shapes == [[1, 1000]]
    assert resnet50.totals()["macs"] == pytest.approx(3.86e9, rel=0.01)
    googlenet = analyze(load_net(CORPUS / "prototxt" / "bvlc_googlenet__deploy.prototxt"))
    assert googlenet.layer("pool1/3x3_s2").top_shapes == [[10, 64, 56, 56]]  # Caffe's ceil pooling: 56, not 55


def test_batch_scaling() -> None:
    one = analyze(load_net(LENET / "lenet.prototxt"), batch=1)
    many = analyze(load_net(LENET / "lenet.prototxt"), batch=8)
    assert one.layer("data").top_shapes == [[1, 1, 28, 28]]
    assert many.totals()["macs"] == 8 * one.totals()["macs"]
    assert many.layer("conv1").compute_param_ratio == one.layer("conv1").compute_param_ratio == 576


def test_seed_003_receptive_field_and_space_complexity() -> None:
    # seed 003: three 3x3 stride-1 convolutions see 7x7 of the input (RF_l = RF_{l-1} + (k - 1)·stride_product);
    # a dilated kernel counts as d·(k - 1) + 1
    layers = "".join(
        f'layer {{ name: "c{i}" type: "Convolution" bottom: "{b}" top: "c{i}" '
        f'convolution_param {{ num_output: 4 kernel_size: 3 {extra} }} }}\n'
        f'layer {{ name: "r{i}" type: "ReLU" bottom: "c{i}" top: "c{i}" }}\n'
        for i, (b, extra) in enumerate([("x", ""), ("c0", ""), ("c1", "")]))
    net = 'layer { name: "x" type: "Input" top: "x" input_param { shape { dim: 1 dim: 2 dim: 16 dim: 16 } } }\n'
    r = analyze(load_net(net + layers))
    assert [r.layer(f"c{i}").receptive_field.size for i in range(3)] == [(3, 3), (5, 5), (7, 7)]
    assert r.layer("r2").receptive_field.size == (7, 7)  # ReLU maps no space
    dilated = analyze(load_net(net + layers.replace("kernel_size: 3  }", "kernel_size: 3 dilation: 2 }", 1)))
    assert dilated.layer("c2").receptive_field.size == (9, 9)  # 1 + 2·2 + 2 + 2
    # space: params + feature maps, the in-place ReLUs not counted (seed 003's note); Caffe's memory
    # line counts them (and the input)
    maps = 2 * 16 * 16 + 4 * (14 * 14 + 12 * 12 + 10 * 10)
    t = r.totals()
    assert t["feature_map_elements"] == maps
    assert t["activations"] == maps + 4 * (14 * 14 + 12 * 12 + 10 * 10)
    assert t["memory_bytes"] == 4 * t["activations"]
    assert t["params"] == (2 * 9 * 4 + 4) + 2 * (4 * 9 * 4 + 4)


def test_receptive_fields_of_lenet() -> None:
    rows = {r.name: r.receptive_field for r in analyze(load_net(LENET / "lenet.prototxt")).layers}
    assert rows["conv1"].size == (5, 5) and rows["conv1"].jump == (1, 1)
    assert rows["pool1"].size == (6, 6) and rows["pool1"].jump == (2, 2)
    assert rows["conv2"].size == (14, 14) and rows["pool2"].size == (16, 16) and rows["pool2"].jump == (4, 4)
    assert rows["ip1"].global_


def test_weights_are_checked(tmp_path) -> None:
    net = load_net(LENET / "lenet.prototxt", weights=LENET / "lenet_iter_1000.caffemodel")
    analyze(net)  # shapes agree
    assert net.layer("conv1").blobs[0].shape == (20, 1, 5, 5)
    wrong = (LENET / "lenet.prototxt").read_text().replace("num_output: 500", "num_output: 400")
    bad = tmp_path / "lenet400.prototxt"
    bad.write_text(wrong)
    with pytest.raises(WeightsError) as info:
        analyze(load_net(bad, weights=LENET / "lenet_iter_1000.caffemodel"))
    assert info.value.location.layer == "ip1" and "500 800" in info.value.message and "400 800" in info.value.message


def test_missing_data_source_asks_for_an_input_shape(tmp_path) -> None:
    text = (LENET / "lenet_train_test.prototxt").read_text()
    p = tmp_path / "net.prototxt"
    p.write_text(text)
    # the hint fills in what the prototxt says: batch_size 64 (no crop_size, so H,W stay open)
    with pytest.raises(ShapeError, match="--input-shape data=64,C,H,W \\(N is its batch_size\\)") as info:
        analyze(load_net(p, phase="TRAIN"), base_dirs=[tmp_path])
    assert info.value.location.layer == "mnist"
    ok = analyze(load_net(p, phase="TRAIN"), base_dirs=[tmp_path], input_shapes={"data": (32, 1, 28, 28)})
    assert ok.layer("mnist").top_shapes == [[32, 1, 28, 28], [32]]


def test_unknown_layer_type_is_a_row_and_the_rest_goes_on() -> None:
    text = """
    layer { name: "in" type: "Input" top: "x" input_param { shape { dim: 1 dim: 3 dim: 8 dim: 8 } } }
    layer { name: "magic" type: "MyForkLayer" bottom: "x" top: "y" }
    layer { name: "relu" type: "ReLU" bottom: "x" top: "z" }
    """
    result = analyze(load_net(text))
    magic = result.layer("magic")
    assert not magic.known and "MyForkLayer" in magic.note and result.unknown[0][:2] == ("magic", "MyForkLayer")
    assert result.layer("relu").top_shapes == [[1, 3, 8, 8]]


def test_analyze_json_contract(capsys) -> None:
    assert main(["analyze", str(LENET / "lenet_train_test.prototxt"), "--phase", "TRAIN", "--format", "json"]) == 0
    doc = json.loads(capsys.readouterr().out)
    assert doc["net"] == "LeNet" and doc["phase"] == "TRAIN"
    first = doc["layers"][0]
    for key in ["name", "type", "bottoms", "tops", "top_shapes", "weights", "params", "macs", "flops",
                "activations", "memory_bytes", "compute_param_ratio", "receptive_field"]:
        assert key in first
    assert [r["name"] for r in doc["layers"]][:2] == ["mnist", "conv1"]
    assert doc["layers"][0]["top_shapes"] == [[64, 1, 28, 28], [64]]
    assert doc["layers"][-1]["memory_bytes"] == 5169924
    assert doc["totals"]["weights"] == 430500
    # the breakdowns too: LeNet's stages end at pool1 and pool2 (seed 004's stages)
    assert [(s["stage"], s["layers"], s["weights"]) for s in doc["by_stage"]] == [
        (1, 3, 500), (2, 2, 25000), (3, 4, 405000)]
    conv = next(t for t in doc["by_type"] if t["type"] == "Convolution")
    assert (conv["layers"], conv["weights"], conv["macs"]) == (2, 25500, 64 * (288000 + 1600000))


@pytest.mark.parametrize("fmt", ["table", "csv", "markdown"])
def test_analyze_formats(fmt, capsys) -> None:
    assert main(["analyze", str(LENET / "lenet.prototxt"), "--format", fmt, "--batch", "1"]) == 0
    out = capsys.readouterr().out
    assert "conv1" in out and ("1x20x24x24" in out or "1 20 24 24" in out)
    assert main(["analyze", str(LENET / "lenet.prototxt"), "--format", fmt, "--by", "type"]) == 0
    assert "Convolution" in capsys.readouterr().out


def test_cli_errors_exit_2(tmp_path, capsys) -> None:
    assert main(["analyze", str(tmp_path / "nope.prototxt")]) == 2
    assert "no such file" in capsys.readouterr().err
    assert main(["analyze", str(tmp_path)]) == 2
    assert "directory" in capsys.readouterr().err
    bad = tmp_path / "bad.prototxt"
    bad.write_text('layer {\n  name: "a"\n  type: "ReLU"\n  bottom "x"\n}\n')
    assert main(["analyze", str(bad)]) == 2
    assert f"{bad}:4:" in capsys.readouterr().err
    assert main(["analyze", str(NETS / "layers_1_concat_mismatch.prototxt")]) == 2
    err = capsys.readouterr().err
    # located at the `layer {` of 'cat': line 19, column 1
    assert "layers_1_concat_mismatch.prototxt:19:1: layer 'cat': All inputs must have the same shape" in err
    garbage = tmp_path / "junk.caffemodel"
    garbage.write_bytes(b"\x00\xff" * 100)
    assert main(["analyze", str(LENET / "lenet.prototxt"), "--weights", str(garbage)]) == 2
    assert "junk.caffemodel" in capsys.readouterr().err
    # a training log handed over as the net, a picture: said so, not a protobuf parser's complaint
    assert main(["analyze", str(LENET / "lenet_train.log")]) == 2
    assert "lenet_train.log:1:1: this is a Caffe log, not a prototxt: read it with `caffecx log`" in \
        capsys.readouterr().err
    picture = tmp_path / "chart.png"
    picture.write_bytes(b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR" + bytes(range(256)))
    assert main(["analyze", str(picture)]) == 2
    assert f"{picture}: neither prototxt text nor a readable .caffemodel" in capsys.readouterr().err


def test_an_empty_top_is_set_up_as_caffe_does_with_a_warning(capsys) -> None:
    net = ('layer { name: "a" type: "Input" top: "x" input_param { shape { dim: 1 dim: 3 dim: 8 dim: 8 } } }\n'
           'layer { name: "p" type: "Pooling" bottom: "x" top: "y" pooling_param { kernel_size: 9 stride: 2 } }\n')
    r = analyze(load_net(net))
    # Caffe's pooled size: ceil((8 - 9) / 2) + 1 = ceil(-0.5) + 1 = 1; with stride 1: ceil(-1) + 1 = 0
    assert r.layer("p").top_shapes == [[1, 3, 1, 1]] and r.layer("p").note == ""
    r = analyze(load_net(net.replace("stride: 2", "stride: 1")))
    assert r.layer("p").top_shapes == [[1, 3, 0, 0]] and r.layer("p").memory_bytes == 768
    assert r.layer("p").note.startswith("empty top 'y' (1x3x0x0): Caffe accepts it")


def test_unknown_bottom_cli(tmp_path, capsys) -> None:
    p = tmp_path / "n.prototxt"
    p.write_text('layer { name: "in" type: "Input" top: "d" input_param { shape { dim: 1 } } }\n'
                 'layer { name: "r" type: "ReLU" bottom: "missing" top: "r" }\n')
    assert main(["analyze", str(p)]) == 2
    err = capsys.readouterr().err
    assert f"{p}:2:1: layer 'r': Unknown bottom blob 'missing'" in err
    with pytest.raises(GraphError):
        load_net(p)


def test_unknown_bottom_names_the_layers_the_net_state_left_out(capsys) -> None:
    # Caffe's mnist_autoencoder: in TEST its data layers need a stage; Caffe fails the same way
    path = CORPUS / "prototxt" / "mnist__mnist_autoencoder.prototxt"
    with pytest.raises(GraphError) as info:
        load_net(path, phase="TEST")
    err = info.value
    assert (err.location.line, err.location.column, err.location.layer) == (52, 1, "flatdata")
    assert err.message == (
        "Unknown bottom blob 'data' (layer 'flatdata', bottom index 0); it is made by 'data' "
        "(include { phase: TRAIN }), 'data' (include { phase: TEST stage: \"test-on-train\" }), 'data' "
        "(include { phase: TEST stage: \"test-on-test\" }), left out for phase TEST")
    net = load_net(path, phase="TEST", stages=["test-on-test"])
    assert [n.name for n in net.layers[:3]] == ["data", "data_data_0_split", "flatdata"]


def test_layers_of_a_solvers_inline_net_are_located() -> None:
    # a caffenet-benchmark "train_val" file is a solver with the net inline (net_param { layer { ... } })
    path = CORPUS / "prototxt" / "caffenet-benchmark__SqueezeNet128_new__train_val.prototxt"
    net = load_net(path, phase="TEST")
    text = path.read_text().splitlines()
    for node in net.layers:
        if node.type == "Split":
            assert node.line is None
            continue
        line = text[node.line - 1]
        assert line[node.column - 1:].startswith("layer"), (node.name, line)
        assert f'"{node.name}"' in "\n".join(text[node.line - 1:node.line + 2]), node.name
    with pytest.raises(ShapeError) as info:  # (without strict_data: its shape is assumed from the prototxt)
        analyze(net, strict_data=True)
    data = net.layer("data")  # the TEST one, at line 51
    assert (info.value.location.line, info.value.location.column) == (data.line, data.column) == (51, 1)


def test_version(capsys) -> None:
    with pytest.raises(SystemExit) as info:
        main(["--version"])
    assert info.value.code == 0 and capsys.readouterr().out.startswith("caffecx ")


def test_fixture_nets_analyze_with_their_weights() -> None:
    for name in ["layers_1", "layers_2", "layers_3_v1"]:
        net = load_net(NETS / f"{name}.prototxt", weights=NETS / f"{name}.caffemodel")
        analyze(net)
        assert any(node.blobs for node in net)
    assert FIXTURES.exists()


def test_layers_missing_from_the_weights_file_are_named(tmp_path, capsys) -> None:
    text = (LENET / "lenet.prototxt").read_text().replace('name: "ip2"', 'name: "ip2_new"')
    p = tmp_path / "renamed.prototxt"
    p.write_text(text)
    net = load_net(p, weights=LENET / "lenet_iter_1000.caffemodel")
    result = analyze(net)
    assert "no weights" in result.layer("ip2_new").note
    assert "Ignoring source layer ip2" in net.notes
    assert main(["analyze", str(p), "--weights", str(LENET / "lenet_iter_1000.caffemodel")]) == 0
    assert "layer 'ip2_new': no weights" in capsys.readouterr().err


def test_a_caffemodel_alone_is_a_net_with_its_weights(capsys, tmp_path) -> None:
    # Caffe saves the whole net definition in the weights file: LeNet's TRAIN net, as trained
    model = LENET / "lenet_iter_1000.caffemodel"
    net = load_net(model, phase="TRAIN")
    assert [n.name for n in net.layers] == ["mnist", "conv1", "pool1", "conv2", "pool2", "ip1", "relu1", "ip2",
                                            "loss"]
    assert net.layer("conv1").blobs[0].shape == (20, 1, 5, 5) and net.weights_path == str(model)
    from_model = analyze(net)
    from_text = analyze(load_net(LENET / "lenet_train_test.prototxt", phase="TRAIN"))
    assert [(r.name, r.top_shapes, r.memory_bytes, r.params, r.macs) for r in from_model.layers] == [
        (r.name, r.top_shapes, r.memory_bytes, r.params, r.macs) for r in from_text.layers]
    # its only data layer is TRAIN's: in TEST the error says so
    with pytest.raises(FilteredBlobError, match=r"made by 'mnist' \(include \{ phase: TRAIN \}\), left out for phase TEST"):
        load_net(model)
    # V1 weights files (the 2014 binary format) upgrade and analyze the same way
    v1 = analyze(load_net(NETS / "layers_3_v1.caffemodel"))
    assert [r.top_shapes for r in v1.layers] == [r.top_shapes for r in analyze(load_net(NETS / "layers_3_v1.prototxt")).layers]
    assert main(["check", str(model), str(LENET / "lenet_train.log"), "--phase", "TRAIN"]) == 0
    assert "TRAIN (" in capsys.readouterr().out
    # `upgrade` writes the stored definition as prototxt (blobs left out): the same net again
    assert main(["upgrade", str(model), "-o", str(tmp_path / "lenet.prototxt")]) == 0
    text = (tmp_path / "lenet.prototxt").read_text()
    assert "blobs" not in text and 'source: "examples/mnist/mnist_train_lmdb"' in text
    again = load_net(tmp_path / "lenet.prototxt", phase="TRAIN")
    assert [(n.name, n.type, n.bottoms, n.tops) for n in again.layers] == [
        (n.name, n.type, n.bottoms, n.tops) for n in net.layers]
