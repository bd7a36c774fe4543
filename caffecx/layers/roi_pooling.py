"""ROIPooling (py-faster-rcnn / caffe-fast-rcnn fork): max pooling of regions of interest.

Fork rule (ROIPoolingLayer): bottom[0] is the feature map ``(N, C, H, W)``, bottom[1] the ROIs
``(R, 5)`` (batch index, x1, y1, x2, y2 in input-image pixels, scaled by ``spatial_scale``); top =
``(R, C, pooled_h, pooled_w)``. CHECKs: ``pooled_h > 0``, ``pooled_w > 0``. No stored blobs.

Counts: the work depends on the ROI boxes, known only at run time, so FLOPs are an upper bound: every ROI
covering the whole map, one comparison per input element per ROI: R*C*H*W. Receptive field: global
(an ROI may span the whole map).

Forward (``ROIPoolingLayer::Forward_cpu``): an ROI's corners are ``round(coord * spatial_scale)`` (C's
round: halves away from zero) and its batch index is truncated to int; its size is ``max(end - start + 1,
1)``; bin ``ph`` spans rows ``[floor(ph * bin_h), ceil((ph + 1) * bin_h))`` offset by the start and clamped
to the map (``bin_h = roi_h / pooled_h`` in the run's float type), likewise for columns. A bin's value is
its maximum (NaN ignored, never below ``-FLT_MAX``); an empty bin gives 0.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from caffecx.layers._common import onnx_reshape
from caffecx.layers.base import GLOBAL, Context, Counts, Layer, RunContext, Shape, Window, register
from caffecx.layers.spatial import require_4d

_FLT_MAX = float(np.finfo(np.float32).max)


def c_round(x: np.ndarray) -> np.ndarray:
    """C's ``round``: halves away from zero (NumPy's ``round`` goes to even)."""
    return np.sign(x) * np.floor(np.abs(x) + 0.5)


def bin_bounds(start: np.ndarray, end: np.ndarray, pooled: int, limit: int,
               dtype: type) -> tuple[np.ndarray, np.ndarray]:
    """Clamped ``[lo, hi)`` ``(R, pooled)`` of every ROI's bins along one axis, as the fork computes them
    (``bin = max(end - start + 1, 1) / pooled`` in the run's float type, floor/ceil, offset, clamp)."""
    size = np.maximum(end - start + 1, 1).astype(dtype)
    step = size / dtype(pooled)
    ks = np.arange(pooled + 1, dtype=dtype)
    lo = np.floor(ks[None, :-1] * step[:, None]).astype(np.int64) + start[:, None]
    hi = np.ceil(ks[None, 1:] * step[:, None]).astype(np.int64) + start[:, None]
    return np.clip(lo, 0, limit), np.clip(hi, 0, limit)


def segment_max(a: np.ndarray, lo: np.ndarray, hi: np.ndarray, axis: int) -> np.ndarray:
    """Max of ``a[lo[i]:hi[i]]`` along `axis` for every i, starting from ``-FLT_MAX`` as the fork does
    (NaN never wins; an empty segment gives ``-FLT_MAX``, which the caller masks)."""
    floor = a.dtype.type(-_FLT_MAX)
    lead = (slice(None),) * axis
    parts = [np.fmax.reduce(a[(*lead, slice(b, e))], axis=axis, initial=floor)
             for b, e in zip(lo.tolist(), hi.tolist(), strict=True)]
    return np.stack(parts, axis=axis)


@register("ROIPooling")
class ROIPooling(Layer):
    """The fork's ``ROIPooling``; see the module docstring."""

    num_bottoms = (2, 2)

    def setup(self, bottom_shapes: list[Shape], ctx: Context) -> list[Shape]:
        p = self.lp.roi_pooling_param
        ph, pw = int(p.pooled_h), int(p.pooled_w)
        self.check(ph > 0, "pooled_h must be > 0")
        self.check(pw > 0, "pooled_w must be > 0")
        data, rois = tuple(bottom_shapes[0]), tuple(bottom_shapes[1])
        require_4d(data, self.check)
        self.check(len(rois) >= 1, "the ROI bottom must have at least one axis (num_rois)")
        self.check(rois[0] == 0 or np.prod(rois[1:], dtype=np.int64) >= 5,
                   f"each ROI needs 5 values (batch index, x1, y1, x2, y2); the ROI bottom is {list(rois)}")
        self.pooled, self.spatial_scale = (ph, pw), p.spatial_scale
        return [(rois[0], data[1], ph, pw)]

    def to_onnx(self, ctx: Any, bottoms: list[str], tops: list[str], blobs: list[np.ndarray]) -> None:
        """ONNX MaxRoiPool (Caffe's ROIPooling: rounded scaled corners, max per bin, empty bins 0)."""
        rois = self.bottom_shapes[1]
        boxes = bottoms[1] if len(rois) == 2 else onnx_reshape(ctx, bottoms[1], rois, (rois[0], 5))
        ctx.op("MaxRoiPool", [bottoms[0], boxes], tops[0], pooled_shape=list(self.pooled),
               spatial_scale=float(np.float32(self.spatial_scale)))

    def forward(self, bottoms: list[np.ndarray], blobs: list[np.ndarray], run: RunContext) -> list[np.ndarray]:
        """Max over each ROI's bins (a loop over ROIs; the bins of one ROI are two segmented reductions)."""
        dt = np.dtype(run.dtype).type
        x = np.asarray(bottoms[0], dtype=dt)
        n, c, h, w = x.shape
        ph, pw = self.pooled
        r = bottoms[1].shape[0]
        if r == 0:
            return [np.zeros(self.top_shapes[0], dtype=dt)]
        rois = np.asarray(bottoms[1], dtype=dt).reshape(r, -1)[:, :5]
        batch = rois[:, 0].astype(np.int64)  # static_cast<int>: truncation
        bad = np.flatnonzero((batch < 0) | (batch >= n))
        self.check(len(bad) == 0, f"ROI {bad[0] if len(bad) else 0} has batch index out of [0, {n})")
        corners = c_round(rois[:, 1:] * dt(self.spatial_scale)).astype(np.int64)  # x1, y1, x2, y2
        # channels last, so each bin's max runs over contiguous channel vectors
        nhwc = np.ascontiguousarray(x.transpose(0, 2, 3, 1))
        top = np.empty((r, ph, pw, c), dtype=dt)
        hs_all, he_all = bin_bounds(corners[:, 1], corners[:, 3], ph, h, dt)
        ws_all, we_all = bin_bounds(corners[:, 0], corners[:, 2], pw, w, dt)
        for i in range(r):
            hs, he, ws, we = hs_all[i], he_all[i], ws_all[i], we_all[i]
            r0, c0 = hs.min(), ws.min()
            region = nhwc[batch[i], r0:he.max(), c0:we.max()]
            rows = segment_max(region, hs - r0, he - r0, axis=0)
            bins = segment_max(rows, ws - c0, we - c0, axis=1)
            empty = (he <= hs)[:, None] | (we <= ws)[None, :]
            top[i] = np.where(empty[..., None], dt(0), bins)
        return [np.ascontiguousarray(top.transpose(0, 3, 1, 2))]

    def counts(self, bottom_shapes: list[Shape], top_shapes: list[Shape]) -> Counts:
        data, rois = bottom_shapes[0], bottom_shapes[1]
        return Counts(0, rois[0] * data[1] * data[2] * data[3])

    def window(self, bottom_shapes: list[Shape]) -> Window | None:
        return GLOBAL
