"""Loss layers: 0-axis scalar top (Caffe's `Top shape: (1)`), optional 2nd top, each type's CHECKs."""

from __future__ import annotations

from pathlib import Path

import pytest
from layerkit import make, tops

from caffecx.errors import ShapeError
from caffecx.layers import Context, Counts


def loss(type_: str, n_bottoms: int, extra: str = "", n_tops: int = 1) -> str:
    b = " ".join(f'bottom: "b{i}"' for i in range(n_bottoms))
    t = " ".join(f'top: "t{i}"' for i in range(n_tops))
    return f'name: "loss" type: "{type_}" {b} {t} {extra}'


def test_softmax_with_loss_like_lenet() -> None:
    # lenet_train.log: loss <- ip2 (64 10), label (64) => "Top shape: (1)"
    assert tops(loss("SoftmaxWithLoss", 2), (64, 10), (64,)) == [()]
    assert tops(loss("SoftmaxWithLoss", 2, n_tops=2), (64, 10), (64,)) == [(), (64, 10)]
    # per-pixel labels: N*H*W labels for a (N, C, H, W) score map
    assert tops(loss("SoftmaxWithLoss", 2), (2, 21, 8, 8), (2, 1, 8, 8)) == [()]
    assert make(loss("SoftmaxWithLoss", 2)).counts([(64, 10), (64,)], [()]) == Counts(0, 5 * 640 + 2 * 64)


def test_label_count_and_first_dimension_checks() -> None:
    with pytest.raises(ShapeError, match="Number of labels must match number of predictions"):
        tops(loss("SoftmaxWithLoss", 2), (2, 21, 8, 8), (2, 1, 8, 7))
    with pytest.raises(ShapeError, match="The data and label should have the same first dimension"):
        tops(loss("SoftmaxWithLoss", 2), (64, 10), (32,))
    with pytest.raises(ShapeError, match="SoftmaxWithLoss Layer takes 2 bottom blob"):
        tops(loss("SoftmaxWithLoss", 3), (64, 10), (64,), (64,))


def test_euclidean_sigmoid_ce_hinge() -> None:
    assert tops(loss("EuclideanLoss", 2), (64, 784), (64, 1, 28, 28)) == [()]
    with pytest.raises(ShapeError, match="Inputs must have the same dimension"):
        tops(loss("EuclideanLoss", 2), (64, 784), (64, 783))
    assert tops(loss("SigmoidCrossEntropyLoss", 2), (64, 784), (64, 1, 28, 28)) == [()]
    with pytest.raises(ShapeError, match="SIGMOID_CROSS_ENTROPY_LOSS layer inputs must have the same count"):
        tops(loss("SigmoidCrossEntropyLoss", 2), (64, 784), (64, 780))
    assert tops(loss("HingeLoss", 2), (64, 10), (64,)) == [()]
    assert make(loss("EuclideanLoss", 2)).counts([(4, 5), (4, 5)], [()]) == Counts(0, 60)


def test_multinomial_logistic_and_contrastive() -> None:
    assert tops(loss("MultinomialLogisticLoss", 2), (8, 10), (8, 1, 1, 1)) == [()]
    with pytest.raises(ShapeError, match="channels must be 1"):
        tops(loss("MultinomialLogisticLoss", 2), (8, 10), (8, 2))
    # siamese net: feat (64, 2), feat_p (64, 2), sim (64,)
    assert tops(loss("ContrastiveLoss", 3), (64, 2), (64, 2), (64,)) == [()]
    with pytest.raises(ShapeError, match="same channels"):
        tops(loss("ContrastiveLoss", 3), (64, 2), (64, 3), (64,))
    with pytest.raises(ShapeError, match="height and width 1"):
        tops(loss("ContrastiveLoss", 3), (64, 2, 2), (64, 2, 2), (64,))


def test_infogain_matrix_from_bottom_or_source(tmp_path: Path) -> None:
    assert tops(loss("InfogainLoss", 3), (8, 5), (8,), (1, 1, 5, 5)) == [()]
    with pytest.raises(ShapeError, match="the infogain matrix has 16 values; 5 labels need 5x5"):
        tops(loss("InfogainLoss", 3), (8, 5), (8,), (4, 4))
    with pytest.raises(ShapeError, match="Infogain matrix source must be specified"):
        tops(loss("InfogainLoss", 2), (8, 5), (8,))
    from caffecx.proto import caffe_pb2

    blob = caffe_pb2.BlobProto(num=1, channels=1, height=4, width=4)
    (tmp_path / "H.binaryproto").write_bytes(blob.SerializeToString())
    ctx = Context(base_dirs=[tmp_path])
    text = loss("InfogainLoss", 2, 'infogain_loss_param { source: "H.binaryproto" }')
    with pytest.raises(ShapeError, match="16 values; 5 labels"):
        tops(text, (8, 5), (8,), ctx=ctx)
    assert tops(text, (8, 4), (8,), ctx=ctx) == [()]
    missing = Context(base_dirs=[tmp_path / "nowhere"])
    assert tops(text, (8, 5), (8,), ctx=missing) == [()]
    assert "not found" in missing.warnings[0]


def test_smooth_l1_like_faster_rcnn() -> None:
    s = (1, 36, 38, 50)
    assert tops(loss("SmoothL1Loss", 4), s, s, s, s) == [()]
    assert tops(loss("SmoothL1Loss", 2), (128, 84), (128, 84)) == [()]
    with pytest.raises(ShapeError, match="must specify both inside and outside weights"):
        tops(loss("SmoothL1Loss", 3), s, s, s)
    with pytest.raises(ShapeError, match="height differ"):
        tops(loss("SmoothL1Loss", 2), s, (1, 36, 37, 50))


def test_multibox_loss_like_mobilenet_ssd() -> None:
    text = loss("MultiBoxLoss", 4, "multibox_loss_param { num_classes: 21 share_location: true }")
    bottoms = [(24, 7668), (24, 40257), (1, 2, 7668), (1, 1, 5, 8)]
    assert tops(text, *bottoms) == [()]
    with pytest.raises(ShapeError, match="Number of priors must match number of confidence predictions"):
        tops(text, (24, 7668), (24, 40256), (1, 2, 7668), (1, 1, 5, 8))
    with pytest.raises(ShapeError, match="Must provide num_classes"):
        tops(loss("MultiBoxLoss", 4), *bottoms)
