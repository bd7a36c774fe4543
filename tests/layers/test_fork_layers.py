"""Fork layers: ROIPooling (py-faster-rcnn), Upsample (SegNet / YOLO), Interp (PSPNet)."""

from __future__ import annotations

import pytest
from google.protobuf import text_format

from caffecx.errors import ShapeError
from caffecx.layers import GLOBAL, Context, Counts, Window, layer_class
from caffecx.proto import caffe_pb2


def make(type_: str, field: str, params: str):  # noqa: ANN201
    text = f'name: "x" type: "{type_}" top: "y" {field} {{ {params} }}'
    lp = text_format.Parse(text, caffe_pb2.LayerParameter())
    return layer_class(lp.type)(lp)


def test_roi_pooling_vgg16_head() -> None:
    r = make("ROIPooling", "roi_pooling_param", "pooled_w: 7 pooled_h: 7 spatial_scale: 0.0625")
    assert r.setup([(1, 512, 38, 50), (300, 5)], Context()) == [(300, 512, 7, 7)]
    assert r.counts([(1, 512, 38, 50), (300, 5)], [(300, 512, 7, 7)]) == Counts(0, 300 * 512 * 38 * 50)
    assert r.window([(1, 512, 38, 50), (300, 5)]) == GLOBAL
    with pytest.raises(ShapeError, match="pooled_h must be > 0"):
        make("ROIPooling", "roi_pooling_param", "pooled_w: 7").setup([(1, 8, 4, 4), (3, 5)], Context())


def upsample(params: str):  # noqa: ANN201
    return make("Upsample", "upsample_param", params)


def test_segnet_unpooling_with_mask() -> None:
    u = upsample("scale: 2")
    assert u.setup([(2, 64, 15, 20), (2, 64, 15, 20)], Context()) == [(2, 64, 30, 40)]
    assert upsample("scale: 2 pad_out_h: true").setup([(2, 64, 15, 20)] * 2, Context()) == [(2, 64, 29, 40)]
    assert upsample("upsample_h: 45 upsample_w: 60").setup([(2, 64, 23, 30)] * 2, Context()) == [
        (2, 64, 45, 60)
    ]
    assert u.window([(2, 64, 15, 20)] * 2) == Window((1, 1), (2, 2), (0, 0), (1, 1), transposed=True)


def test_segnet_checks() -> None:
    with pytest.raises(ShapeError, match="requires scale_h == 2"):
        upsample("scale: 3 pad_out_h: true").setup([(1, 4, 5, 5)] * 2, Context())
    with pytest.raises(ShapeError, match="differs from the input shape"):
        upsample("scale: 2").setup([(1, 4, 5, 5), (1, 4, 5, 6)], Context())


def test_yolo_nearest_upsample_with_one_bottom() -> None:
    assert upsample("scale: 2").setup([(1, 256, 13, 13)], Context()) == [(1, 256, 26, 26)]


def interp(params: str):  # noqa: ANN201
    return make("Interp", "interp_param", params)


def test_pspnet_zoom_and_shrink() -> None:
    # PSPNet-473: the 60x60 feature map is zoomed by 8 back to 473 = 60 + 59*7
    z = interp("zoom_factor: 8")
    assert z.setup([(1, 150, 60, 60)], Context()) == [(1, 150, 473, 473)]
    assert z.counts([(1, 150, 60, 60)], [(1, 150, 473, 473)]) == Counts(0, 9 * 150 * 473 * 473)
    assert z.window([(1, 150, 60, 60)]) == Window((9, 9), (8, 8), (0, 0), (1, 1), transposed=True)
    assert interp("shrink_factor: 8").setup([(1, 3, 473, 473)], Context()) == [(1, 3, 60, 60)]
    assert interp("height: 60 width: 60").setup([(1, 512, 1, 1)], Context()) == [(1, 512, 60, 60)]


def test_interp_shrink_then_zoom_and_cropping_pads() -> None:
    assert interp("shrink_factor: 2 zoom_factor: 2").setup([(1, 1, 64, 64)], Context()) == [(1, 1, 63, 63)]
    # pad_beg/pad_end crop: effective 10-2 = 8, zoom 2 -> 15
    assert interp("zoom_factor: 2 pad_beg: -1 pad_end: -1").setup([(1, 1, 10, 10)], Context()) == [
        (1, 1, 15, 15)
    ]


def test_interp_checks() -> None:
    with pytest.raises(ShapeError, match="non-pos padding"):
        interp("zoom_factor: 2 pad_beg: 1").setup([(1, 1, 10, 10)], Context())
    with pytest.raises(ShapeError, match="needs shrink_factor, zoom_factor, or height and width"):
        interp("height: 5").setup([(1, 1, 10, 10)], Context())
    with pytest.raises(ShapeError, match="Zoom factor must be positive"):
        interp("zoom_factor: 0").setup([(1, 1, 10, 10)], Context())
