"""DetectionOutput (SSD fork): decode boxes, per-class NMS, keep the top detections.

Caffe rule (weiliu89/caffe DetectionOutputLayer), bottoms ``loc (N, P*4*L)``, ``conf (N, P*C)``,
``priors (1, 2, P*4)`` with P = priors height / 4, C = ``num_classes`` (required), L = 1 with
``share_location`` (default) else C. Checks: equal batch of loc and conf, the two "Number of priors
must match ..." counts, ``nms_threshold >= 0``, ``0 < eta <= 1``.

The number of detections is only known after the forward pass, so at set-up Caffe shapes the top as
``(1, 1, 1, 7)`` (one fake row of ``[image_id, label, confidence, xmin, ymin, xmax, ymax]``) and that is
what its log prints; the forward pass reshapes it to ``(1, 1, kept, 7)`` (``kept`` >= N when nothing is
found). FLOPs: 0 (data-dependent, not counted).

Forward (weiliu89/caffe ``ssd`` branch, ``Forward_cpu`` + ``bbox_util.cpp``), in float32 as the fork's
``NormalizedBBox`` protos hold the values:

* priors: the first ``P*4`` values of the prior blob are boxes, the next ``P*4`` their variances;
* decoding per ``code_type`` (CORNER: ``prior + var * loc``; CENTER_SIZE: centre ``var * loc * size +
  centre``, size ``exp(var * loc) * size``; CORNER_SIZE: ``corner + var * loc * size``); with
  ``variance_encoded_in_target`` the variances are left out. Boxes are not clipped; a box's area is 0 when
  it is inverted. CENTER_SIZE and CORNER_SIZE need every prior wider and taller than 0 (Caffe's CHECK);
* per image and class (the background class skipped): the scores strictly above
  ``confidence_threshold`` (unset: all), stably sorted descending, cut to ``nms_param.top_k``, then greedy
  NMS: a box is kept when its IoU with every kept box is ``<=`` the threshold (adaptive: after each keep,
  ``threshold *= eta`` while it is above 0.5);
* ``keep_top_k`` (> -1): when an image has more detections, its best ``keep_top_k`` over all classes;
* rows ``[image, label, score, xmin, ymin, xmax, ymax]``: images in order, labels ascending, each label's
  boxes by descending score. No detection at all: one row per image, ``[i, -1, -1, -1, -1, -1, -1]``.

The top's row count is data dependent (``data_dependent_top``): the planned ``(1, 1, 1, 7)`` is only
Caffe's set-up shape. ``background_label_id: -1`` with ``share_location`` makes the fork's decoder skip
the shared boxes and Caffe dies ("Could not find location predictions for label -1"); caffecx refuses
that run. ``save_output_param``/``visualize`` side effects (files, windows) are not reproduced.
"""

from __future__ import annotations

import numpy as np

from caffecx.layers._common import check_blob_counts, check_box_predictions, field_set
from caffecx.layers.base import Context, Layer, RunContext, Shape, register

_FLT_MAX = float(np.finfo(np.float32).max)
_MATRIX_MAX = 1024  # NMS candidates up to this count get one IoU matrix; more are compared row by row


def decode_boxes(loc: np.ndarray, prior: np.ndarray, var: np.ndarray, code: str,
                 in_target: bool) -> np.ndarray:
    """Decoded ``(..., P, 4)`` corners from ``loc (..., P, 4)``, priors and variances ``(P, 4)`` (float32)."""
    if in_target:
        var = np.ones_like(var)
    if code == "CORNER":
        return prior + var * loc
    pw = prior[:, 2] - prior[:, 0]
    ph = prior[:, 3] - prior[:, 1]
    size = np.stack([pw, ph, pw, ph], axis=-1)
    if code == "CORNER_SIZE":
        return prior + var * loc * size
    centre = (prior[:, :2] + prior[:, 2:]) / np.float32(2)
    c = var[:, :2] * loc[..., :2] * size[:, :2] + centre
    half = (np.exp((var[:, 2:] * loc[..., 2:]).astype(np.float64)) * size[:, 2:]).astype(np.float32) / 2
    return np.concatenate([c - half, c + half], axis=-1)


def box_areas(boxes: np.ndarray) -> np.ndarray:
    """The fork's ``BBoxSize`` (normalized): 0 for an inverted box, else width * height."""
    w = boxes[..., 2] - boxes[..., 0]
    h = boxes[..., 3] - boxes[..., 1]
    return np.where((w < 0) | (h < 0), np.float32(0), w * h)


def iou_one(box: np.ndarray, area: np.float32, boxes: np.ndarray, areas: np.ndarray) -> np.ndarray:
    """The fork's ``JaccardOverlap`` of one box with many (0 unless the intersection is positive)."""
    w = np.minimum(boxes[:, 2], box[2]) - np.maximum(boxes[:, 0], box[0])
    h = np.minimum(boxes[:, 3], box[3]) - np.maximum(boxes[:, 1], box[1])
    inter = w * h
    with np.errstate(divide="ignore", invalid="ignore"):
        iou = inter / (areas + area - inter)
    return np.where((w > 0) & (h > 0), iou, np.float32(0))


def iou_matrix(boxes: np.ndarray, areas: np.ndarray) -> np.ndarray:
    """``JaccardOverlap`` of every pair of `boxes` (K, K) (the diagonal is not used)."""
    w = np.minimum(boxes[:, None, 2], boxes[None, :, 2]) - np.maximum(boxes[:, None, 0], boxes[None, :, 0])
    h = np.minimum(boxes[:, None, 3], boxes[None, :, 3]) - np.maximum(boxes[:, None, 1], boxes[None, :, 1])
    inter = w * h
    with np.errstate(divide="ignore", invalid="ignore"):
        iou = inter / (areas[:, None] + areas[None, :] - inter)
    return np.where((w > 0) & (h > 0), iou, np.float32(0))


def nms(boxes: np.ndarray, areas: np.ndarray, scores: np.ndarray, score_threshold: float,
        nms_threshold: float, eta: float, top_k: int) -> np.ndarray:
    """The fork's ``ApplyNMSFast``: kept indices, best score first."""
    cand = np.flatnonzero(scores > np.float32(score_threshold))
    cand = cand[np.argsort(-scores[cand], kind="stable")]
    if top_k > -1:
        cand = cand[:top_k]
    b, a = boxes[cand], areas[cand]
    keep: list[int] = []
    if eta >= 1 or nms_threshold <= 0.5:
        # constant threshold: suppressing upon each keep is the same as checking against all kept boxes
        alive = np.ones(len(cand), dtype=bool)
        if len(cand) <= _MATRIX_MAX:
            clear = iou_matrix(b, a) <= np.float32(nms_threshold)
            for k in range(len(cand)):
                if alive[k]:
                    keep.append(k)
                    alive &= clear[k]
            return cand[keep]
        for k in range(len(cand)):
            if alive[k]:
                keep.append(k)
                alive[k + 1:] &= iou_one(b[k], a[k], b[k + 1:], a[k + 1:]) <= np.float32(nms_threshold)
        return cand[keep]
    threshold = np.float32(nms_threshold)
    for k in range(len(cand)):
        if not keep or bool(np.all(iou_one(b[k], a[k], b[keep], a[keep]) <= threshold)):
            keep.append(k)
            if threshold > 0.5:
                threshold = np.float32(threshold * np.float32(eta))
    return cand[keep]


@register("DetectionOutput")
class DetectionOutput(Layer):
    """SSD's ``DetectionOutput``; see the module docstring."""

    num_bottoms = (3, 3)
    data_dependent_top = True

    def setup(self, bottom_shapes: list[Shape], ctx: Context) -> list[Shape]:
        check_blob_counts(self, bottom_shapes)
        p = self.lp.detection_output_param
        self.check(field_set(p, "num_classes"), "Must specify num_classes")
        n_classes = int(p.num_classes)
        self.check(p.nms_param.nms_threshold >= 0, "nms_threshold must be non negative.")
        self.check(0 < p.nms_param.eta <= 1, f"eta must be in (0, 1], got {p.nms_param.eta}")
        loc, conf, prior = (tuple(s) for s in bottom_shapes)
        self.n_priors = check_box_predictions(self, loc, conf, prior, n_classes, p.share_location)
        self.n_classes = n_classes
        return [(1, 1, 1, 7)]

    def forward_refusal(self) -> str | None:
        p = self.lp.detection_output_param
        if p.share_location and p.background_label_id == -1:
            return ("Could not find location predictions for label -1: with share_location the fork's "
                    "decoder skips the shared boxes when background_label_id is -1 (Caffe dies here)")
        return super().forward_refusal()

    def forward(self, bottoms: list[np.ndarray], blobs: list[np.ndarray], run: RunContext) -> list[np.ndarray]:
        """Detections ``(1, 1, kept, 7)``; see the module docstring."""
        p = self.lp.detection_output_param
        num, n_priors, n_classes = bottoms[0].shape[0], self.n_priors, self.n_classes
        n_loc = 1 if p.share_location else n_classes
        loc = np.asarray(bottoms[0], dtype=np.float32).reshape(num, n_priors, n_loc, 4).transpose(0, 2, 1, 3)
        conf = np.asarray(bottoms[1], dtype=np.float32).reshape(num, n_priors, n_classes)
        flat = np.asarray(bottoms[2], dtype=np.float32).reshape(-1)
        prior = flat[: n_priors * 4].reshape(n_priors, 4)
        var = flat[n_priors * 4: n_priors * 8].reshape(n_priors, 4)
        code = p.DESCRIPTOR.fields_by_name["code_type"].enum_type.values_by_number[p.code_type].name
        if code != "CORNER":
            self.check(bool(np.all(prior[:, 2] - prior[:, 0] > 0)), "Check failed: prior_width > 0")
            self.check(bool(np.all(prior[:, 3] - prior[:, 1] > 0)), "Check failed: prior_height > 0")
        boxes = decode_boxes(loc, prior, var, code, p.variance_encoded_in_target)  # (num, L, P, 4)
        areas = box_areas(boxes)
        rows = [self.image_rows(i, boxes[i], areas[i], conf[i]) for i in range(num)]
        if sum(len(r) for r in rows) == 0:
            out = np.full((1, 1, num, 7), -1, dtype=run.dtype)
            out[0, 0, :, 0] = np.arange(num)
            return [out]
        return [np.concatenate(rows).astype(run.dtype).reshape(1, 1, -1, 7)]

    def image_rows(self, image: int, boxes: np.ndarray, areas: np.ndarray, conf: np.ndarray) -> np.ndarray:
        """One image's detection rows ``(kept, 7)`` (float64, exact copies of the float32 values)."""
        p = self.lp.detection_output_param
        threshold = p.confidence_threshold if p.HasField("confidence_threshold") else -_FLT_MAX
        top_k = int(p.nms_param.top_k) if p.nms_param.HasField("top_k") else -1
        kept: list[tuple[int, np.ndarray]] = []
        for c in range(self.n_classes):
            if c == p.background_label_id:
                continue
            loc_c = 0 if p.share_location else c
            idx = nms(boxes[loc_c], areas[loc_c], conf[:, c], threshold, p.nms_param.nms_threshold,
                      p.nms_param.eta, top_k)
            kept.append((c, idx))
        labels = np.concatenate([np.full(len(i), c) for c, i in kept]) if kept else np.zeros(0, int)
        index = np.concatenate([i for _, i in kept]) if kept else np.zeros(0, int)
        if p.keep_top_k > -1 and len(index) > p.keep_top_k:
            best = np.argsort(-conf[index, labels], kind="stable")[: p.keep_top_k]
            best = best[np.argsort(labels[best], kind="stable")]  # labels ascending, scores descending
            labels, index = labels[best], index[best]
        loc_labels = np.zeros_like(labels) if p.share_location else labels
        rows = np.empty((len(index), 7), dtype=np.float64)
        rows[:, 0], rows[:, 1], rows[:, 2] = image, labels, conf[index, labels]
        rows[:, 3:] = boxes[loc_labels, index]
        return rows
