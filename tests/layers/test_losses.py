"""Loss layers: 0-axis scalar top (Caffe's `Top shape: (1)`), optional 2nd top, each type's CHECKs; forward
values worked by hand or by a written-out formula (normalization modes, ignore_label, FLT_MIN floor, ...)."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pytest
from layerkit import make, run, tops
from paths import LENET

from caffecx.errors import CaffecxError, ShapeError
from caffecx.layers import Context, Counts
from caffecx.proto import caffe_pb2


def loss(type_: str, n_bottoms: int, extra: str = "", n_tops: int = 1) -> str:
    b = " ".join(f'bottom: "b{i}"' for i in range(n_bottoms))
    t = " ".join(f'top: "t{i}"' for i in range(n_tops))
    return f'name: "loss" type: "{type_}" {b} {t} {extra}'


def test_softmax_with_loss_like_lenet() -> None:
    # lenet_train.log: loss <- ip2 (64 10), label (64) => "Top shape: (1)"
    assert tops(loss("SoftmaxWithLoss", 2), (64, 10), (64,)) == [()]
    two = loss("SoftmaxWithLoss", 2, "loss_weight: 1 loss_weight: 0", n_tops=2)
    assert tops(two, (64, 10), (64,)) == [(), (64, 10)]
    # LossLayer adds loss_weight 1 when none is given; SetLossWeights then wants one per top
    with pytest.raises(ShapeError, match=r"loss_weight must be unspecified or specified once per top blob. "
                                          r"\(2 tops vs. 1 loss weights\)"):
        make(loss("SoftmaxWithLoss", 2, n_tops=2)).check_loss_weights()
    make(two).check_loss_weights()
    # the rule is every layer's (Layer::SetLossWeights), not the losses' alone
    with pytest.raises(ShapeError, match=r"\(1 tops vs. 2 loss weights\)"):
        make('name: "r" type: "ReLU" bottom: "x" top: "y" loss_weight: 1 loss_weight: 1').check_loss_weights()
    make('name: "r" type: "ReLU" bottom: "x" top: "y"').check_loss_weights()
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
    with pytest.raises(ShapeError, match='normalize is deprecated. use "normalization"'):
        tops(loss("InfogainLoss", 3, "loss_param { normalize: true }"), (8, 5), (8,), (1, 1, 5, 5))
    with pytest.raises(ShapeError, match="the infogain matrix has 16 values; 5 labels need 5x5"):
        tops(loss("InfogainLoss", 3), (8, 5), (8,), (4, 4))
    with pytest.raises(ShapeError, match="Infogain matrix source must be specified"):
        tops(loss("InfogainLoss", 2), (8, 5), (8,))
    blob = caffe_pb2.BlobProto(num=1, channels=1, height=4, width=4, data=[0.5] * 16)
    (tmp_path / "H.binaryproto").write_bytes(blob.SerializeToString())
    ctx = Context(base_dirs=[tmp_path])
    text = loss("InfogainLoss", 2, 'infogain_loss_param { source: "H.binaryproto" }')
    with pytest.raises(ShapeError, match="16 values; 5 labels"):
        tops(text, (8, 5), (8,), ctx=ctx)
    assert tops(text, (8, 4), (8,), ctx=ctx) == [()]
    missing = Context(base_dirs=[tmp_path / "nowhere"])
    assert tops(text, (8, 5), (8,), ctx=missing) == [()]
    assert "not found" in missing.warnings[0]
    # Caffe's Blob::FromProto checks the data against the shape: a blob without its values is refused
    (tmp_path / "H.binaryproto").write_bytes(caffe_pb2.BlobProto(num=1, channels=1, height=4, width=4).SerializeToString())
    with pytest.raises(ShapeError, match=r"count_ == proto.data_size\(\) \(16 vs. 0\)"):
        tops(text, (8, 4), (8,), ctx=ctx)


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


# -- forward ---------------------------------------------------------------------------------------
def ce(row: list[float], label: int) -> float:
    """-log softmax(row)[label], written out."""
    return math.log(sum(math.exp(v) for v in row)) - row[label]


ROWS = [[1.0, 2.0, 3.0], [1.0, 1.0, 1.0], [0.5, -1.0, 2.0]]


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_softmax_loss_value_and_probability_top(dtype: type) -> None:
    text = loss("SoftmaxWithLoss", 2, "loss_weight: 1 loss_weight: 0", n_tops=2)
    top, prob = run(text, np.array(ROWS), np.array([2, 0, 1]), dtype=dtype)
    want = (ce(ROWS[0], 2) + ce(ROWS[1], 0) + ce(ROWS[2], 1)) / 3  # VALID = 3 counted labels
    assert top.shape == () and top.dtype == dtype
    assert float(top) == pytest.approx(want, rel=1e-6)
    assert prob[1] == pytest.approx([1 / 3] * 3)
    assert prob.sum(axis=1) == pytest.approx([1, 1, 1])


@pytest.mark.parametrize(("param", "divisor"), [
    ("", 2),                                            # VALID (default): 2 labels not ignored
    ("normalization: FULL", 3),                         # every position, ignored ones included
    ("normalization: BATCH_SIZE", 3),                   # outer_num = 3
    ("normalization: NONE", 1),
    ("normalize: false", 3),                            # legacy false -> BATCH_SIZE
    ("normalize: true", 2),                             # legacy true -> VALID
    ("normalize: false normalization: VALID", 2),       # an explicit normalization wins
])
def test_softmax_loss_normalization_and_ignore_label(param: str, divisor: int) -> None:
    text = loss("SoftmaxWithLoss", 2, f"loss_param {{ ignore_label: 7 {param} }}")
    (top,) = run(text, np.array(ROWS), np.array([2, 7, 1]), dtype=np.float64)
    assert float(top) == pytest.approx((ce(ROWS[0], 2) + ce(ROWS[2], 1)) / divisor)


def test_softmax_loss_all_ignored_is_zero_not_nan() -> None:
    (top,) = run(loss("SoftmaxWithLoss", 2, "loss_param { ignore_label: 0 }"), np.array(ROWS), np.zeros(3))
    assert float(top) == 0.0  # 0 / max(1, 0 valid)


def test_softmax_loss_flt_min_floor_gives_87_3365() -> None:
    # exp(-200) underflows to 0 in float32: Caffe takes -log(FLT_MIN) = 87.3365 (the famous stuck loss)
    (top,) = run(loss("SoftmaxWithLoss", 2), np.array([[0.0, -200.0]]), np.array([1]))
    assert float(top) == pytest.approx(87.33654, rel=1e-6)


def test_softmax_loss_spatial_axis_and_truncated_labels() -> None:
    # (N=1, C=2, H=1, W=2): one label per pixel; label 1.9 reads as 1 (static_cast<int>)
    x = np.array([[[[0.0, 3.0]], [[1.0, 0.0]]]])
    (top,) = run(loss("SoftmaxWithLoss", 2), x, np.array([[[[1.9, 0.0]]]]), dtype=np.float64)
    assert float(top) == pytest.approx((ce([0.0, 1.0], 1) + ce([3.0, 0.0], 0)) / 2)
    # softmax_param.axis: -1 on (N, W, C)
    xt = x[:, :, 0, :].transpose(0, 2, 1)
    (top2,) = run(loss("SoftmaxWithLoss", 2, "softmax_param { axis: -1 }"), xt, np.array([[1, 0]]),
                  dtype=np.float64)
    assert float(top2) == pytest.approx(float(top))


def test_softmax_loss_refuses_out_of_range_label() -> None:
    with pytest.raises(ShapeError, match=r"label 3 at position 1 is outside \[0, 3\)"):
        run(loss("SoftmaxWithLoss", 2), np.array(ROWS), np.array([0, 3, 1]))


def test_infogain_loss_with_h_bottom_and_source(tmp_path: Path) -> None:
    h = np.array([[1.0, 0.5, 0.0], [0.0, 2.0, 0.0], [0.25, 0.0, 1.0]])
    labels = [2, 0, 1]
    want = 0.0
    for row, lab in zip(ROWS, labels, strict=True):
        p = np.exp(row) / np.exp(row).sum()
        want -= sum(h[lab, c] * math.log(max(p[c], 1e-20)) for c in range(3))
    (top,) = run(loss("InfogainLoss", 3), np.array(ROWS), np.array(labels), h, dtype=np.float64)
    assert float(top) == pytest.approx(want / 3)
    # identity H = the softmax loss
    (eye,) = run(loss("InfogainLoss", 3), np.array(ROWS), np.array(labels), np.eye(3), dtype=np.float64)
    (sm,) = run(loss("SoftmaxWithLoss", 2), np.array(ROWS), np.array(labels), dtype=np.float64)
    assert float(eye) == pytest.approx(float(sm))
    # the same H from a binaryproto source, legacy 1x1x3x3
    blob = caffe_pb2.BlobProto(num=1, channels=1, height=3, width=3, data=h.ravel().tolist())
    (tmp_path / "H.binaryproto").write_bytes(blob.SerializeToString())
    text = loss("InfogainLoss", 2, 'infogain_loss_param { source: "H.binaryproto" } loss_param { normalization: NONE }')
    (top3,) = run(text, np.array(ROWS), np.array(labels), dtype=np.float64, ctx=Context(base_dirs=[tmp_path]))
    assert float(top3) == pytest.approx(want)


def test_euclidean_loss() -> None:
    (top,) = run(loss("EuclideanLoss", 2), np.array([[1.0, 2.0], [3.0, 4.0]]), np.array([[0.0, 0.0], [1.0, 1.0]]))
    assert float(top) == pytest.approx((1 + 4 + 4 + 9) / 2 / 2)  # sum of squares / num / 2


def sigmoid_ce(x: float, t: float) -> float:
    s = 1 / (1 + math.exp(-x))
    return -(t * math.log(s) + (1 - t) * math.log(1 - s))


def test_sigmoid_cross_entropy_default_batch_size_and_valid() -> None:
    x, t = [0.0, 2.0, -3.0, 40.0], [1.0, 0.0, 1.0, -1.0]
    terms = [sigmoid_ce(a, b) for a, b in zip(x[:3], t[:3], strict=True)]
    # default BATCH_SIZE (shape(0) = 2), ignore_label -1 skips the 4th
    text = loss("SigmoidCrossEntropyLoss", 2, "loss_param { ignore_label: -1 }")
    (top,) = run(text, np.array(x).reshape(2, 2), np.array(t).reshape(2, 2), dtype=np.float64)
    assert float(top) == pytest.approx(sum(terms) / 2)
    text = loss("SigmoidCrossEntropyLoss", 2, "loss_param { ignore_label: -1 normalize: true }")
    (valid,) = run(text, np.array(x).reshape(2, 2), np.array(t).reshape(2, 2), dtype=np.float64)
    assert float(valid) == pytest.approx(sum(terms) / 3)
    # the stable form stays finite for large |x| (naive log(sigmoid) would be -inf)
    (big,) = run(loss("SigmoidCrossEntropyLoss", 2), np.array([[-200.0]]), np.array([[1.0]]))
    assert float(big) == pytest.approx(200.0)


def test_hinge_loss_l1_l2() -> None:
    x, lab = np.array([[0.5, -0.2, 0.1], [0.0, 0.0, 3.0]]), np.array([0, 2])
    # row 0: true score negated -> max(0, 1 + [-0.5, -0.2, 0.1]) = 0.5, 0.8, 1.1; row 1: 1, 1, 0
    (l1,) = run(loss("HingeLoss", 2), x, lab, dtype=np.float64)
    assert float(l1) == pytest.approx((0.5 + 0.8 + 1.1 + 1 + 1 + 0) / 2)
    (l2,) = run(loss("HingeLoss", 2, "hinge_loss_param { norm: L2 }"), x, lab, dtype=np.float64)
    assert float(l2) == pytest.approx((0.25 + 0.64 + 1.21 + 1 + 1) / 2)


def test_multinomial_logistic_floor() -> None:
    (top,) = run(loss("MultinomialLogisticLoss", 2), np.array([[0.2, 0.8], [0.0, 1.0]]), np.array([1, 0]),
                 dtype=np.float64)
    assert float(top) == pytest.approx((-math.log(0.8) - math.log(1e-20)) / 2)


@pytest.mark.parametrize(("legacy", "want"), [(False, (25 + 0.25) / 4), (True, (0 + 0.25) / 4)])
def test_contrastive_loss(legacy: bool, want: float) -> None:
    a, b = np.array([[0.0, 0.0], [1.0, 1.0]]), np.array([[3.0, 4.0], [1.0, 1.5]])
    # pair 0 dissimilar (d = 5, margin 10): (10 - 5)^2 = 25, legacy max(10 - 25, 0) = 0; pair 1 similar: 0.25
    flag = "true" if legacy else "false"
    text = loss("ContrastiveLoss", 3, f"contrastive_loss_param {{ margin: 10 legacy_version: {flag} }}")
    (top,) = run(text, a, b, np.array([0.0, 1.0]), dtype=np.float64)
    assert float(top) == pytest.approx(want)


def test_smooth_l1_sigma_and_weights() -> None:
    a, z = np.array([[0.5, 2.0, -3.0]]), np.zeros((1, 3))
    (s1,) = run(loss("SmoothL1Loss", 2), a, z, dtype=np.float64)
    assert float(s1) == pytest.approx(0.125 + 1.5 + 2.5)
    # sigma 2: quadratic only below 1/sigma^2 = 0.25, else |x| - 0.5/4
    (s2,) = run(loss("SmoothL1Loss", 2, "smooth_l1_loss_param { sigma: 2 }"), a, z, dtype=np.float64)
    assert float(s2) == pytest.approx(0.375 + 1.875 + 2.875)
    w_in, w_out = np.array([[1.0, 0.0, 2.0]]), np.array([[1.0, 1.0, 0.5]])
    (w,) = run(loss("SmoothL1Loss", 4), a, z, w_in, w_out, dtype=np.float64)
    assert float(w) == pytest.approx(0.125 + 0 + 5.5 * 0.5)


def test_refusals() -> None:
    layer = make(loss("MultiBoxLoss", 4, "multibox_loss_param { num_classes: 21 }"))
    layer.bottom_shapes = [(24, 7668), (24, 40257), (1, 2, 7668), (1, 1, 5, 8)]
    assert "hard negative mining" in (layer.forward_refusal() or "")
    euclid = make(loss("EuclideanLoss", 2))
    euclid.bottom_shapes = [(1, 1, 1, 1, 2), (1, 2)]
    assert "legacy accessors" in (euclid.forward_refusal() or "")
    info = make(loss("InfogainLoss", 2, 'infogain_loss_param { source: "nowhere.binaryproto" }'))
    info.setup([(2, 3), (2,)], Context(base_dirs=[Path("/nonexistent")]))
    info.bottom_shapes = [(2, 3), (2,)]
    assert "not found" in (info.forward_refusal() or "")


@pytest.mark.skipif(not (LENET / "lenet_iter_1000.caffemodel").exists(), reason="caffe-ref fixtures absent")
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_lenet_test_phase_matches_caffes_log(tmp_path: Path, dtype: type) -> None:
    """lenet_train.log, iteration 1000: ``accuracy = 0.994``, ``loss = 0.0214552`` over 10 batches of 100 =
    the whole 1000-image test LMDB once; one batch of 1000 gives the same averages."""
    from caffecx.graph import load_net
    from caffecx.runtime import executor_for

    text = (LENET / "lenet_train_test.prototxt").read_text().replace("batch_size: 100", "batch_size: 1000")
    (tmp_path / "lenet.prototxt").write_text(text)
    net = load_net(tmp_path / "lenet.prototxt", phase="TEST", weights=LENET / "lenet_iter_1000.caffemodel")
    try:
        ex = executor_for(net, dtype=dtype, base_dirs=[LENET])
    except CaffecxError as err:  # another layer family without a forward yet
        pytest.skip(str(err))
    out = ex.forward(keep=["accuracy", "loss"])
    assert float(out["accuracy"]) == pytest.approx(0.994, abs=1e-7)
    assert float(out["loss"]) == pytest.approx(0.0214552, abs=5e-8)


def test_infogain_source_that_is_a_fifo_is_refused_without_blocking(tmp_path) -> None:  # noqa: ANN001
    import os
    import subprocess
    import sys

    fifo = tmp_path / "h.binaryproto"
    os.mkfifo(fifo)
    net = tmp_path / "n.prototxt"
    net.write_text('name: "n" layer { name: "x" type: "Input" top: "x" top: "y" input_param { shape { dim: 2 dim: 3 } '
                   'shape { dim: 2 } } }\nlayer { name: "l" type: "InfogainLoss" bottom: "x" bottom: "y" top: "l" '
                   f'infogain_loss_param {{ source: "{fifo}" }} }}\n')
    code = "import sys; from caffecx.cli import main; sys.exit(main(['analyze', sys.argv[1]]))"
    done = subprocess.run([sys.executable, "-c", code, str(net)], capture_output=True, text=True, timeout=60)
    assert done.returncode == 2 and "layer 'l'" in done.stderr and "infogain matrix" in done.stderr
