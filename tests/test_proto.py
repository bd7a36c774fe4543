"""The protobuf schema: generated module freshness, field numbers against real Caffe binaries,
full coverage of the real prototxt corpus, and Caffe's defaults."""

from __future__ import annotations

import importlib.util
import math
import subprocess
import sys
from pathlib import Path
from types import ModuleType

import numpy as np
import pytest
from google.protobuf import descriptor_pool, text_format
from google.protobuf.message import Message
from google.protobuf.unknown_fields import UnknownFieldSet
from paths import CORPUS, LENET, NETS, SHARED, files

from caffecx.proto import caffe_pb2

REPO = Path(__file__).resolve().parents[1]
PROTOTXT_FILES = files(CORPUS / "prototxt", ".prototxt") + files(SHARED / "fixtures", ".prototxt")
NET_MODELS = files(NETS, ".caffemodel")


def _gen_proto() -> ModuleType:
    """scripts/gen_proto.py, loaded by path (scripts/ is not a package)."""
    spec = importlib.util.spec_from_file_location("gen_proto", REPO / "scripts" / "gen_proto.py")
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def unknown_fields(message: Message, path: str = "") -> list[str]:
    """Paths of every sub-message carrying fields the schema does not know (binary input)."""
    found = (
        [f"{path or '<root>'}: {[u.field_number for u in UnknownFieldSet(message)]}"]
        if len(UnknownFieldSet(message))
        else []
    )
    for field, value in message.ListFields():
        if field.message_type is None:
            continue
        for i, item in enumerate(value if field.is_repeated else [value]):
            found += unknown_fields(item, f"{path}.{field.name}[{i}]")
    return found


def parse_prototxt(path: Path) -> Message:
    """A prototxt as a SolverParameter if it has solver fields, else as a NetParameter.

    text_format.Parse rejects unknown field names, so parsing at all proves coverage."""
    text = path.read_text(encoding="utf-8")
    solver = caffe_pb2.SolverParameter()
    try:
        text_format.Parse(text, solver)
    except text_format.ParseError:
        pass
    else:
        if solver.ListFields():
            return solver
    net = caffe_pb2.NetParameter()
    text_format.Parse(text, net)
    return net


def blob_shape(blob: caffe_pb2.BlobProto) -> tuple[int, ...]:
    """A blob's shape, from the legacy 4-d fields if set, else `shape` (empty for a scalar)."""
    if any(blob.HasField(f) for f in ("num", "channels", "height", "width")):
        return (blob.num, blob.channels, blob.height, blob.width)
    return tuple(blob.shape.dim)


# ---- (a) the committed module is what protoc makes of caffe.proto ----------------------


def test_generated_module_is_fresh() -> None:
    pytest.importorskip("grpc_tools")
    assert _gen_proto().check() == []


def test_imported_module_embeds_the_committed_schema() -> None:
    gen = _gen_proto()
    source = (REPO / "caffecx" / "proto" / "caffe_pb2.py").read_text(encoding="utf-8")
    embedded = descriptor_pool.DescriptorPool().AddSerializedFile(gen.serialized_descriptor(source))
    assert embedded.serialized_pb == caffe_pb2.DESCRIPTOR.serialized_pb
    assert gen.runtime_problem(source) is None
    assert caffe_pb2.DESCRIPTOR.package == "caffe" and caffe_pb2.DESCRIPTOR.name == "caffe.proto"


def test_check_flags_a_changed_schema_but_not_another_protoc(tmp_path: Path) -> None:
    pytest.importorskip("grpc_tools")
    gen = _gen_proto()
    for name in ("caffe.proto", "caffe_pb2.py", "caffe_pb2.pyi"):
        (tmp_path / name).write_bytes((REPO / "caffecx" / "proto" / name).read_bytes())
    gen.PROTO_DIR, gen.PROTO = tmp_path, tmp_path / "caffe.proto"
    assert gen.check() == []
    module = tmp_path / "caffe_pb2.py"
    module.write_text(module.read_text().replace("Protobuf Python Version: ", "Protobuf Python Version: 0"))
    assert gen.check() == []  # other protoc release, same schema
    with gen.PROTO.open("a") as proto:
        proto.write("\nmessage AddedLater { optional int32 x = 1; }\n")
    assert gen.check() and "stale" in gen.check()[0]


def test_check_command_exits_zero() -> None:
    pytest.importorskip("grpc_tools")
    result = subprocess.run(
        [sys.executable, str(REPO / "scripts" / "gen_proto.py"), "--check"], capture_output=True, text=True
    )
    assert result.returncode == 0, result.stderr


# ---- (b) field numbers against binaries written by a real Caffe -------------------------


def test_lenet_caffemodel_decodes_with_real_values() -> None:
    net = caffe_pb2.NetParameter()
    net.ParseFromString((LENET / "lenet_iter_1000.caffemodel").read_bytes())
    assert unknown_fields(net) == []
    assert net.name == "LeNet"
    assert [layer.name for layer in net.layer] == [
        "mnist",
        "conv1",
        "pool1",
        "conv2",
        "pool2",
        "ip1",
        "relu1",
        "ip2",
        "loss",
    ]
    shapes = {layer.name: [blob_shape(b) for b in layer.blobs] for layer in net.layer if layer.blobs}
    assert shapes == {
        "conv1": [(20, 1, 5, 5), (20,)],
        "conv2": [(50, 20, 5, 5), (50,)],
        "ip1": [(500, 800), (500,)],
        "ip2": [(10, 500), (10,)],
    }
    for layer in net.layer:
        for blob in layer.blobs:
            assert len(blob.data) == math.prod(blob_shape(blob))
            assert all(math.isfinite(v) for v in blob.data)
    conv1 = net.layer[1]
    assert conv1.type == "Convolution"
    assert conv1.convolution_param.num_output == 20
    assert list(conv1.convolution_param.kernel_size) == [5]
    assert conv1.convolution_param.weight_filler.type == "xavier"
    assert net.layer[2].pooling_param.pool == caffe_pb2.PoolingParameter.MAX
    assert net.layer[0].data_param.batch_size == 64
    assert net.layer[0].data_param.backend == caffe_pb2.DataParameter.LMDB
    assert net.layer[0].transform_param.scale == pytest.approx(1 / 256)
    assert net.layer[0].include[0].phase == caffe_pb2.TRAIN


@pytest.mark.parametrize("model", NET_MODELS, ids=lambda p: p.name)
def test_net_caffemodels_match_the_npz_parameters(model: Path) -> None:
    net = caffe_pb2.NetParameter()
    net.ParseFromString(model.read_bytes())
    assert unknown_fields(net) == []
    params = np.load(model.with_suffix(".npz"))
    expected = {k for k in params.files if k.startswith("param/")}
    seen = set()
    for layer in net.layer:
        for i, blob in enumerate(layer.blobs):
            key = f"param/{layer.name}/{i}"
            seen.add(key)
            array = params[key]
            assert blob_shape(blob) == array.shape, key
            np.testing.assert_array_equal(np.asarray(blob.data, dtype=np.float32), array.reshape(-1))
    assert seen == expected


def test_bvlc_layer_params_decode_from_binary() -> None:
    layers = {}
    for name in ("layers_1", "layers_2"):
        net = caffe_pb2.NetParameter()
        net.ParseFromString((NETS / f"{name}.caffemodel").read_bytes())
        layers.update({layer.name: layer for layer in net.layer})
    clip = layers["relu6"].clip_param  # field 148, Caffe 1.0's newest
    assert (clip.min, pytest.approx(clip.max)) == (0.0, 0.6)
    lrn = layers["lrn"].lrn_param
    assert (lrn.local_size, lrn.alpha, lrn.beta, lrn.k) == (3, pytest.approx(0.01), 0.5, 2.0)
    assert layers["conv2"].convolution_param.group == 2
    assert layers["red2"].reduction_param.operation == caffe_pb2.ReductionParameter.MEAN
    assert layers["tile"].tile_param.tiles == 3
    assert layers["elu"].elu_param.alpha == pytest.approx(1.3)
    assert layers["prelu"].prelu_param.channel_shared is True
    assert layers["ip_t"].inner_product_param.transpose is True


# ---- (c) every real prototxt parses with no unknown field -------------------------------


@pytest.mark.parametrize("path", PROTOTXT_FILES, ids=lambda p: p.name)
def test_prototxt_parses_completely(path: Path) -> None:
    message = parse_prototxt(path)
    if isinstance(message, caffe_pb2.NetParameter):
        assert message.layer or message.layers, path.name
    # Binary round trip keeps everything (fork field numbers included).
    again = type(message)()
    again.ParseFromString(message.SerializeToString())
    assert again == message


def test_corpus_is_walked() -> None:
    names = {p.name for p in PROTOTXT_FILES}
    assert len(PROTOTXT_FILES) >= 45
    assert {
        "mobilenet_ssd__train.prototxt",
        "faster_rcnn_zf__train.prototxt",
        "lenet_solver.prototxt",
    } <= names


def test_solvers_are_recognised_by_their_fields() -> None:
    solvers = {p.name: parse_prototxt(p) for p in PROTOTXT_FILES}
    solvers = {k: v for k, v in solvers.items() if isinstance(v, caffe_pb2.SolverParameter)}
    inline = {k for k, v in solvers.items() if v.HasField("net_param")}
    assert inline == {
        "caffenet-benchmark__SqueezeNet128_new__train_val.prototxt",
        "caffenet-benchmark__caffenet128_lsuv_bs1024__train_val.prototxt",
        "caffenet-benchmark__resnetbn_56_lsuv__train_val.prototxt",
    }
    for name in inline:
        assert solvers[name].net_param.layer
    assert {
        "bvlc_alexnet__solver.prototxt",
        "lenet_solver.prototxt",
        "mnist__lenet_solver_adam.prototxt",
    } <= set(solvers)
    assert any(s.HasField("solver_type") for s in solvers.values())  # the deprecated enum form


def test_fork_fields_parse_to_the_right_messages() -> None:
    ssd = parse_prototxt(CORPUS / "prototxt" / "mobilenet_ssd__train.prototxt")
    data = ssd.layer[0]
    assert data.type == "AnnotatedData"
    assert data.transform_param.resize_param.height == 300
    assert list(data.transform_param.resize_param.interp_mode)[:2] == [
        caffe_pb2.ResizeParameter.LINEAR,
        caffe_pb2.ResizeParameter.AREA,
    ]
    assert data.transform_param.expand_param.max_expand_ratio == 4.0
    assert data.transform_param.distort_param.brightness_delta == 32.0
    assert len(data.annotated_data_param.batch_sampler) >= 6
    loss = next(layer for layer in ssd.layer if layer.type == "MultiBoxLoss")
    assert loss.multibox_loss_param.code_type == caffe_pb2.PriorBoxParameter.CENTER_SIZE
    assert loss.multibox_loss_param.mining_type == caffe_pb2.MultiBoxLossParameter.MAX_NEGATIVE
    deploy = parse_prototxt(CORPUS / "prototxt" / "mobilenet_ssd__deploy.prototxt")
    out = next(layer for layer in deploy.layer if layer.type == "DetectionOutput")
    assert out.detection_output_param.nms_param.nms_threshold == pytest.approx(0.45)
    assert out.detection_output_param.keep_top_k == 100
    prior = next(layer for layer in deploy.layer if layer.type == "PriorBox")
    assert list(prior.prior_box_param.variance) == pytest.approx([0.1, 0.1, 0.2, 0.2])

    rcnn = parse_prototxt(CORPUS / "prototxt" / "faster_rcnn_zf__train.prototxt")
    roi = next(layer for layer in rcnn.layer if layer.type == "ROIPooling").roi_pooling_param
    assert roi.pooled_h > 0 and 0 < roi.spatial_scale < 1
    assert (
        next(layer for layer in rcnn.layer if layer.type == "SmoothL1Loss").smooth_l1_loss_param.sigma == 3.0
    )


def test_legacy_formats_parse_into_v1_and_v0_messages() -> None:
    v0 = parse_prototxt(CORPUS / "prototxt" / "lenet__train_v0_2014.prototxt")
    assert v0.layers and all(layer.HasField("layer") for layer in v0.layers)
    assert any(layer.layer.type == "conv" and layer.layer.kernelsize == 5 for layer in v0.layers)
    v1 = parse_prototxt(CORPUS / "prototxt" / "caffenet__train_v1_2014.prototxt")
    assert any(layer.type == caffe_pb2.V1LayerParameter.CONVOLUTION for layer in v1.layers)
    assert any(layer.blobs_lr for layer in v1.layers)


# ---- field numbers and defaults -------------------------------------------------------

BVLC_LAYER_PARAM_NUMBERS = {
    "name": 1,
    "type": 2,
    "bottom": 3,
    "top": 4,
    "loss_weight": 5,
    "param": 6,
    "blobs": 7,
    "include": 8,
    "exclude": 9,
    "phase": 10,
    "propagate_down": 11,
    "transform_param": 100,
    "loss_param": 101,
    "accuracy_param": 102,
    "argmax_param": 103,
    "concat_param": 104,
    "contrastive_loss_param": 105,
    "convolution_param": 106,
    "data_param": 107,
    "dropout_param": 108,
    "dummy_data_param": 109,
    "eltwise_param": 110,
    "exp_param": 111,
    "hdf5_data_param": 112,
    "hdf5_output_param": 113,
    "hinge_loss_param": 114,
    "image_data_param": 115,
    "infogain_loss_param": 116,
    "inner_product_param": 117,
    "lrn_param": 118,
    "memory_data_param": 119,
    "mvn_param": 120,
    "pooling_param": 121,
    "power_param": 122,
    "relu_param": 123,
    "sigmoid_param": 124,
    "softmax_param": 125,
    "slice_param": 126,
    "tanh_param": 127,
    "threshold_param": 128,
    "window_data_param": 129,
    "python_param": 130,
    "prelu_param": 131,
    "spp_param": 132,
    "reshape_param": 133,
    "log_param": 134,
    "flatten_param": 135,
    "reduction_param": 136,
    "embed_param": 137,
    "tile_param": 138,
    "batch_norm_param": 139,
    "elu_param": 140,
    "bias_param": 141,
    "scale_param": 142,
    "input_param": 143,
    "crop_param": 144,
    "parameter_param": 145,
    "recurrent_param": 146,
    "swish_param": 147,
    "clip_param": 148,
}
FORK_LAYER_PARAM_NUMBERS = {
    "annotated_data_param": 200,
    "multibox_loss_param": 201,
    "permute_param": 202,
    "prior_box_param": 203,
    "detection_output_param": 204,
    "detection_evaluate_param": 205,
    "norm_param": 206,
    "video_data_param": 207,
    "roi_pooling_param": 8266711,
    "smooth_l1_loss_param": 8266712,
    "upsample_param": 149,
    "interp_param": 163,
    "shuffle_channel_param": 164,
}


def test_layer_parameter_field_numbers() -> None:
    numbers = {f.name: f.number for f in caffe_pb2.LayerParameter.DESCRIPTOR.fields}
    assert numbers == BVLC_LAYER_PARAM_NUMBERS | FORK_LAYER_PARAM_NUMBERS


def test_legacy_field_numbers() -> None:
    v1 = {f.name: f.number for f in caffe_pb2.V1LayerParameter.DESCRIPTOR.fields}
    assert (v1["layer"], v1["name"], v1["type"], v1["blobs_lr"], v1["weight_decay"]) == (1, 4, 5, 7, 8)
    assert (v1["param"], v1["blob_share_mode"], v1["loss_param"], v1["transform_param"]) == (
        1001,
        1002,
        42,
        36,
    )
    assert caffe_pb2.V1LayerParameter.DECONVOLUTION == 39 and caffe_pb2.V1LayerParameter.SOFTMAX_LOSS == 21
    v0 = {f.name: f.number for f in caffe_pb2.V0LayerParameter.DESCRIPTOR.fields}
    assert (v0["pad"], v0["kernelsize"], v0["meanfile"], v0["k"], v0["det_crop_mode"]) == (7, 8, 18, 22, 59)
    assert (v0["blobs"], v0["concat_dim"], v0["hdf5_output_param"]) == (50, 65, 1001)
    solver = {f.name: f.number for f in caffe_pb2.SolverParameter.DESCRIPTOR.fields}
    assert (solver["solver_type"], solver["type"], solver["net_param"], solver["weights"]) == (30, 40, 25, 42)
    blob = caffe_pb2.BlobProto.DESCRIPTOR.fields_by_name
    assert blob["data"].number == 5 and blob["shape"].number == 7 and blob["data"].is_packed
    assert caffe_pb2.BlobShape.DESCRIPTOR.fields_by_name["dim"].is_packed


def test_defaults() -> None:
    conv = caffe_pb2.ConvolutionParameter()
    assert conv.bias_term is True and conv.group == 1 and conv.axis == 1
    pool = caffe_pb2.PoolingParameter()
    assert pool.round_mode == caffe_pb2.PoolingParameter.CEIL and pool.stride == 1 and pool.pad == 0
    lrn = caffe_pb2.LRNParameter()
    assert (lrn.local_size, lrn.alpha, lrn.beta, lrn.k) == (5, 1.0, 0.75, 1.0)
    assert lrn.norm_region == caffe_pb2.LRNParameter.ACROSS_CHANNELS
    solver = caffe_pb2.SolverParameter()
    assert (solver.type, solver.solver_type, solver.solver_mode) == ("SGD", 0, caffe_pb2.SolverParameter.GPU)
    assert (solver.regularization_type, solver.average_loss, solver.iter_size) == ("L2", 1, 1)
    assert (solver.random_seed, solver.clip_gradients, solver.test_initialization) == (-1, -1.0, True)
    assert solver.momentum2 == pytest.approx(0.999) and solver.rms_decay == pytest.approx(0.99)
    assert solver.delta == pytest.approx(1e-8) and solver.snapshot_after_train is True
    assert solver.snapshot_format == caffe_pb2.SolverParameter.BINARYPROTO
    assert caffe_pb2.NetState().phase == caffe_pb2.TEST
    assert caffe_pb2.FillerParameter().type == "constant" and caffe_pb2.FillerParameter().std == 1.0
    assert caffe_pb2.BatchNormParameter().eps == pytest.approx(1e-5)
    assert caffe_pb2.BatchNormParameter().moving_average_fraction == pytest.approx(0.999)
    assert caffe_pb2.DropoutParameter().dropout_ratio == 0.5
    assert caffe_pb2.LossParameter().normalization == caffe_pb2.LossParameter.VALID
    assert caffe_pb2.ParamSpec().lr_mult == 1.0 and caffe_pb2.ParamSpec().decay_mult == 1.0
    assert caffe_pb2.CropParameter().axis == 2 and caffe_pb2.FlattenParameter().end_axis == -1
    assert caffe_pb2.ReshapeParameter().num_axes == -1 and caffe_pb2.ImageDataParameter().batch_size == 1
    assert caffe_pb2.WindowDataParameter().crop_mode == "warp"
    assert caffe_pb2.V0LayerParameter().biasterm is True
    assert caffe_pb2.PriorBoxParameter().offset == 0.5 and caffe_pb2.PriorBoxParameter().clip is False
    assert caffe_pb2.DetectionOutputParameter().keep_top_k == -1
    assert caffe_pb2.ROIPoolingParameter().spatial_scale == 1.0
    assert caffe_pb2.UpsampleParameter().scale == 2
    assert caffe_pb2.ShuffleChannelParameter().group == 1


def test_clip_bounds_are_required_as_in_caffe() -> None:
    clip = caffe_pb2.ClipParameter(min=0.0)
    assert not clip.IsInitialized()
    clip.max = 6.0
    assert clip.IsInitialized()
