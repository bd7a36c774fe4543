"""Caffe's upgrade rules on real legacy files (V0, V1, input_dim, solver_type)."""

from __future__ import annotations

import pytest
from google.protobuf import text_format
from paths import CORPUS, LENET, NETS, REPO

from caffecx.cli import main
from caffecx.errors import UpgradeError
from caffecx.io import read_net_text, read_solver
from caffecx.io.upgrade import (
    upgrade_net,
    upgrade_solver,
    upgrade_v0_net,
    upgrade_v0_padding_layers,
    upgrade_v1_layer,
    upgrade_v1_net,
)
from caffecx.layers import layer_class
from caffecx.proto import caffe_pb2

PROTO = CORPUS / "prototxt"
CAFFE_TESTS = REPO / "tests" / "data" / "caffe_tests" / "upgrade"  # Caffe's test_upgrade_proto.cpp, as data


def parse(path, msg=None):
    return text_format.Parse(path.read_text(), msg or caffe_pb2.NetParameter())


def test_v1_upgrade_is_message_identical_to_caffes() -> None:
    ours, notes = upgrade_net(parse(NETS / "layers_3_v1.prototxt"))
    assert ours == parse(NETS / "layers_3_v1.upgraded.prototxt")
    # the two upgrades Caffe's log reports for this file, in its order
    assert [n.split(":")[0] for n in notes if n.startswith("Attempting")] == [
        "Attempting to upgrade input file specified using deprecated V1LayerParameter",
        "Attempting to upgrade input file specified using deprecated input fields",
    ]


def test_upgrade_cli_writes_the_same_message(tmp_path, capsys) -> None:
    out = tmp_path / "up.prototxt"
    assert main(["upgrade", str(NETS / "layers_3_v1.prototxt"), "-o", str(out)]) == 0
    assert parse(out) == parse(NETS / "layers_3_v1.upgraded.prototxt")
    assert main(["upgrade", str(NETS / "layers_3_v1.prototxt"), "--quiet"]) == 0
    printed = text_format.Parse(capsys.readouterr().out, caffe_pb2.NetParameter())
    assert printed == parse(NETS / "layers_3_v1.upgraded.prototxt")


def test_v2_net_is_unchanged_and_silent() -> None:
    net = parse(LENET / "lenet_train_test.prototxt")
    ours, notes = upgrade_net(net)
    assert ours == net and notes == []


def test_real_v0_lenet() -> None:
    net = read_net_text(PROTO / "lenet__train_v0_2014.prototxt").param
    assert [(layer.name, layer.type) for layer in net.layer] == [
        ("mnist", "Data"), ("conv1", "Convolution"), ("pool1", "Pooling"), ("conv2", "Convolution"),
        ("pool2", "Pooling"), ("ip1", "InnerProduct"), ("relu1", "ReLU"), ("ip2", "InnerProduct"),
        ("loss", "SoftmaxWithLoss")]
    data, conv1, pool1 = net.layer[0], net.layer[1], net.layer[2]
    assert data.data_param.source == "mnist-train-leveldb" and data.data_param.batch_size == 64
    assert data.transform_param.scale == pytest.approx(0.00390625)
    assert conv1.convolution_param.num_output == 20 and list(conv1.convolution_param.kernel_size) == [5]
    assert [p.lr_mult for p in conv1.param] == [1.0, 2.0]
    assert pool1.pooling_param.pool == caffe_pb2.PoolingParameter.MAX and pool1.pooling_param.kernel_size == 2


def test_real_v0_deploy_gets_an_input_layer() -> None:
    net = read_net_text(PROTO / "caffenet__deploy_v0_2014.prototxt").param
    first = net.layer[0]
    assert (first.name, first.type, list(first.top)) == ("input", "Input", ["data"])
    assert list(first.input_param.shape[0].dim) == [10, 3, 227, 227]
    assert not len(net.input) and not len(net.input_dim)
    assert net.layer[1].name == "conv1" and net.layer[1].convolution_param.num_output == 96


def test_real_v0_cifar_keeps_pads_and_mean_file() -> None:
    net = read_net_text(PROTO / "cifar10_18pct__train_v0_2014.prototxt").param
    conv1 = next(layer for layer in net.layer if layer.name == "conv1")
    assert list(conv1.convolution_param.pad) == [2]
    assert net.layer[0].transform_param.mean_file == "mean.binaryproto"


def test_v0_padding_layer_is_folded_into_the_conv() -> None:
    text = """
    name: "padded"
    input: "data" input_dim: 1 input_dim: 3 input_dim: 8 input_dim: 8
    layers { layer { name: "pad1" type: "padding" pad: 2 } bottom: "data" top: "pad1" }
    layers { layer { name: "conv1" type: "conv" num_output: 4 kernelsize: 3 stride: 1 } bottom: "pad1" top: "conv1" }
    """
    net, _ = upgrade_net(text_format.Parse(text, caffe_pb2.NetParameter()))
    assert [layer.name for layer in net.layer] == ["input", "conv1"]
    conv1 = net.layer[1]
    assert list(conv1.bottom) == ["data"] and list(conv1.convolution_param.pad) == [2]
    bad = text.replace('type: "conv" num_output: 4 kernelsize: 3 stride: 1', 'type: "relu"')
    with pytest.raises(UpgradeError, match="Padding layer input to non-convolutional"):
        upgrade_net(text_format.Parse(bad, caffe_pb2.NetParameter()))


@pytest.mark.parametrize("name", ["alexnet__deploy_v1_2014", "caffenet__train_v1_2014",
                                  "mnist_autoencoder__train_v1_2014", "pascal_finetune__train_v1_2014",
                                  "cifar10_full__train_v1_2014"])
def test_real_v1_files(name) -> None:
    raw = parse(PROTO / f"{name}.prototxt")
    net = read_net_text(PROTO / f"{name}.prototxt").param
    assert not len(net.layers) and len(net.layer) >= len(raw.layers)
    enum_to_string = {"CONVOLUTION": "Convolution", "INNER_PRODUCT": "InnerProduct", "RELU": "ReLU",
                      "POOLING": "Pooling", "LRN": "LRN", "SOFTMAX_LOSS": "SoftmaxWithLoss", "DATA": "Data"}
    for old, new in zip([x for x in raw.layers], [x for x in net.layer if x.name != "input"], strict=True):
        name = caffe_pb2.V1LayerParameter.LayerType.Name(old.type)
        assert new.name == old.name
        if name in enum_to_string:
            assert new.type == enum_to_string[name]
    for old in raw.layers:  # blobs_lr / weight_decay become param specs
        new = next(layer for layer in net.layer if layer.name == old.name)
        assert [p.lr_mult for p in new.param][: len(old.blobs_lr)] == list(old.blobs_lr)
        assert [p.decay_mult for p in new.param][: len(old.weight_decay)] == list(old.weight_decay)


def test_v1_window_data_transform_moved() -> None:
    net = read_net_text(PROTO / "pascal_finetune__train_v1_2014.prototxt").param
    data = net.layer[0]
    assert data.type == "WindowData"
    assert data.transform_param.crop_size == 227 and data.transform_param.mirror
    assert not data.window_data_param.HasField("crop_size")


def test_solver_type_enum_upgrade() -> None:
    path = PROTO / "caffenet-benchmark__caffenet128_lsuv_bs1024__train_val.prototxt"
    raw = parse(path, caffe_pb2.SolverParameter())
    assert raw.HasField("solver_type")
    solver, notes = upgrade_solver(raw)
    assert solver.type == "SGD" and not solver.HasField("solver_type") and notes
    assert read_solver(path).param.type == "SGD"
    both = caffe_pb2.SolverParameter(type="Adam", solver_type=caffe_pb2.SolverParameter.ADAM)
    with pytest.raises(UpgradeError, match="cannot be both specified"):
        upgrade_solver(both)


def test_batchnorm_legacy_param_specs() -> None:
    text = 'layer { name: "bn" type: "BatchNorm" param { lr_mult: 1 } param { lr_mult: 1 } param { lr_mult: 1 } }'
    net, notes = upgrade_net(text_format.Parse(text, caffe_pb2.NetParameter()))
    assert [(p.lr_mult, p.decay_mult) for p in net.layer[0].param] == [(0, 0)] * 3 and notes


@pytest.mark.parametrize(("test", "given", "wanted"), [
    ("PaddingLayerUpgradeTest.TestSimple", "input_proto", "expected_output_proto"),
    ("PaddingLayerUpgradeTest.TestTwoTops", "input_proto", "expected_output_proto"),
    ("PaddingLayerUpgradeTest.TestImageNet", "input_proto", "expected_output_proto"),
    ("NetUpgradeTest.TestSimple", "v0_proto", "expected_v1_proto"),
    ("NetUpgradeTest.TestAllParams", "input_proto", "expected_output_proto"),
    ("NetUpgradeTest.TestImageNet", "v0_proto", "expected_v1_proto"),
    ("NetUpgradeTest.TestSimple", "expected_v1_proto", "expected_v2_proto"),
    ("NetUpgradeTest.TestImageNet", "expected_v1_proto", "expected_v2_proto"),
])
def test_caffes_own_upgrade_tests(test: str, given: str, wanted: str) -> None:
    """The input/expected pairs of Caffe's test_upgrade_proto.cpp through the function of the same name."""
    net, expected = parse(CAFFE_TESTS / f"{test}.{given}.prototxt"), parse(CAFFE_TESTS / f"{test}.{wanted}.prototxt")
    if test.startswith("Padding"):  # UpgradeV0PaddingLayers, and applied again it changes nothing
        got = upgrade_v0_padding_layers(net)
        assert got == expected and upgrade_v0_padding_layers(got) == got
    elif given.startswith("expected_v1"):  # UpgradeV1Net
        assert upgrade_v1_net(net) == expected
    else:  # UpgradeV0Net
        assert upgrade_v0_net(net)[0] == expected


def test_every_v1_layer_type_upgrades_to_a_layer_caffecx_knows() -> None:
    """Caffe's TestUpgradeV1LayerType: every V1 type but NONE names a registered V2 type."""
    for name, number in caffe_pb2.V1LayerParameter.LayerType.items():
        upgraded = upgrade_v1_layer(caffe_pb2.V1LayerParameter(type=number)).type
        assert (upgraded == "") if name == "NONE" else (layer_class(upgraded) is not None), name


@pytest.mark.parametrize(("old", "new"), [("SGD", "SGD"), ("ADAGRAD", "AdaGrad"), ("NESTEROV", "Nesterov"),
                                          ("RMSPROP", "RMSProp"), ("ADADELTA", "AdaDelta"), ("ADAM", "Adam")])
def test_caffes_own_solver_type_test(old: str, new: str) -> None:
    """Caffe's SolverTypeUpgradeTest.TestSimple: the solver_type enum becomes the type string, nothing else moves."""
    common = ("net: 'examples/mnist/lenet_train_test.prototxt' weights: 'examples/mnist/lenet_train_test1.caffemodel' "
              "weights: 'examples/mnist/lenet_train_test2.caffemodel' test_iter: 100 test_interval: 500 base_lr: 0.01 "
              "momentum: 0.0 weight_decay: 0.0005 lr_policy: 'inv' gamma: 0.0001 power: 0.75 display: 100 "
              "max_iter: 10000 snapshot: 5000 snapshot_prefix: 'examples/mnist/lenet_rmsprop' solver_mode: GPU ")
    given = text_format.Parse(common + f"solver_type: {old} ", caffe_pb2.SolverParameter())
    expected = text_format.Parse(common + f"type: '{new}' ", caffe_pb2.SolverParameter())
    assert upgrade_solver(given)[0] == expected
