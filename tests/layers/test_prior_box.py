"""PriorBox (SSD): priors per position counted by hand for MobileNet-SSD's layers."""

from __future__ import annotations

import pytest
from layerkit import make, tops
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
