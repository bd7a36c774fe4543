"""DetectionOutput (SSD fork): decode boxes, per-class NMS, keep the top detections.

Caffe rule (weiliu89/caffe DetectionOutputLayer), bottoms ``loc (N, P*4*L)``, ``conf (N, P*C)``,
``priors (1, 2, P*4)`` with P = priors height / 4, C = ``num_classes`` (required), L = 1 with
``share_location`` (default) else C. Checks: equal batch of loc and conf, the two "Number of priors
must match ..." counts, ``nms_threshold >= 0``, ``0 < eta <= 1``.

The number of detections is only known after the forward pass, so at set-up Caffe shapes the top as
``(1, 1, 1, 7)`` (one fake row of ``[image_id, label, confidence, xmin, ymin, xmax, ymax]``) and that is
what its log prints; the forward pass reshapes it to ``(1, 1, kept, 7)`` (``kept`` >= N when nothing is
found). FLOPs: 0 (data-dependent, not counted).
"""

from __future__ import annotations

from caffecx.layers._common import check_blob_counts, check_box_predictions, field_set
from caffecx.layers.base import Context, Layer, Shape, register


@register("DetectionOutput")
class DetectionOutput(Layer):
    """SSD's ``DetectionOutput``; see the module docstring."""

    num_bottoms = (3, 3)

    def setup(self, bottom_shapes: list[Shape], ctx: Context) -> list[Shape]:
        check_blob_counts(self, bottom_shapes)
        p = self.lp.detection_output_param
        self.check(field_set(p, "num_classes"), "Must specify num_classes")
        n_classes = int(p.num_classes)
        self.check(p.nms_param.nms_threshold >= 0, "nms_threshold must be non negative.")
        self.check(0 < p.nms_param.eta <= 1, f"eta must be in (0, 1], got {p.nms_param.eta}")
        loc, conf, prior = (tuple(s) for s in bottom_shapes)
        check_box_predictions(self, loc, conf, prior, n_classes, p.share_location)
        return [(1, 1, 1, 7)]
