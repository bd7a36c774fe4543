"""Accuracy: top-k classification accuracy (TEST-phase metric, not a loss).

Caffe rule (AccuracyLayer): ``top_k`` may not exceed ``count(bottom[0]) / count(bottom[1])``; labels
are per position along ``axis`` (default 1): ``count(0, axis) * count(axis+1)`` of them. Top[0] is a
0-axis scalar (printed ``Top shape: (1)``); an optional top[1] holds per-class accuracies
``(bottom[0].shape(axis),)``.

Forward: a counted position (label not ``accuracy_param.ignore_label``; labels truncate like
``static_cast<int>``) is correct when at most ``top_k`` scores are ``>=`` the true class's score, the
true class included: ties count *against* the example (two equal best scores make a top-1 miss), and
a NaN true score counts as correct (no comparison holds). top[0] = correct / counted (0 when nothing
is counted); top[1][c] = correct / counted among labels c (0 for a class never seen).

FLOPs: ``top_k`` comparisons per element of bottom[0].
"""

from __future__ import annotations

import numpy as np

from caffecx.layers._common import axis_index, check_blob_counts, shape_string
from caffecx.layers._loss_norm import check_label_range, ignore_mask, int_labels
from caffecx.layers.base import Context, Counts, Layer, RunContext, Shape, count, register


@register("Accuracy")
class Accuracy(Layer):
    """Caffe's ``Accuracy``; see the module docstring."""

    num_bottoms = (2, 2)
    num_tops = (1, 2)

    def setup(self, bottom_shapes: list[Shape], ctx: Context) -> list[Shape]:
        check_blob_counts(self, bottom_shapes)
        p = self.lp.accuracy_param
        pred, label = tuple(bottom_shapes[0]), tuple(bottom_shapes[1])
        n_labels = count(label)
        self.check(n_labels > 0 and int(p.top_k) <= count(pred) // n_labels,
                   "top_k must be less than or equal to the number of classes.")
        axis = axis_index(self, pred, int(p.axis))
        self.check(count(pred, 0, axis) * count(pred, axis + 1) == n_labels,
                   f"Number of labels must match number of predictions; e.g., if label axis == 1 and "
                   f"prediction shape is (N, C, H, W), label count (number of labels) must be N*H*W, with "
                   f"integer values in {{0, 1, ..., C-1}}. (predictions {shape_string(pred)}, "
                   f"labels {shape_string(label)})")
        self.axis, self.top_k = axis, int(p.top_k)
        tops: list[Shape] = [()]
        if len(self.lp.top) > 1:
            tops.append((pred[axis],))
        return tops

    def counts(self, bottom_shapes: list[Shape], top_shapes: list[Shape]) -> Counts:
        return Counts(0, int(self.lp.accuracy_param.top_k) * count(bottom_shapes[0]))

    def forward(self, bottoms: list[np.ndarray], blobs: list[np.ndarray], run: RunContext) -> list[np.ndarray]:
        x = bottoms[0]
        outer, inner = count(x.shape, 0, self.axis), count(x.shape, self.axis + 1)
        n_classes = x.shape[self.axis]
        scores = x.reshape(outer, n_classes, inner)
        labels = int_labels(bottoms[1]).reshape(outer, inner)
        valid = ignore_mask(self.lp, labels, self.lp.accuracy_param)
        check_label_range(self, labels, valid, n_classes)
        true = np.take_along_axis(scores, np.where(valid, labels, 0)[:, None, :], axis=1)
        at_least = (scores >= true).sum(axis=1)               # the true class itself included
        correct = (at_least <= self.top_k)[valid]
        counted = int(valid.sum())
        tops = [np.asarray(correct.sum() / counted if counted else 0.0, dtype=run.dtype)]
        if len(self.top_shapes) > 1:
            seen = np.bincount(labels[valid], minlength=n_classes).astype(np.float64)
            hits = np.bincount(labels[valid][correct], minlength=n_classes).astype(np.float64)
            per_class = np.divide(hits, seen, out=np.zeros(n_classes), where=seen > 0)
            tops.append(np.asarray(per_class, dtype=run.dtype))
        return tops
