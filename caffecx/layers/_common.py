"""Shared helpers of the non-spatial layers: Caffe's axis rules, legacy accessors, blob counts.

* ``axis_index`` is ``Blob::CanonicalAxisIndex`` with Caffe's wording (negative axes count from the end).
* ``legacy_dim`` is ``Blob::LegacyShape`` (``num()``/``channels()``/``height()``/``width()``): a missing
  axis reads as 1, and blobs of more than 4 axes are refused — old layers (losses, SSD) use these.
* ``check_blob_counts`` is ``Layer::CheckBlobCounts`` driven by a class's ``num_bottoms``/``num_tops``.
* ``check_box_predictions`` is the SSD fork's check, in DetectionOutput and MultiBoxLoss alike, that the
  location and confidence predictions fit the priors.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

from caffecx.layers.base import Layer, Shape


def shape_string(shape: Sequence[int]) -> str:
    """Caffe's ``Blob::shape_string``: ``"3 8 10 5 (1200)"``."""
    dims = " ".join(str(d) for d in shape)
    return f"{dims} ({math.prod(shape)})" if dims else f"({math.prod(shape)})"


def axis_index(layer: Layer, shape: Sequence[int], axis: int) -> int:
    """``Blob::CanonicalAxisIndex``: ``axis`` in ``[-ndim, ndim)``, negative counting from the end."""
    n = len(shape)
    layer.check(axis >= -n, f"axis {axis} out of range for {n}-D Blob with shape {shape_string(shape)}")
    layer.check(axis < n, f"axis {axis} out of range for {n}-D Blob with shape {shape_string(shape)}")
    return axis + n if axis < 0 else axis


def legacy_dim(layer: Layer, shape: Sequence[int], index: int) -> int:
    """``Blob::LegacyShape(index)``: the dim, or 1 when the blob has fewer axes; more than 4 is an error."""
    layer.check(len(shape) <= 4, "Cannot use legacy accessors on Blobs with > 4 axes.")
    if index >= len(shape) or index < -len(shape):
        return 1
    return int(shape[index])


def check_blob_counts(layer: Layer, bottom_shapes: Sequence[Shape], auto_top: bool = False) -> None:
    """``Layer::CheckBlobCounts`` from the class's ``num_bottoms``/``num_tops`` (min, max) bounds.

    ``auto_top``: the layer has ``AutoTopBlobs()`` (losses): Caffe's Net adds anonymous tops up to the
    minimum, so fewer declared tops are not an error (the anonymous ones are not modelled here).
    """
    kind = layer.lp.type
    n_bottom, n_top = len(bottom_shapes), len(layer.lp.top)
    lo, hi = layer.num_bottoms
    if lo == hi:
        layer.check(n_bottom == lo, f"{kind} Layer takes {lo} bottom blob(s) as input.")
    layer.check(n_bottom >= lo, f"{kind} Layer takes at least {lo} bottom blob(s) as input.")
    layer.check(hi is None or n_bottom <= hi, f"{kind} Layer takes at most {hi} bottom blob(s) as input.")
    lo, hi = layer.num_tops
    if auto_top:
        lo = min(lo, n_top)
    if lo == hi:
        layer.check(n_top == lo, f"{kind} Layer produces {lo} top blob(s) as output.")
    layer.check(n_top >= lo, f"{kind} Layer produces at least {lo} top blob(s) as output.")
    layer.check(hi is None or n_top <= hi, f"{kind} Layer produces at most {hi} top blob(s) as output.")


def not_in_place(layer: Layer) -> None:
    """Layers whose tops may not alias their bottom (Flatten, Reshape, Split, ...)."""
    for t in layer.lp.top:
        layer.check(t not in layer.lp.bottom, f"{layer.lp.type} Layer does not allow in-place computation.")


def field_set(msg: Any, name: str) -> bool:
    """True when optional field `name` exists in the schema and is set."""
    return name in msg.DESCRIPTOR.fields_by_name and msg.HasField(name)


def values(msg: Any, name: str) -> list[Any]:
    """A field as a list whether the schema declares it repeated or optional (fork protos differ)."""
    if name not in msg.DESCRIPTOR.fields_by_name:
        return []
    fd = msg.DESCRIPTOR.fields_by_name[name]
    if _is_repeated(fd):
        return list(getattr(msg, name))
    return [getattr(msg, name)] if msg.HasField(name) else []


def _is_repeated(fd: Any) -> bool:
    repeated = getattr(fd, "is_repeated", None)
    if repeated is not None:
        return bool(repeated)
    return fd.label == fd.LABEL_REPEATED


def check_box_predictions(layer: Any, loc: Shape, conf: Shape, prior: Shape, n_classes: int,
                          share_location: bool) -> int:
    """SSD's CHECKs on ``loc (N, P*4*L)``, ``conf (N, P*C)``, ``priors (1, 2, P*4)`` (L = 1 when the
    location is shared, else C); returns P, the number of priors."""
    n_priors = legacy_dim(layer, prior, 2) // 4
    loc_classes = 1 if share_location else n_classes
    layer.check(legacy_dim(layer, loc, 0) == legacy_dim(layer, conf, 0),
                f"loc and conf need the same batch ({shape_string(loc)} vs. {shape_string(conf)})")
    layer.check(n_priors * loc_classes * 4 == legacy_dim(layer, loc, 1),
                f"Number of priors must match number of location predictions. ({n_priors} priors * "
                f"{loc_classes} * 4 vs. {legacy_dim(layer, loc, 1)})")
    layer.check(n_priors * n_classes == legacy_dim(layer, conf, 1),
                f"Number of priors must match number of confidence predictions. ({n_priors} priors * "
                f"{n_classes} classes vs. {legacy_dim(layer, conf, 1)})")
    return n_priors


def onnx_reshape(ctx: Any, x: str, shape_in: Sequence[int], shape_out: Sequence[int], out: str | None = None) -> str:
    """ONNX Reshape of `x` from `shape_in` to `shape_out` (``ctx`` an `OnnxContext`): the leading dims both
    share are copied with ``0`` (the batch stays free under ``dynamic_batch``); else a dynamic batch axis
    becomes ``-1``."""
    target = [int(d) for d in shape_out]
    same = 0
    while same < min(len(shape_in), len(target)) and shape_in[same] == target[same]:
        same += 1
    target[:same] = [0] * same
    if ctx.dynamic_batch and same == 0 and target and -1 not in target:
        target[0] = -1
    return ctx.op("Reshape", [x, ctx.ints(target)], out)
