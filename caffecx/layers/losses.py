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
"""

from __future__ import annotations

from pathlib import Path

from caffecx.layers._common import (
    axis_index,
    check_blob_counts,
    check_box_predictions,
    field_set,
    legacy_dim,
    shape_string,
)
from caffecx.layers.base import Context, Counts, Layer, Shape, count, register


class Loss(Layer):
    """Base of Caffe's ``LossLayer``: two bottoms, a scalar top."""

    num_bottoms = (2, 2)
    num_tops = (1, 1)
    #: FLOPs per element of bottom[0] (see the module docstring).
    per_element: int = 0

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


@register("SoftmaxWithLoss")
class SoftmaxWithLoss(Loss):
    """Caffe's ``SoftmaxWithLoss``; see the module docstring."""

    num_tops = (1, 2)

    def reshape(self, bottom_shapes: list[Shape], ctx: Context) -> None:
        _labels_match(self, bottom_shapes, int(self.lp.softmax_param.axis), "softmax")

    def counts(self, bottom_shapes: list[Shape], top_shapes: list[Shape]) -> Counts:
        return Counts(0, 5 * count(bottom_shapes[0]) + 2 * count(bottom_shapes[1]))


@register("InfogainLoss")
class InfogainLoss(Loss):
    """Caffe's ``InfogainLoss``; see the module docstring."""

    num_bottoms = (2, 3)
    num_tops = (1, 2)
    per_element = 8

    def reshape(self, bottom_shapes: list[Shape], ctx: Context) -> None:
        p = self.lp.infogain_loss_param
        axis = int(p.axis) if "axis" in p.DESCRIPTOR.fields_by_name else 1
        n = _labels_match(self, bottom_shapes, axis, "infogain")
        if len(bottom_shapes) > 2:
            h = count(bottom_shapes[2])
        else:
            self.check(field_set(p, "source"), "Infogain matrix source must be specified.")
            found = ctx.resolve(p.source)
            if found is None:
                ctx.warnings.append(f"layer '{self.name}': infogain matrix '{p.source}' not found; "
                                    f"its size ({n}x{n}) is not checked")
                return
            h = _blob_count(found)
        self.check(h == n * n, f"the infogain matrix has {h} values; {n} labels need {n}x{n} = {n * n}")


def _blob_count(path: Path) -> int:
    """Element count of a BlobProto file (shape, else the legacy num/channels/height/width)."""
    from caffecx.proto import caffe_pb2

    blob = caffe_pb2.BlobProto()
    blob.ParseFromString(path.read_bytes())
    if blob.HasField("shape"):
        return count(tuple(blob.shape.dim))
    return int(blob.num * blob.channels * blob.height * blob.width)


@register("EuclideanLoss")
class EuclideanLoss(Loss):
    """Caffe's ``EuclideanLoss``; see the module docstring."""

    per_element = 3

    def reshape(self, bottom_shapes: list[Shape], ctx: Context) -> None:
        a, b = bottom_shapes[0], bottom_shapes[1]
        self.check(count(a, 1) == count(b, 1),
                   f"Inputs must have the same dimension. ({shape_string(a)} vs. {shape_string(b)})")


@register("SigmoidCrossEntropyLoss")
class SigmoidCrossEntropyLoss(Loss):
    """Caffe's ``SigmoidCrossEntropyLoss``; see the module docstring."""

    per_element = 6

    def reshape(self, bottom_shapes: list[Shape], ctx: Context) -> None:
        a, b = bottom_shapes[0], bottom_shapes[1]
        self.check(count(a) == count(b),
                   f"SIGMOID_CROSS_ENTROPY_LOSS layer inputs must have the same count. "
                   f"({shape_string(a)} vs. {shape_string(b)})")


@register("HingeLoss")
class HingeLoss(Loss):
    """Caffe's ``HingeLoss``; see the module docstring."""

    per_element = 3


@register("MultinomialLogisticLoss")
class MultinomialLogisticLoss(Loss):
    """Caffe's ``MultinomialLogisticLoss``; see the module docstring."""

    def reshape(self, bottom_shapes: list[Shape], ctx: Context) -> None:
        label = bottom_shapes[1]
        for i, name in ((1, "channels"), (2, "height"), (3, "width")):
            self.check(legacy_dim(self, label, i) == 1, f"the label blob's {name} must be 1 "
                       f"(labels {shape_string(label)})")

    def counts(self, bottom_shapes: list[Shape], top_shapes: list[Shape]) -> Counts:
        return Counts(0, 2 * legacy_dim(self, bottom_shapes[0], 0))


@register("ContrastiveLoss")
class ContrastiveLoss(Loss):
    """Caffe's ``ContrastiveLoss``; see the module docstring."""

    num_bottoms = (3, 3)

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


@register("SmoothL1Loss")
class SmoothL1Loss(Loss):
    """py-faster-rcnn's ``SmoothL1Loss``; see the module docstring."""

    num_bottoms = (2, 4)

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
