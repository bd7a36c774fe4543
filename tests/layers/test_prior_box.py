"""PriorBox (SSD): priors per position counted by hand for MobileNet-SSD's layers."""

from __future__ import annotations

import numpy as np
import pytest
from layerkit import make, run, tops
from paths import CORPUS

from caffecx.errors import ShapeError

DATA = (1, 3, 300, 300)


def prior(params: str) -> str:
    return f'name: "pb" type: "PriorBox" bottom: "f" bottom: "data" top: "p" prior_box_param {{ {params} }}'


def test_conv11_mbox_priorbox_by_hand() -> None:
    # min_size 60, aspect_ratio 2 with flip -> ratios [1, 2, 1/2] -> 3 priors; conv11 is 19x19 for 300x300
    params = "min_size: 60.0 aspect_ratio: 2.0 flip: true clip: false variance: 0.1 variance: 0.1 variance: 0.2 variance: 0.2 offset: 0.5"
    layer = make(prior(params))
    assert layer.aspect_ratios() == [1.0, 2.0, 0.5]
    assert layer.num_priors() == 3
    assert tops(prior(params), (1, 512, 19, 19), DATA) == [(1, 2, 19 * 19 * 3 * 4)]


def test_conv13_mbox_priorbox_by_hand() -> None:
    # min 105, max 150, ratios 2 and 3 flipped -> [1, 2, 1/2, 3, 1/3] = 5 per min size, + 1 for the max size
    params = "min_size: 105.0 max_size: 150.0 aspect_ratio: 2.0 aspect_ratio: 3.0 flip: true"
    assert make(prior(params)).num_priors() == 6
    assert tops(prior(params), (1, 1024, 10, 10), DATA) == [(1, 2, 10 * 10 * 6 * 4)]


def test_duplicate_ratios_are_dropped_and_flip_matters() -> None:
    assert make(prior("min_size: 30 aspect_ratio: 2 aspect_ratio: 0.5 aspect_ratio: 1")).aspect_ratios() == [1, 2, 0.5]
    assert make(prior("min_size: 30 aspect_ratio: 2 flip: false")).num_priors() == 2
    # two min sizes, each with every ratio, plus one box per max size
    assert make(prior("min_size: 30 min_size: 60 max_size: 60 max_size: 90 aspect_ratio: 2")).num_priors() == 2 * 3 + 2


def test_mobilenet_ssd_total_is_1917_priors() -> None:
    from google.protobuf import text_format

    from caffecx.proto import caffe_pb2

    net = text_format.Parse((CORPUS / "prototxt" / "mobilenet_ssd__deploy.prototxt").read_text(),
                            caffe_pb2.NetParameter(), allow_unknown_field=True)
    sizes = {"conv11": 19, "conv13": 10, "conv14_2": 5, "conv15_2": 3, "conv16_2": 2, "conv17_2": 1}
    total = 0
    for lp in net.layer:
        if lp.type == "PriorBox":
            s = sizes[lp.bottom[0]]
            [(one, two, n)] = tops(text_format.MessageToString(lp), (1, 256, s, s), DATA)
            assert (one, two) == (1, 2) and n % 4 == 0
            total += n // 4
    assert total == 1917


@pytest.mark.parametrize(("params", "message"), [
    ("aspect_ratio: 2", "must provide min_size"),
    ("min_size: 0", "min_size must be positive"),
    ("min_size: 60 max_size: 50", "max_size must be greater than min_size"),
    ("min_size: 60 max_size: 90 max_size: 120", "need one each"),
    ("min_size: 60 variance: 0.1 variance: 0.2", "give 1 or 4 variance values"),
    ("min_size: 60 img_size: 300 img_h: 300", "Either img_size or img_h/img_w"),
    ("min_size: 60 step: 16 step_w: 16", "Either step or step_h/step_w"),
])
def test_checks(params: str, message: str) -> None:
    with pytest.raises(ShapeError, match=message):
        tops(prior(params), (1, 512, 19, 19), DATA)


# -- forward -------------------------------------------------------------------------------------------

def prior_reference(fh: int, fw: int, img_h: int, img_w: int, mins: list[float], maxs: list[float],
                    ratios: list[float], step: tuple[float, float] | None = None, offset: float = 0.5,
                    clip: bool = False) -> np.ndarray:
    """Boxes per the SSD formulas, position by position (min box, sqrt(min*max) box, other ratios)."""
    sh, sw = step or (img_h / fh, img_w / fw)
    out = []
    for h in range(fh):
        for w in range(fw):
            cx, cy = (w + offset) * sw, (h + offset) * sh
            for s, lo in enumerate(mins):
                lo = int(lo)  # the SSD fork keeps min/max sizes in an int
                sizes = [(lo, lo)]
                if maxs:
                    side = np.sqrt(lo * int(maxs[s]))
                    sizes.append((side, side))
                sizes += [(lo * np.sqrt(ar), lo / np.sqrt(ar)) for ar in ratios if ar != 1]
                for bw, bh in sizes:
                    out += [(cx - bw / 2) / img_w, (cy - bh / 2) / img_h, (cx + bw / 2) / img_w, (cy + bh / 2) / img_h]
    boxes = np.array(out)
    return np.clip(boxes, 0, 1) if clip else boxes


def test_forward_2x2_map_min_max_and_flipped_ratio() -> None:
    params = "min_size: 60 max_size: 120 aspect_ratio: 2 flip: true variance: 0.1 variance: 0.1 variance: 0.2 variance: 0.2"
    f, img = np.zeros((1, 8, 2, 2), np.float32), np.zeros((1, 3, 300, 300), np.float32)
    (y,) = run(prior(params), f, img)
    assert y.shape == (1, 2, 2 * 2 * 4 * 4)
    want = prior_reference(2, 2, 300, 300, [60], [120], [1, 2, 0.5])
    np.testing.assert_allclose(y[0, 0], want, rtol=0, atol=1e-7)
    # position (0, 0), centre (75, 75): the min box, then the sqrt(60*120) box, then ratio 2 and 1/2
    s = np.sqrt(7200) / 2
    w2, h2 = 60 * np.sqrt(2) / 2, 60 / np.sqrt(2) / 2
    np.testing.assert_allclose(y[0, 0, :16], np.array([
        45, 45, 105, 105, 75 - s, 75 - s, 75 + s, 75 + s,
        75 - w2, 75 - h2, 75 + w2, 75 + h2, 75 - h2, 75 - w2, 75 + h2, 75 + w2]) / 300, atol=1e-7)
    np.testing.assert_array_equal(y[0, 1].reshape(-1, 4), np.tile(np.float32([0.1, 0.1, 0.2, 0.2]), (16, 1)))


def test_forward_clip_steps_offset_and_truncated_sizes() -> None:
    params = ("min_size: 30.7 aspect_ratio: 3 flip: false clip: true img_h: 100 img_w: 200 step_h: 40 step_w: 50 "
              "offset: 0.25 variance: 0.3")
    (y,) = run(prior(params), np.zeros((1, 1, 3, 2)), np.zeros((1, 3, 7, 9)), dtype=np.float64)
    want = prior_reference(3, 2, 100, 200, [30.7], [], [1, 3], step=(40, 50), offset=0.25, clip=True)
    np.testing.assert_allclose(y[0, 0], want, rtol=0, atol=1e-7)  # box sizes are floats even in double Caffe
    assert want.min() == 0  # the first box sticks out and is clipped
    np.testing.assert_array_equal(y[0, 1], np.float64(np.float32(0.3)))  # one variance for all four


def test_forward_default_variance_and_image_from_bottom() -> None:
    (y,) = run(prior("min_size: 10"), np.zeros((1, 1, 1, 2)), np.zeros((1, 3, 20, 40)))
    np.testing.assert_allclose(y[0, 0], [5 / 40, 5 / 20, 15 / 40, 15 / 20, 25 / 40, 5 / 20, 35 / 40, 15 / 20])
    np.testing.assert_array_equal(y[0, 1], np.float32(0.1))
