"""Caffe's own forward checks for the loss layers and the recurrent layers (src/caffe/test/: test_softmax_with_loss,
test_sigmoid_cross_entropy_loss, test_euclidean_loss, test_infogain_loss, test_contrastive_loss and test_lstm /
test_rnn _layer.cpp). test_hinge_loss_layer.cpp and test_multinomial_logistic_loss_layer.cpp check only
gradients: nothing to port.

Caffe's seeded fillers are replaced by our own seeded NumPy draws of the same shapes and ranges; each case
checks the rule or reference the test states, with its tolerance. A loss layer's top is the unweighted loss
(``loss_weight`` scales it only where the Net sums the objective, which is what Caffe's Forward returns).
"""

from __future__ import annotations

import numpy as np
import pytest
from layerkit import make, run
from test_recurrent import forward_twice

RNG = np.random.default_rng(1701)


def loss(type_: str, params: str, *bottoms: np.ndarray, tops: int = 1, **kw: object) -> list[np.ndarray]:
    names = " ".join(f'bottom: "b{i}"' for i in range(len(bottoms)))
    top = " ".join(f'top: "t{i}"' for i in range(tops))
    return run(f'name: "l" type: "{type_}" {names} {top} {params}', *bottoms, **kw)


def test_softmax_with_loss_ignoring_each_label_in_turn() -> None:
    """TestForwardIgnoreLabel: 10x5x2x3 Gaussian (std 10), labels rand % 5, normalize false: the five losses
    ignoring label 0..4 in turn add up to 4x the full loss (within 1e-4)."""
    x, labels = RNG.normal(0, 10, (10, 5, 2, 3)), RNG.integers(0, 5, (10, 1, 2, 3)).astype(np.float64)
    (full,) = loss("SoftmaxWithLoss", "loss_param { normalize: false }", x, labels, dtype=np.float64)
    accum = sum(float(loss("SoftmaxWithLoss", f"loss_param {{ normalize: false ignore_label: {label} }}", x, labels,
                           dtype=np.float64)[0]) for label in range(5))
    assert abs(4 * float(full) - accum) <= 1e-4


def test_sigmoid_cross_entropy_loss_against_the_reference() -> None:
    """TestSigmoidCrossEntropyLoss: 100 trials of 10x5 Gaussian inputs and uniform [0, 1] targets, loss_weight 3.7:
    3.7 x (-sum t log p + (1 - t) log(1 - p)) / num within 2e-2 (normalization BATCH_SIZE when none is set)."""
    for _ in range(100):
        x, t = RNG.standard_normal((10, 5, 1, 1)), RNG.uniform(0, 1, (10, 5, 1, 1))
        (top,) = loss("SigmoidCrossEntropyLoss", "loss_weight: 3.7", x.astype(np.float32), t.astype(np.float32))
        p = 1 / (1 + np.exp(-x.astype(np.float32).astype(np.float64)))
        t = t.astype(np.float32).astype(np.float64)
        ref = -(t * np.log(p + (t == 0)) + (1 - t) * np.log(1 - p + (t == 1))).sum() / 10
        assert abs(3.7 * float(top) - 3.7 * ref) <= 2e-2


def test_euclidean_loss_weight_scales_only_the_objective() -> None:
    """test_euclidean_loss_layer.cpp TestForward: with loss_weight 3.7 the objective is 3.7x the unweighted one
    (within 1e-5), and that loss is non-trivial (>= 0.1); its value is sum((a - b)^2) / 2N."""
    a, b = RNG.standard_normal((10, 5, 1, 1)).astype(np.float32), RNG.standard_normal((10, 5, 1, 1)).astype(np.float32)
    (plain,) = loss("EuclideanLoss", "", a, b)
    (weighted,) = loss("EuclideanLoss", "loss_weight: 3.7", a, b)
    assert abs(3.7 * float(plain) - 3.7 * float(weighted)) <= 1e-5 and abs(float(plain)) >= 0.1
    assert abs(float(plain) - ((a.astype(np.float64) - b) ** 2).sum() / 20) <= 1e-5


def test_infogain_loss_and_its_prob_top() -> None:
    """TestInfogainLoss: axis 2 of a 4x2x5x2 uniform [-0.5, 2] input (5 labels, outer 8, inner 2), labels rand % 5,
    H 5x5 uniform [0.1, 2], loss weights 1 and 0: prob = softmax over axis 2 (1e-6) and
    loss = -sum_l H[gt, l] log(max(prob_l, 1e-20)) / (outer * inner) (1e-6)."""
    x = RNG.uniform(-0.5, 2.0, (4, 2, 5, 2)).astype(np.float32)
    labels = RNG.integers(0, 5, (4, 2, 1, 2)).astype(np.float32)
    h = RNG.uniform(0.1, 2.0, (1, 1, 5, 5)).astype(np.float32)
    top, prob = loss("InfogainLoss", "infogain_loss_param { axis: 2 } loss_weight: 1 loss_weight: 0", x, labels, h,
                     tops=2)
    e = np.exp(x.astype(np.float64))
    want_prob = e / e.sum(axis=2, keepdims=True)
    assert prob.shape == x.shape
    np.testing.assert_allclose(prob, want_prob, rtol=0, atol=1e-6)
    gt = labels[:, :, 0, :].astype(int)  # (4, 2, 2): the label at each (outer, inner)
    rows = h[0, 0][gt]  # (4, 2, 2, 5): H[gt, l]
    logp = np.log(np.maximum(np.moveaxis(prob.astype(np.float64), 2, -1), 1e-20))
    assert abs(float(top) - -(rows * logp).sum() / 16) <= 1e-6


@pytest.mark.parametrize("legacy", [pytest.param(False, id="TestForward"), pytest.param(True, id="TestForwardLegacy")])
def test_contrastive_loss(legacy: bool) -> None:
    """test_contrastive_loss_layer.cpp: 512 pairs of 2-D uniform [-1, 1] points, y rand % 2, margin 1: similar pairs
    add d^2, the others max(margin - d, 0)^2 (legacy: max(margin - d^2, 0)); over 2N, within 1e-6."""
    a, b = (RNG.uniform(-1, 1, (512, 2, 1, 1)).astype(np.float32) for _ in range(2))
    y = RNG.integers(0, 2, (512, 1, 1, 1)).astype(np.float32)
    params = "contrastive_loss_param { legacy_version: true }" if legacy else ""
    (top,) = loss("ContrastiveLoss", params, a, b, y)
    d2 = ((a.astype(np.float64) - b) ** 2).sum(axis=(1, 2, 3))
    other = np.maximum(1 - d2, 0) if legacy else np.maximum(1 - np.sqrt(d2), 0) ** 2
    want = np.where(y.reshape(-1) != 0, d2, other).sum() / (2 * 512)
    assert abs(float(top) - want) <= 1e-6


# -- test_lstm_layer.cpp / test_rnn_layer.cpp TestForward ----------------------------------------------------
@pytest.mark.parametrize("kind", ["LSTM", "RNN"])
def test_recurrent_forward_step_by_step(kind: str) -> None:
    """num_output 7, weights Gaussian std 0.2, biases std 0.1, x 3x3x3x2 Gaussian, cont 0 1 1: three one-step forwards
    of one layer (cont 0, 1, 1) give the full-sequence top (1e-5); three with cont 0 give it at t = 0 only."""
    text = f'name: "r" type: "{kind}" bottom: "x" bottom: "cont" top: "y" recurrent_param {{ num_output: 7 }}'
    x = RNG.standard_normal((3, 3, 3, 2))
    cont = np.repeat((np.arange(3) > 0).astype(np.float64)[:, None], 3, axis=1)
    shapes = make(text).param_shapes([(1, 3, 3, 2), (1, 3)])
    blobs = [RNG.normal(0, 0.1 if len(p.shape) == 1 else 0.2, p.shape) for p in shapes]
    (whole,) = run(text, x, cont, blobs=blobs, dtype=np.float64)
    steps = forward_twice(text, [(x[t:t + 1], cont[t:t + 1]) for t in range(3)], blobs)
    np.testing.assert_allclose(np.concatenate(steps), whole, rtol=0, atol=1e-5)
    restarted = forward_twice(text, [(x[t:t + 1], np.zeros((1, 3))) for t in range(3)], blobs)
    np.testing.assert_allclose(restarted[0], whole[:1], rtol=0, atol=1e-5)
    for t in (1, 2):
        assert (restarted[t] != whole[t:t + 1]).all()
