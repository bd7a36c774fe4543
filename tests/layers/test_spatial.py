"""Spatial helpers, and every spatial/linear layer replayed against real Caffe logs and caffemodels.

The replay walks each fixture log in order (``Creating Layer``, ``x <- blob``, ``x -> blob``,
``Top shape:``), feeds each layer of ours the bottom shapes Caffe had and compares the tops Caffe
printed; the caffemodels' blob shapes are compared with ``param_shapes``.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from google.protobuf import text_format
from paths import LENET, NETS

from caffecx.errors import ShapeError
from caffecx.layers import Context, layer_class
from caffecx.layers.spatial import c_div, conv_out, deconv_out, pool_out, spatial_out
from caffecx.layers.spp import spp_level
from caffecx.proto import caffe_pb2

MINE = {"Convolution", "Deconvolution", "Pooling", "SPP", "InnerProduct", "LRN", "Crop", "Embed", "Im2col"}


def log_layers(log: Path) -> list[tuple[str, list[str], list[tuple[int, ...]], list[str]]]:
    """(layer, bottoms, top shapes, tops) for every layer set up in a Caffe log, in order."""
    out: list[tuple[str, list[str], list[tuple[int, ...]], list[str]]] = []
    for line in log.read_text().splitlines():
        if m := re.search(r"\] Creating Layer (\S+)$", line):
            out.append((m.group(1), [], [], []))
        elif m := re.search(r"\] (\S+) <- (\S+)$", line):
            out[-1][1].append(m.group(2))
        elif m := re.search(r"\] (\S+) -> (\S+)", line):
            out[-1][3].append(m.group(2))
        elif m := re.search(r"\] Top shape: ([\d ]*)\(", line):
            out[-1][2].append(tuple(int(d) for d in m.group(1).split()))
    return out


def net_layers(prototxt: Path) -> dict[str, caffe_pb2.LayerParameter]:
    net = text_format.Parse(prototxt.read_text(), caffe_pb2.NetParameter())
    return {lp.name: lp for lp in net.layer}


def replay(prototxt: Path, log: Path) -> list[str]:
    """Check every layer of ours against the log; returns the names of the layers checked."""
    params = net_layers(prototxt)
    shapes: dict[str, tuple[int, ...]] = {}
    checked = []
    for name, bottoms, tops, top_names in log_layers(log):
        lp = params.get(name)
        if lp is not None and lp.type in MINE:
            impl = layer_class(lp.type)(lp)
            got = impl.setup([shapes[b] for b in bottoms], Context())
            assert got == tops, f"{name}: ours {got}, Caffe {tops}"
            impl.counts([shapes[b] for b in bottoms], got)
            impl.window([shapes[b] for b in bottoms])
            checked.append(name)
        shapes.update(zip(top_names, tops, strict=True))
    return checked


def blob_shape(b: caffe_pb2.BlobProto) -> tuple[int, ...]:
    if b.HasField("shape"):
        return tuple(b.shape.dim)
    return (b.num, b.channels, b.height, b.width)


def weights_match(prototxt: Path, log: Path, caffemodel: Path) -> list[str]:
    """Compare param_shapes with the caffemodel's blobs for every layer of ours; returns those compared."""
    params = net_layers(prototxt)
    model = caffe_pb2.NetParameter()
    model.ParseFromString(caffemodel.read_bytes())
    stored = {lp.name: [blob_shape(b) for b in lp.blobs] for lp in model.layer}
    shapes: dict[str, tuple[int, ...]] = {}
    compared = []
    for name, bottoms, tops, top_names in log_layers(log):
        lp = params.get(name)
        if lp is not None and lp.type in MINE and name in stored:
            ours = [b.shape for b in layer_class(lp.type)(lp).param_shapes([shapes[b] for b in bottoms])]
            assert ours == stored[name], f"{name}: ours {ours}, caffemodel {stored[name]}"
            compared.append(name)
        shapes.update(zip(top_names, tops, strict=True))
    return compared


# -- the real Caffe ground truth --------------------------------------------------------------------


def test_layers_1_tops_match_caffe() -> None:
    checked = replay(NETS / "layers_1.prototxt", NETS / "layers_1.log")
    assert checked == ["conv1", "pool1", "pool1b", "conv2", "lrn", "deconv", "ip"]


def test_layers_2_tops_match_caffe() -> None:
    checked = replay(NETS / "layers_2.prototxt", NETS / "layers_2.log")
    assert checked == ["crop", "spp", "ip", "ip_t"]


def test_layers_3_v1_tops_match_caffe() -> None:
    checked = replay(NETS / "layers_3_v1.upgraded.prototxt", NETS / "layers_3_v1.log")
    assert checked == ["conv1", "pool1", "norm", "ip1"]


def test_lenet_train_and_test_tops_match_caffe() -> None:
    checked = replay(LENET / "lenet_train_test.prototxt", LENET / "lenet_train.log")
    # TRAIN net then TEST net, each with conv1 pool1 conv2 pool2 ip1 ip2
    assert checked == ["conv1", "pool1", "conv2", "pool2", "ip1", "ip2"] * 2


@pytest.mark.parametrize(
    ("prototxt", "log", "model", "expected"),
    [
        ("layers_1.prototxt", "layers_1.log", "layers_1.caffemodel", ["conv1", "conv2", "deconv", "ip"]),
        ("layers_2.prototxt", "layers_2.log", "layers_2.caffemodel", ["ip", "ip_t"]),
        ("layers_3_v1.upgraded.prototxt", "layers_3_v1.log", "layers_3_v1.caffemodel", ["conv1", "ip1"]),
    ],
)
def test_param_shapes_match_caffemodel(prototxt: str, log: str, model: str, expected: list[str]) -> None:
    compared = weights_match(NETS / prototxt, NETS / log, NETS / model)
    # layers without blobs (pooling, LRN, ...) are compared too: both sides empty
    assert [n for n in compared if n in expected] == expected


def test_lenet_param_shapes_match_trained_caffemodel() -> None:
    compared = weights_match(
        LENET / "lenet_train_test.prototxt", LENET / "lenet_train.log", LENET / "lenet_iter_1000.caffemodel"
    )
    assert {"conv1", "conv2", "ip1", "ip2"} <= set(compared)


# -- helpers, hand-worked -----------------------------------------------------------------------------


def test_c_div_truncates_toward_zero_like_cpp() -> None:
    assert c_div(7, 2) == 3
    assert c_div(-1, 2) == 0  # Python's -1 // 2 == -1
    assert c_div(-3, 2) == -1
    assert c_div(-4, 2) == -2


def test_conv_out_matches_caffe_integer_division() -> None:
    assert conv_out(224, 7, 2, 3) == 112  # ResNet conv1
    assert conv_out(227, 11, 4, 0) == 55  # AlexNet conv1
    assert conv_out(20, 3, 1, 1) == 20
    assert conv_out(18, 5, 2, 2) == 9
    assert conv_out(2, 3, 2, 0) == 1  # (2-3)/2 truncates to 0 in C++; floor division would give 0 outputs
    assert conv_out(32, 3, 1, 2, dilation=2) == 32  # extent 5
    assert conv_out(32, 3, 1, 0, dilation=4) == 24  # extent 9


def test_deconv_out() -> None:
    assert deconv_out(10, 2, 2, 0) == 20
    assert deconv_out(5, 4, 2, 1) == 10  # the FCN-style 2x upsampling
    assert deconv_out(7, 3, 1, 1, dilation=2) == 9


def test_pool_out_ceil_and_floor() -> None:
    assert pool_out(112, 3, 2, 0) == 56  # GoogLeNet: ceil((112-3)/2)+1 = 56; floor gives 55
    assert pool_out(112, 3, 2, 0, ceil_mode=False) == 55
    assert pool_out(14, 3, 2, 0) == 7
    assert pool_out(9, 4, 2, 1) == 5


def test_spatial_out_rejects_a_negative_size() -> None:
    from caffecx.layers.spatial import Geometry

    def check(cond: bool, msg: str) -> None:
        if not cond:
            raise ShapeError(msg)

    geo = Geometry((5,), (1,), (0,), (1,))
    with pytest.raises(ShapeError, match="negative"):
        spatial_out((2,), geo, check)  # (2-5)/1+1 = -2
    assert spatial_out((3,), Geometry((5,), (2,), (0,), (1,)), check) == (0,)  # -2/2+1: a 0-size blob


def test_spp_level_kernel_and_pad() -> None:
    assert spp_level(12, 1) == (12, 0)
    assert spp_level(12, 2) == (6, 0)
    assert spp_level(13, 4) == (4, 2)  # 4*4-13 = 3 -> pad (3+1)//2
    assert spp_level(5, 4) == (2, 2)  # pad == kernel: Caffe's pooling CHECK then fails
