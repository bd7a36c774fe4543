"""Caffe's loss normalization (``LossParameter``) and the label rules shared by the loss layers.

* Modes (``get_normalizer`` of SoftmaxWithLoss, SigmoidCrossEntropyLoss, InfogainLoss): FULL divides by
  ``outer * inner`` (ignored positions included), VALID by the number of non-ignored positions (FULL
  when nothing can be ignored, since then every position counts), BATCH_SIZE by ``outer``, NONE by 1;
  the divisor is then raised to at least 1 (``max(1, normalizer)``: all-ignored batches give 0, not NaN).
* Which mode: an explicit ``normalization`` wins; else the deprecated ``normalize`` maps true -> VALID,
  false -> BATCH_SIZE; else the layer's default (VALID for SoftmaxWithLoss and InfogainLoss,
  BATCH_SIZE for SigmoidCrossEntropyLoss, "for historical reasons"). InfogainLoss refuses ``normalize``.
* Labels are read as ``static_cast<int>(value)`` (truncation toward zero); a position whose label equals
  ``loss_param.ignore_label`` (when set) is skipped. Caffe only DCHECKs the range of the others (a
  release build reads stray memory); caffecx refuses an out-of-range label with a located error.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from caffecx.layers.base import Layer

FULL, VALID, BATCH_SIZE, NONE = "FULL", "VALID", "BATCH_SIZE", "NONE"
#: Caffe's ``kLOG_THRESHOLD`` (MultinomialLogisticLoss, InfogainLoss).
LOG_THRESHOLD = 1e-20
#: ``FLT_MIN``, SoftmaxWithLoss's floor under a probability (the source of its famous 87.3365 loss).
FLT_MIN = float(np.finfo(np.float32).tiny)


def normalization_mode(lp: Any, default: str = VALID) -> str:
    """The normalization mode a loss layer uses (see the module docstring)."""
    p = lp.loss_param
    if p.HasField("normalization"):
        return str(type(p).NormalizationMode.Name(p.normalization))
    if p.HasField("normalize"):
        return VALID if p.normalize else BATCH_SIZE
    return default


def normalizer(mode: str, outer: int, inner: int, valid: int) -> float:
    """Caffe's ``get_normalizer(mode, valid_count)``, floored at 1."""
    value = {FULL: outer * inner, VALID: valid, BATCH_SIZE: outer, NONE: 1}[mode]
    return float(max(1, value))


def int_labels(labels: np.ndarray) -> np.ndarray:
    """``static_cast<int>`` of each label (truncation toward zero), as int64."""
    return np.trunc(np.asarray(labels, dtype=np.float64)).astype(np.int64)


def ignore_mask(lp: Any, labels: np.ndarray, param: Any = None) -> np.ndarray:
    """True where a label counts: not equal to ``ignore_label`` (of ``param``, default ``loss_param``)."""
    p = lp.loss_param if param is None else param
    if p.HasField("ignore_label"):
        return labels != int(p.ignore_label)
    return np.ones(labels.shape, dtype=bool)


def check_label_range(layer: Layer, labels: np.ndarray, valid: np.ndarray, n_classes: int) -> None:
    """Refuse a counted label outside ``[0, n_classes)`` (Caffe's DCHECKs), naming the first one."""
    bad = valid & ((labels < 0) | (labels >= n_classes))
    if bad.any():
        first = int(np.flatnonzero(bad.ravel())[0])
        raise layer.fail(f"label {int(labels.ravel()[first])} at position {first} is outside [0, {n_classes}) "
                         f"(Caffe only DCHECKs this; a release build reads unrelated memory)")
