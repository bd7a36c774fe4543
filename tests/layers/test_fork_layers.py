"""Fork layers: ROIPooling (py-faster-rcnn), Upsample (SegNet / YOLO), Interp (PSPNet)."""

from __future__ import annotations

import math

import numpy as np
import pytest
from google.protobuf import text_format
from layerkit import run

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


# -- forward -------------------------------------------------------------------------------------------

def roi_text(ph: int, pw: int, scale: float) -> str:
    return (f'name: "r" type: "ROIPooling" bottom: "f" bottom: "rois" top: "y" '
            f"roi_pooling_param {{ pooled_h: {ph} pooled_w: {pw} spatial_scale: {scale} }}")


def c_round(v: float) -> int:
    return int(math.copysign(math.floor(abs(v) + 0.5), v))


def roi_reference(x: np.ndarray, rois: np.ndarray, ph: int, pw: int, scale: float) -> np.ndarray:
    """The fork's loops, bin by bin and pixel by pixel."""
    _, c, h, w = x.shape
    out = np.zeros((len(rois), c, ph, pw))
    for r, (b, x1, y1, x2, y2) in enumerate(rois):
        sw, sh, ew, eh = (c_round(v * scale) for v in (x1, y1, x2, y2))
        bh, bw = max(eh - sh + 1, 1) / ph, max(ew - sw + 1, 1) / pw
        for i in range(ph):
            for j in range(pw):
                hs = min(max(math.floor(i * bh) + sh, 0), h)
                he = min(max(math.ceil((i + 1) * bh) + sh, 0), h)
                ws = min(max(math.floor(j * bw) + sw, 0), w)
                we = min(max(math.ceil((j + 1) * bw) + sw, 0), w)
                if he > hs and we > ws:
                    out[r, :, i, j] = x[int(b), :, hs:he, ws:we].max(axis=(1, 2))
    return out


def test_roi_pooling_by_hand() -> None:
    x = np.arange(36, dtype=np.float64).reshape(1, 1, 6, 6)
    # ROI (0,0)-(3,3): 4x4, 2x2 bins of 2x2 -> the bottom-right value of each
    (y,) = run(roi_text(2, 2, 1.0), x, np.array([[0, 0, 0, 3, 3]]), dtype=np.float64)
    np.testing.assert_array_equal(y[0, 0], [[7, 9], [19, 21]])
    # width 5 in 2 bins: bin 2.5 -> columns [0, 3) and [2, 5) (floor/ceil: they overlap)
    (y,) = run(roi_text(1, 2, 1.0), x, np.array([[0, 1, 0, 5, 0]]), dtype=np.float64)
    np.testing.assert_array_equal(y[0, 0], [[3, 5]])


def test_roi_pooling_rounds_half_away_from_zero() -> None:
    x = np.arange(36, dtype=np.float64).reshape(1, 1, 6, 6)
    # x1 = 3 * 0.5 = 1.5 -> 2 (NumPy's round-half-even would give 2 too); 5 * 0.5 = 2.5 -> 3 (half-even: 2)
    (y,) = run(roi_text(1, 1, 0.5), x, np.array([[0, 5, 5, 5, 5]]), dtype=np.float64)
    assert y.item() == x[0, 0, 3, 3]
    (y,) = run(roi_text(1, 1, 0.5), x, np.array([[0, 3, 3, 3, 3]]), dtype=np.float64)
    assert y.item() == x[0, 0, 2, 2]


def test_roi_pooling_against_the_loops() -> None:
    rng = np.random.default_rng(3)
    x = rng.normal(size=(2, 3, 9, 11)).astype(np.float32)
    rois = np.array([[1, 0, 0, 160, 120], [0, 20, 30, 70, 50], [1, 100, 90, 400, 400], [0, -50, -50, -20, -20],
                     [0, 33, 17, 35, 17], [1, 8, 8, 8, 8]], dtype=np.float32)
    (y,) = run(roi_text(3, 4, 0.0625), x, rois)
    np.testing.assert_array_equal(y, roi_reference(x, rois, 3, 4, 0.0625).astype(np.float32))
    assert np.all(y[3] == 0)  # outside the map: every bin empty -> 0
    with pytest.raises(ShapeError, match="batch index"):
        run(roi_text(1, 1, 1.0), x, np.array([[2, 0, 0, 1, 1]]))


def test_segnet_unpooling_forward() -> None:
    x = np.array([[1.0, 2.0], [3.0, 4.0]]).reshape(1, 1, 2, 2)
    mask = np.array([[0, 3], [9, 14]]).reshape(1, 1, 2, 2)  # flat indices in the 4x4 output
    (y,) = run('name: "u" type: "Upsample" bottom: "x" bottom: "m" top: "y" upsample_param { scale: 2 }', x, mask)
    want = np.zeros(16)
    want[[0, 3, 9, 14]] = [1, 2, 3, 4]
    np.testing.assert_array_equal(y.reshape(-1), want)
    # a repeated index keeps the later value (Caffe's plain loop); the second channel uses its own plane
    x2 = np.arange(1, 9, dtype=np.float64).reshape(1, 2, 2, 2)
    m2 = np.array([5, 5, 6, 7, 0, 1, 2, 3]).reshape(1, 2, 2, 2)
    (y,) = run('name: "u" type: "Upsample" bottom: "x" bottom: "m" top: "y" upsample_param { scale: 2 }', x2, m2)
    assert y[0, 0].reshape(-1)[5] == 2 and y[0, 0].sum() == 2 + 3 + 4
    assert y[0, 1].reshape(-1)[:4].tolist() == [5, 6, 7, 8]
    with pytest.raises(ShapeError, match="out of range"):
        run('name: "u" type: "Upsample" bottom: "x" bottom: "m" top: "y" upsample_param { scale: 2 }', x, mask + 2)


def test_yolo_nearest_upsample_forward() -> None:
    x = np.array([[1.0, 2.0], [3.0, 4.0]], dtype=np.float32).reshape(1, 1, 2, 2)
    (y,) = run('name: "u" type: "Upsample" bottom: "x" top: "y" upsample_param { scale: 2 }', x)
    np.testing.assert_array_equal(y[0, 0], [[1, 1, 2, 2], [1, 1, 2, 2], [3, 3, 4, 4], [3, 3, 4, 4]])


def interp_reference(x: np.ndarray, out: tuple[int, int], crop: int = 0, eff: tuple[int, int] | None = None) -> np.ndarray:
    """Align-corners bilinear, pixel by pixel; positions in float as caffe_cpu_interp2 keeps them."""
    h1, w1 = eff or x.shape[2:]
    src = x[:, :, crop:crop + h1, crop:crop + w1]
    h2, w2 = out
    y = np.zeros((*x.shape[:2], h2, w2))
    for i in range(h2):
        for j in range(w2):
            rh = np.float32(h1 - 1) / np.float32(h2 - 1) if h2 > 1 else np.float32(0)
            rw = np.float32(w1 - 1) / np.float32(w2 - 1) if w2 > 1 else np.float32(0)
            r, c = rh * np.float32(i), rw * np.float32(j)
            i0, j0 = int(r), int(c)
            i1, j1 = min(i0 + 1, h1 - 1), min(j0 + 1, w1 - 1)
            a, b = float(r - np.float32(i0)), float(c - np.float32(j0))
            y[:, :, i, j] = ((1 - a) * ((1 - b) * src[:, :, i0, j0] + b * src[:, :, i0, j1])
                             + a * ((1 - b) * src[:, :, i1, j0] + b * src[:, :, i1, j1]))
    return y


def test_interp_corners_are_exact() -> None:
    x = np.array([[1.0, 2.0], [3.0, 5.0]], dtype=np.float32).reshape(1, 1, 2, 2)
    (y,) = run('name: "i" type: "Interp" bottom: "x" top: "y" interp_param { zoom_factor: 2 }', x)
    np.testing.assert_array_equal(y[0, 0], [[1, 1.5, 2], [2, 2.75, 3.5], [3, 4, 5]])
    rng = np.random.default_rng(4)
    x = rng.normal(size=(2, 3, 5, 7)).astype(np.float32)
    (y,) = run('name: "i" type: "Interp" bottom: "x" top: "y" interp_param { height: 9 width: 4 }', x)
    assert np.array_equal(y[..., [0, -1], :][..., [0, -1]], x[..., [0, -1], :][..., [0, -1]])  # corners map exactly
    np.testing.assert_allclose(y, interp_reference(x, (9, 4)), rtol=1e-5, atol=1e-6)


def test_interp_shrink_crop_and_copy() -> None:
    rng = np.random.default_rng(5)
    x = rng.normal(size=(1, 2, 10, 10))
    (y,) = run('name: "i" type: "Interp" bottom: "x" top: "y" interp_param { zoom_factor: 3 pad_beg: -1 pad_end: -2 }',
               x, dtype=np.float64)
    assert y.shape == (1, 2, 19, 19)  # effective 7 -> 7 + 6 * 2
    np.testing.assert_allclose(y, interp_reference(x, (19, 19), crop=1, eff=(7, 7)), rtol=1e-12, atol=1e-14)
    (y,) = run('name: "i" type: "Interp" bottom: "x" top: "y" interp_param { shrink_factor: 3 }', x, dtype=np.float64)
    np.testing.assert_allclose(y, interp_reference(x, (4, 4)), rtol=1e-12, atol=1e-14)
    (y,) = run('name: "i" type: "Interp" bottom: "x" top: "y" interp_param { height: 1 width: 1 }', x, dtype=np.float64)
    np.testing.assert_array_equal(y[..., 0, 0], x[..., 0, 0])  # one output: the first pixel (ratio 0)
    (y,) = run('name: "i" type: "Interp" bottom: "x" top: "y" interp_param { height: 8 width: 8 pad_beg: -1 pad_end: -1 }',
               x, dtype=np.float64)
    np.testing.assert_array_equal(y, x[:, :, 1:9, 1:9])  # same size: a copy of the crop
