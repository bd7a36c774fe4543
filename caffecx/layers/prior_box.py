"""PriorBox (SSD fork): the default boxes of one feature map, shared by the whole batch.

Caffe rule (weiliu89/caffe PriorBoxLayer), bottoms ``(feature map, image)``:

* aspect ratios start as ``[1]``; each ``aspect_ratio`` not already present (within 1e-6) is added,
  followed by its reciprocal when ``flip`` is set (the reciprocal is not re-checked for duplicates);
* priors per position = ``len(ratios) * len(min_size) + len(max_size)`` — each min size gets one box per
  ratio, and each max size one extra square box ``sqrt(min*max)``;
* top = ``(1, 2, H * W * priors * 4)`` with H, W the feature map's height and width (legacy accessors:
  axes 2 and 3, missing axes read as 1): channel 0 holds the box corners, channel 1 the variances.

Checks: at least one ``min_size``, all > 0; ``max_size`` count equal to ``min_size`` count, each greater
than its min; ``variance`` 0, 1 or exactly 4 values, all > 0; not both ``img_size`` and
``img_h``/``img_w``, nor ``step`` and ``step_h``/``step_w``. FLOPs: 0 (the boxes depend only on shapes).
"""

from __future__ import annotations

from caffecx.layers._common import check_blob_counts, field_set, legacy_dim, values
from caffecx.layers.base import Context, Layer, Shape, register


@register("PriorBox")
class PriorBox(Layer):
    """SSD's ``PriorBox``; see the module docstring."""

    num_bottoms = (2, 2)

    def aspect_ratios(self) -> list[float]:
        """The deduplicated ratio list, ``1`` first, in Caffe's order."""
        p = self.lp.prior_box_param
        ratios = [1.0]
        for ar in values(p, "aspect_ratio"):
            if any(abs(ar - r) < 1e-6 for r in ratios):
                continue
            ratios.append(float(ar))
            if p.flip:
                ratios.append(1.0 / ar)
        return ratios

    def num_priors(self) -> int:
        """Priors per feature-map position, with the LayerSetUp CHECKs."""
        p = self.lp.prior_box_param
        mins = values(p, "min_size")
        maxs = values(p, "max_size")
        self.check(len(mins) > 0, "must provide min_size.")
        self.check(all(m > 0 for m in mins), "min_size must be positive.")
        if maxs:
            self.check(len(maxs) == len(mins),
                       f"{len(maxs)} max_size values for {len(mins)} min_size values: need one each")
            for lo, hi in zip(mins, maxs, strict=True):
                self.check(hi > lo, "max_size must be greater than min_size.")
        var = values(p, "variance")
        self.check(len(var) <= 1 or len(var) == 4, f"give 1 or 4 variance values, not {len(var)}")
        self.check(all(v > 0 for v in var), "variance must be positive")
        self.check(not ((field_set(p, "img_h") or field_set(p, "img_w")) and field_set(p, "img_size")),
                   "Either img_size or img_h/img_w should be specified; not both.")
        self.check(not ((field_set(p, "step_h") or field_set(p, "step_w")) and field_set(p, "step")),
                   "Either step or step_h/step_w should be specified; not both.")
        return len(self.aspect_ratios()) * len(mins) + len(maxs)

    def setup(self, bottom_shapes: list[Shape], ctx: Context) -> list[Shape]:
        check_blob_counts(self, bottom_shapes)
        feature = tuple(bottom_shapes[0])
        h, w = legacy_dim(self, feature, 2), legacy_dim(self, feature, 3)
        legacy_dim(self, bottom_shapes[1], 0)
        n = h * w * self.num_priors() * 4
        self.check(n > 0, f"no priors for a {h}x{w} feature map")
        return [(1, 2, n)]
