"""Loss layers: a 0-axis scalar top (Caffe prints it as ``Top shape: (1)``).

Caffe rule (LossLayer::Reshape): ``bottom[0].shape(0) == bottom[1].shape(0)`` ("The data and label should
have the same first dimension."), top[0] = ``()``. A loss layer declared without a top gets an anonymous
one from Caffe's Net (``AutoTopBlobs``); fewer declared tops are therefore not an error here. Per type:

* SoftmaxWithLoss: softmax over ``softmax_param.axis``; ``count(0, axis) * count(axis+1)`` labels; an
  optional 2nd top holds the probabilities (bottom[0]'s shape).
* InfogainLoss: like SoftmaxWithLoss (``infogain_loss_param.axis``) plus an infogain matrix H of
  ``num_labels^2`` values, from a 3rd bottom or from ``infogain_loss_param.source`` (a BlobProto file,
  checked when it can be found; a missing file is reported as a warning, not an error).
* EuclideanLoss: ``count(1)`` of both bottoms equal. SigmoidCrossEntropyLoss: equal counts.
  HingeLoss: the common check only. MultinomialLogisticLoss: labels ``(N, 1, 1, 1)``-like.
* ContrastiveLoss: 3 bottoms ``a (N, C, 1, 1)``, ``b (N, C, 1, 1)``, ``y (N, 1, 1, 1)``.
* SmoothL1Loss (py-faster-rcnn): 2 or 4 bottoms (prediction, target, inside and outside weights) of
  equal channels/height/width; 3 bottoms are refused ("must specify both inside and outside weights").
* MultiBoxLoss (SSD): bottoms loc ``(N, P*4*L)``, conf ``(N, P*num_classes)``, priors ``(1, 2, P*4)``,
  ground truth ``(1, 1, G, 8)``; P = priors height / 4, L = 1 with ``share_location`` else num_classes.

FLOPs (approximate, per element of bottom[0] unless stated): SoftmaxWithLoss 5 (softmax) + 2 per label
(log, add); InfogainLoss 5 + 3 (log, mul by H, add); EuclideanLoss 3 (sub, square, add);
SigmoidCrossEntropyLoss 6 (a stable log-sigmoid: comparison, abs, exp, add, log, mul-add);
HingeLoss 3 (mul by the ±1 label, add 1, max); MultinomialLogisticLoss 2 per sample (log, add);
ContrastiveLoss 3 per element of a (sub, square, add) + 4 per pair; SmoothL1Loss 5 (sub, abs,
comparison, square-or-shift, add) + 2 with weights; MultiBoxLoss 0 (data-dependent matching, not counted).

Forward (``Forward_cpu``): the top holds the *unweighted* loss, exactly what Caffe's forward writes; the
``loss_weight`` only scales it where Caffe's Net sums the objective (the log's ``loss = X (* w = X*w
loss)``). Normalization and labels follow `caffecx.layers._loss_norm`. Caffe takes each term's ``log``/
``exp`` in double (``::log`` of a float) and accumulates in Dtype; caffecx computes the per-position
terms and their sum in float64 and rounds the scalar to the run's dtype (probabilities stay in the run's
dtype, as Caffe's internal Softmax computes them). Per type:

* SoftmaxWithLoss: ``-log(max(p[label], FLT_MIN))`` summed over counted positions / the normalizer
  (default VALID); top[1] = the probabilities. InfogainLoss (today's BVLC applies the softmax itself):
  ``-sum_l H[label, l] * log(max(p[l], 1e-20))``, same normalization (``normalize`` is refused).
* EuclideanLoss: ``sum((a - b)^2) / num / 2``. SigmoidCrossEntropyLoss: the stable
  ``-(x (t - [x>=0]) - log(1 + exp(x - 2x[x>=0])))`` over non-ignored elements / the normalizer
  (default BATCH_SIZE, outer = shape(0), inner = count(1)).
* HingeLoss: ``max(0, 1 + s)`` with the true class's score negated, summed (L1) or squared-summed (L2)
  / num. MultinomialLogisticLoss: ``-sum log(max(p[label], 1e-20)) / num`` (bottom[0] is a probability).
* ContrastiveLoss: similar (``int(y) != 0``) pairs add ``d^2``, others ``max(margin - d, 0)^2`` (with
  ``legacy_version``: ``max(margin - d^2, 0)``); the sum / num / 2.
* SmoothL1Loss (py-faster-rcnn's GPU forward; its CPU forward is NOT_IMPLEMENTED): ``x = w_in (a - b)``,
  ``0.5 sigma^2 x^2`` where ``|x| < 1/sigma^2`` else ``|x| - 0.5/sigma^2``, times ``w_out``, summed / num.
* MultiBoxLoss (SSD) is refused: its matching and hard-negative mining are not reproduced.
"""

from __future__ import annotations

from pathlib import Path
from typing import ClassVar

import numpy as np

from caffecx.layers._common import (
    axis_index,
    check_blob_counts,
    check_box_predictions,
    field_set,
    legacy_dim,
    shape_string,
)
from caffecx.layers._loss_norm import (
    BATCH_SIZE,
    FLT_MIN,
    LOG_THRESHOLD,
    VALID,
    check_label_range,
    ignore_mask,
    int_labels,
    normalization_mode,
    normalizer,
)
from caffecx.layers.base import Context, Counts, Layer, RunContext, Shape, count, register
from caffecx.layers.datasource import mean_blob


class Loss(Layer):
    """Base of Caffe's ``LossLayer``: two bottoms, a scalar top (the unweighted loss)."""

    num_bottoms = (2, 2)
    num_tops = (1, 1)
    loss_top_weight = 1.0
    #: FLOPs per element of bottom[0] (see the module docstring).
    per_element: int = 0
    #: The forward reads ``bottom[0]->num()`` (a legacy accessor: more than 4 axes fail there).
    uses_num: ClassVar[bool] = False

    def setup(self, bottom_shapes: list[Shape], ctx: Context) -> list[Shape]:
        check_blob_counts(self, bottom_shapes, auto_top=True)
        b0, b1 = tuple(bottom_shapes[0]), tuple(bottom_shapes[1])
        self.check(len(b0) >= 1 and len(b1) >= 1 and b0[0] == b1[0],
                   f"The data and label should have the same first dimension. "
                   f"({shape_string(b0)} vs. {shape_string(b1)})")
        self.reshape(bottom_shapes, ctx)
        return [(), b0][: len(self.lp.top)]

    def reshape(self, bottom_shapes: list[Shape], ctx: Context) -> None:
        """The type's own CHECKs (after the common one)."""

    def counts(self, bottom_shapes: list[Shape], top_shapes: list[Shape]) -> Counts:
        return Counts(0, self.per_element * count(bottom_shapes[0]))

    def forward_refusal(self) -> str | None:
        if self.uses_num and len(self.bottom_shapes[0]) > 4:
            return ("Cannot use legacy accessors on Blobs with > 4 axes. (Caffe's forward reads "
                    f"bottom[0]->num() of a {len(self.bottom_shapes[0])}-axis blob)")
        return super().forward_refusal()

    def scalar(self, loss: float, run: RunContext) -> np.ndarray:
        """The 0-axis top holding `loss` in the run's dtype."""
        return np.asarray(loss, dtype=run.dtype)


def _labels_match(layer: Layer, bottom_shapes: list[Shape], axis: int, what: str) -> int:
    """Caffe's per-position label check; returns the number of labels (bottom[0].shape(axis))."""
    b0 = tuple(bottom_shapes[0])
    ax = axis_index(layer, b0, axis)
    outer, inner = count(b0, 0, ax), count(b0, ax + 1)
    n_labels = count(bottom_shapes[1])
    layer.check(outer * inner == n_labels,
                f"Number of labels must match number of predictions; e.g., if {what} axis == 1 and "
                f"prediction shape is (N, C, H, W), label count (number of labels) must be N*H*W, with "
                f"integer values in {{0, 1, ..., C-1}}. (predictions {shape_string(b0)}, "
                f"labels {shape_string(bottom_shapes[1])})")
    return b0[ax]


def softmax(x: np.ndarray, axis: int) -> np.ndarray:
    """Caffe's Softmax along `axis`: subtract the max, exp, divide by the sum (in x's dtype)."""
    e = np.exp(x - x.max(axis=axis, keepdims=True))
    e /= e.sum(axis=axis, keepdims=True)
    return e


class ClassLoss(Loss):
    """Shared forward of SoftmaxWithLoss and InfogainLoss: softmax along an axis, one label per position."""

    num_tops = (1, 2)
    axis: int = 1
    mode: str = VALID

    def positions(self, bottoms: list[np.ndarray]) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
        """(probabilities (outer, C, inner), labels (outer, inner), counted mask, probabilities as bottom[0])."""
        x = bottoms[0]
        outer, inner = count(x.shape, 0, self.axis), count(x.shape, self.axis + 1)
        n_classes = x.shape[self.axis]
        prob = softmax(x.reshape(outer, n_classes, inner), 1)
        labels = int_labels(bottoms[1]).reshape(outer, inner)
        valid = ignore_mask(self.lp, labels)
        check_label_range(self, labels, valid, n_classes)
        return prob, labels, valid, prob.reshape(x.shape)

    def finish(self, loss: float, valid: np.ndarray, prob: np.ndarray, run: RunContext) -> list[np.ndarray]:
        """Top[0] = loss / normalizer, and top[1] = the probabilities when asked for."""
        outer, inner = valid.shape
        norm = normalizer(self.mode, outer, inner, int(valid.sum()))
        tops = [self.scalar(np.float64(np.dtype(run.dtype).type(loss)) / norm, run)]
        if len(self.top_shapes) > 1:
            tops.append(np.asarray(prob, dtype=run.dtype))
        return tops


@register("SoftmaxWithLoss")
class SoftmaxWithLoss(ClassLoss):
    """Caffe's ``SoftmaxWithLoss``; see the module docstring."""

    def reshape(self, bottom_shapes: list[Shape], ctx: Context) -> None:
        axis = int(self.lp.softmax_param.axis)
        _labels_match(self, bottom_shapes, axis, "softmax")
        self.axis = axis_index(self, bottom_shapes[0], axis)
        self.mode = normalization_mode(self.lp, VALID)

    def counts(self, bottom_shapes: list[Shape], top_shapes: list[Shape]) -> Counts:
        return Counts(0, 5 * count(bottom_shapes[0]) + 2 * count(bottom_shapes[1]))

    def forward(self, bottoms: list[np.ndarray], blobs: list[np.ndarray], run: RunContext) -> list[np.ndarray]:
        prob, labels, valid, full = self.positions(bottoms)
        picked = np.take_along_axis(prob, np.where(valid, labels, 0)[:, None, :], axis=1)[:, 0, :]
        loss = -np.log(np.maximum(picked[valid].astype(np.float64), FLT_MIN)).sum()
        return self.finish(loss, valid, full, run)


@register("InfogainLoss")
class InfogainLoss(ClassLoss):
    """Caffe's ``InfogainLoss``; see the module docstring."""

    num_bottoms = (2, 3)
    per_element = 8
    h_path: Path | None = None
    h_matrix: np.ndarray | None = None

    def reshape(self, bottom_shapes: list[Shape], ctx: Context) -> None:
        p = self.lp.infogain_loss_param
        self.check(not self.lp.loss_param.HasField("normalize"), 'normalize is deprecated. use "normalization"')
        axis = int(p.axis) if "axis" in p.DESCRIPTOR.fields_by_name else 1
        n = _labels_match(self, bottom_shapes, axis, "infogain")
        self.axis = axis_index(self, bottom_shapes[0], axis)
        self.mode = normalization_mode(self.lp, VALID)
        if len(bottom_shapes) > 2:
            h = count(bottom_shapes[2])
        else:
            self.check(field_set(p, "source"), "Infogain matrix source must be specified.")
            found = ctx.resolve(p.source)
            if found is None:
                ctx.warnings.append(f"layer '{self.name}': infogain matrix '{p.source}' not found; "
                                    f"its size ({n}x{n}) is not checked")
                return
            self.h_path = found
            self.h_matrix = mean_blob(self, found, "infogain matrix")  # a regular file, bounded, located errors
            h = self.h_matrix.size
        self.check(h == n * n, f"the infogain matrix has {h} values; {n} labels need {n}x{n} = {n * n}")

    def forward_refusal(self) -> str | None:
        if len(self.bottom_shapes) < 3 and self.h_path is None:
            return f"the infogain matrix '{self.lp.infogain_loss_param.source}' was not found"
        return super().forward_refusal()

    def matrix(self, bottoms: list[np.ndarray], n: int) -> np.ndarray:
        """H as (n, n), row = true label: the 3rd bottom, else the source file (read once)."""
        if len(bottoms) > 2:
            return np.asarray(bottoms[2], dtype=np.float64).reshape(n, n)
        assert self.h_matrix is not None  # read at set-up (forward_refusal stops a run without it)
        self.check(self.h_matrix.size == n * n, f"the infogain matrix has {self.h_matrix.size} values; "
                                                f"{n} labels need {n}x{n}")
        return self.h_matrix.astype(np.float64).reshape(n, n)

    def forward(self, bottoms: list[np.ndarray], blobs: list[np.ndarray], run: RunContext) -> list[np.ndarray]:
        prob, labels, valid, full = self.positions(bottoms)
        h = self.matrix(bottoms, prob.shape[1]).astype(run.dtype)
        log_p = np.log(np.maximum(prob, np.dtype(run.dtype).type(LOG_THRESHOLD)).astype(np.float64))
        rows = h[labels[valid]].astype(np.float64)               # (valid, C)
        loss = -np.einsum("vc,vc->", rows, log_p.transpose(0, 2, 1)[valid], optimize=True)
        return self.finish(loss, valid, full, run)


@register("EuclideanLoss")
class EuclideanLoss(Loss):
    """Caffe's ``EuclideanLoss``; see the module docstring."""

    per_element = 3
    uses_num = True

    def reshape(self, bottom_shapes: list[Shape], ctx: Context) -> None:
        a, b = bottom_shapes[0], bottom_shapes[1]
        self.check(count(a, 1) == count(b, 1),
                   f"Inputs must have the same dimension. ({shape_string(a)} vs. {shape_string(b)})")

    def forward(self, bottoms: list[np.ndarray], blobs: list[np.ndarray], run: RunContext) -> list[np.ndarray]:
        diff = bottoms[0].reshape(-1) - bottoms[1].reshape(-1)
        dot = float(np.dot(diff, diff))
        return [self.scalar(dot / bottoms[0].shape[0] / 2.0, run)]


@register("SigmoidCrossEntropyLoss")
class SigmoidCrossEntropyLoss(Loss):
    """Caffe's ``SigmoidCrossEntropyLoss``; see the module docstring."""

    per_element = 6
    mode: str = BATCH_SIZE

    def reshape(self, bottom_shapes: list[Shape], ctx: Context) -> None:
        a, b = bottom_shapes[0], bottom_shapes[1]
        self.check(count(a) == count(b),
                   f"SIGMOID_CROSS_ENTROPY_LOSS layer inputs must have the same count. "
                   f"({shape_string(a)} vs. {shape_string(b)})")
        self.mode = normalization_mode(self.lp, BATCH_SIZE)

    def forward(self, bottoms: list[np.ndarray], blobs: list[np.ndarray], run: RunContext) -> list[np.ndarray]:
        x = bottoms[0].reshape(-1).astype(np.float64)
        t = bottoms[1].reshape(-1).astype(np.float64)
        valid = ignore_mask(self.lp, int_labels(t))
        pos = (x >= 0).astype(np.float64)
        terms = x * (t - pos) - np.log(1.0 + np.exp(x - 2.0 * x * pos))
        loss = -terms[valid].sum()
        outer = bottoms[0].shape[0]
        norm = normalizer(self.mode, outer, count(bottoms[0].shape, 1), int(valid.sum()))
        return [self.scalar(np.float64(np.dtype(run.dtype).type(loss)) / norm, run)]


def _per_sample_labels(layer: Layer, label: np.ndarray, num: int, dim: int) -> np.ndarray:
    """The first `num` labels (``label[i]``, flat), checked to index a row of `dim` values."""
    labels = int_labels(label.reshape(-1)[:num])
    check_label_range(layer, labels, np.ones(labels.shape, dtype=bool), dim)
    return labels


@register("HingeLoss")
class HingeLoss(Loss):
    """Caffe's ``HingeLoss``; see the module docstring."""

    per_element = 3
    uses_num = True

    def forward(self, bottoms: list[np.ndarray], blobs: list[np.ndarray], run: RunContext) -> list[np.ndarray]:
        num = bottoms[0].shape[0]
        scores = bottoms[0].reshape(num, -1).astype(np.float64)
        labels = _per_sample_labels(self, bottoms[1], num, scores.shape[1])
        rows = np.arange(num)
        scores[rows, labels] *= -1.0
        margins = np.maximum(0.0, 1.0 + scores.astype(run.dtype)).astype(np.float64)
        l2 = self.lp.hinge_loss_param.norm == type(self.lp.hinge_loss_param).L2
        total = float(np.dot(margins.ravel(), margins.ravel())) if l2 else float(margins.sum())
        return [self.scalar(total / num, run)]


@register("MultinomialLogisticLoss")
class MultinomialLogisticLoss(Loss):
    """Caffe's ``MultinomialLogisticLoss``; see the module docstring."""

    uses_num = True

    def reshape(self, bottom_shapes: list[Shape], ctx: Context) -> None:
        label = bottom_shapes[1]
        for i, name in ((1, "channels"), (2, "height"), (3, "width")):
            self.check(legacy_dim(self, label, i) == 1, f"the label blob's {name} must be 1 "
                       f"(labels {shape_string(label)})")

    def counts(self, bottom_shapes: list[Shape], top_shapes: list[Shape]) -> Counts:
        return Counts(0, 2 * legacy_dim(self, bottom_shapes[0], 0))

    def forward(self, bottoms: list[np.ndarray], blobs: list[np.ndarray], run: RunContext) -> list[np.ndarray]:
        num = bottoms[0].shape[0]
        prob = bottoms[0].reshape(num, -1)
        labels = _per_sample_labels(self, bottoms[1], num, prob.shape[1])
        picked = np.maximum(prob[np.arange(num), labels], np.dtype(run.dtype).type(LOG_THRESHOLD)).astype(np.float64)
        return [self.scalar(-np.log(picked).sum() / num, run)]


@register("ContrastiveLoss")
class ContrastiveLoss(Loss):
    """Caffe's ``ContrastiveLoss``; see the module docstring."""

    num_bottoms = (3, 3)
    uses_num = True

    def reshape(self, bottom_shapes: list[Shape], ctx: Context) -> None:
        a, b, y = bottom_shapes[0], bottom_shapes[1], bottom_shapes[2]
        self.check(legacy_dim(self, a, 1) == legacy_dim(self, b, 1),
                   f"the two feature bottoms need the same channels ({shape_string(a)} vs. {shape_string(b)})")
        for name, s in (("bottom[0]", a), ("bottom[1]", b)):
            self.check(legacy_dim(self, s, 2) == 1 and legacy_dim(self, s, 3) == 1,
                       f"{name} must have height and width 1 ({shape_string(s)})")
        for i in (1, 2, 3):
            self.check(legacy_dim(self, y, i) == 1, f"the similarity bottom must be (N, 1, 1, 1) ({shape_string(y)})")

    def counts(self, bottom_shapes: list[Shape], top_shapes: list[Shape]) -> Counts:
        return Counts(0, 3 * count(bottom_shapes[0]) + 4 * legacy_dim(self, bottom_shapes[0], 0))

    def forward(self, bottoms: list[np.ndarray], blobs: list[np.ndarray], run: RunContext) -> list[np.ndarray]:
        num = bottoms[0].shape[0]
        diff = bottoms[0].reshape(num, -1) - bottoms[1].reshape(num, -1)
        dist_sq = np.einsum("nc,nc->n", diff, diff).astype(np.float64)
        similar = int_labels(bottoms[2].reshape(-1)[:num]) != 0
        p = self.lp.contrastive_loss_param
        margin = float(np.dtype(run.dtype).type(p.margin))
        if p.legacy_version:
            apart = np.maximum(margin - dist_sq, 0.0)
        else:
            apart = np.maximum(margin - np.sqrt(dist_sq), 0.0) ** 2
        loss = np.where(similar, dist_sq, apart).sum()
        return [self.scalar(loss / num / 2.0, run)]


@register("SmoothL1Loss")
class SmoothL1Loss(Loss):
    """py-faster-rcnn's ``SmoothL1Loss``; see the module docstring."""

    num_bottoms = (2, 4)
    uses_num = True

    def reshape(self, bottom_shapes: list[Shape], ctx: Context) -> None:
        if len(bottom_shapes) >= 3:
            self.check(len(bottom_shapes) == 4, "If weights are used, must specify both inside and outside weights")
        ref = bottom_shapes[0]
        for i, s in enumerate(bottom_shapes[1:], start=1):
            for j, name in ((1, "channels"), (2, "height"), (3, "width")):
                self.check(legacy_dim(self, ref, j) == legacy_dim(self, s, j),
                           f"bottom[{i}] {name} differ from bottom[0]'s ({shape_string(s)} vs. {shape_string(ref)})")

    def counts(self, bottom_shapes: list[Shape], top_shapes: list[Shape]) -> Counts:
        per = 7 if len(bottom_shapes) == 4 else 5
        return Counts(0, per * count(bottom_shapes[0]))

    def forward_refusal(self) -> str | None:
        n = count(self.bottom_shapes[0])
        for i, s in enumerate(self.bottom_shapes[2:], start=2):
            if count(s) != n:
                return f"bottom[{i}] {shape_string(s)} has not bottom[0]'s {n} values (its num differs)"
        return super().forward_refusal()

    def forward(self, bottoms: list[np.ndarray], blobs: list[np.ndarray], run: RunContext) -> list[np.ndarray]:
        dt = np.dtype(run.dtype).type
        diff = bottoms[0].reshape(-1) - bottoms[1].reshape(-1)
        if len(bottoms) == 4:
            diff = bottoms[2].reshape(-1) * diff
        sigma = dt(self.lp.smooth_l1_loss_param.sigma)
        sigma2 = float(dt(sigma * sigma))
        x = diff.astype(np.float64)
        ax = np.abs(x)
        errors = np.where(ax < 1.0 / sigma2, 0.5 * x * x * sigma2, ax - 0.5 / sigma2).astype(dt)
        if len(bottoms) == 4:
            errors = bottoms[3].reshape(-1) * errors
        return [self.scalar(float(errors.astype(np.float64).sum()) / bottoms[0].shape[0], run)]


@register("MultiBoxLoss")
class MultiBoxLoss(Loss):
    """SSD's ``MultiBoxLoss``; see the module docstring."""

    num_bottoms = (4, 4)

    def reshape(self, bottom_shapes: list[Shape], ctx: Context) -> None:
        p = self.lp.multibox_loss_param
        self.check(field_set(p, "num_classes"), "Must provide num_classes.")
        n_classes = int(p.num_classes)
        self.check(n_classes >= 1, "num_classes should not be less than 1.")
        loc, conf, prior = bottom_shapes[0], bottom_shapes[1], bottom_shapes[2]
        legacy_dim(self, bottom_shapes[3], 2)
        check_box_predictions(self, loc, conf, prior, n_classes, p.share_location)

    def forward_refusal(self) -> str | None:
        return ("MultiBoxLoss has no forward in caffecx: SSD's ground-truth matching and hard negative "
                "mining are not reproduced (a training-only loss; deploy nets drop it)")

