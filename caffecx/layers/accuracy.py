"""Accuracy: top-k classification accuracy (TEST-phase metric, not a loss).

Caffe rule (AccuracyLayer): ``top_k`` may not exceed ``count(bottom[0]) / count(bottom[1])``; labels
are per position along ``axis`` (default 1): ``count(0, axis) * count(axis+1)`` of them. Top[0] is a
0-axis scalar (printed ``Top shape: (1)``); an optional top[1] holds per-class accuracies
``(bottom[0].shape(axis),)``.

FLOPs: ``top_k`` comparisons per element of bottom[0].
"""

from __future__ import annotations

from caffecx.layers._common import axis_index, check_blob_counts, shape_string
from caffecx.layers.base import Context, Counts, Layer, Shape, count, register


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
        tops: list[Shape] = [()]
        if len(self.lp.top) > 1:
            tops.append((pred[axis],))
        return tops

    def counts(self, bottom_shapes: list[Shape], top_shapes: list[Shape]) -> Counts:
        return Counts(0, int(self.lp.accuracy_param.top_k) * count(bottom_shapes[0]))
