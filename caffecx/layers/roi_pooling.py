"""ROIPooling (py-faster-rcnn / caffe-fast-rcnn fork): max pooling of regions of interest.

Fork rule (ROIPoolingLayer): bottom[0] is the feature map ``(N, C, H, W)``, bottom[1] the ROIs
``(R, 5)`` (batch index, x1, y1, x2, y2 in input-image pixels, scaled by ``spatial_scale``); top =
``(R, C, pooled_h, pooled_w)``. CHECKs: ``pooled_h > 0``, ``pooled_w > 0``. No stored blobs.

Counts: the work depends on the ROI boxes, known only at run time, so FLOPs are an upper bound: every ROI
covering the whole map, one comparison per input element per ROI: R*C*H*W. Receptive field: global
(an ROI may span the whole map).
"""

from __future__ import annotations

from caffecx.layers.base import GLOBAL, Context, Counts, Layer, Shape, Window, register
from caffecx.layers.spatial import require_4d


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
        return [(rois[0], data[1], ph, pw)]

    def counts(self, bottom_shapes: list[Shape], top_shapes: list[Shape]) -> Counts:
        data, rois = bottom_shapes[0], bottom_shapes[1]
        return Counts(0, rois[0] * data[1] * data[2] * data[3])

    def window(self, bottom_shapes: list[Shape]) -> Window | None:
        return GLOBAL
