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

Forward (weiliu89/caffe ``ssd`` branch, ``PriorBoxLayer::Forward_cpu``): image size = ``img_h/img_w``
(``img_size``) when set, else the image bottom's height/width; step = ``step_h/step_w`` (``step``) when
set, else ``float(img) / feature`` per axis; centre ``(w + offset) * step_w`` in float. Per position and
per min size, in this order: the square ``min_size`` box, the square ``sqrt(min_size * max_size)`` box
(when max sizes are given), then one box per aspect ratio other than 1 (width ``min * sqrt(ar)``,
height ``min / sqrt(ar)``). The fork truncates ``min_size``/``max_size`` to int before use (``int
min_size_ = min_sizes_[s]``), and computes each corner ``(centre -/+ size / 2.) / img`` in double before
storing it. ``clip`` clamps the corners to [0, 1]; channel 1 repeats the variances (one value: all
four; none: 0.1), stored as float.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from caffecx.layers._common import check_blob_counts, field_set, legacy_dim, values
from caffecx.layers.base import Context, Layer, RunContext, Shape, register


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
        self.check_positive_sizes()
        img = (legacy_dim(self, bottom_shapes[1], 2), legacy_dim(self, bottom_shapes[1], 3))
        self.grid = (h, w, img)
        return [(1, 2, n)]

    def check_positive_sizes(self) -> None:
        """LayerSetUp's CHECKs on the explicit image size and step."""
        p = self.lp.prior_box_param
        if field_set(p, "img_h") or field_set(p, "img_w"):
            self.check(p.img_h > 0, "img_h should be larger than 0.")
            self.check(p.img_w > 0, "img_w should be larger than 0.")
        elif field_set(p, "img_size"):
            self.check(p.img_size > 0, "img_size should be larger than 0.")
        if field_set(p, "step_h") or field_set(p, "step_w"):
            self.check(p.step_h > 0, "step_h should be larger than 0.")
            self.check(p.step_w > 0, "step_w should be larger than 0.")
        elif field_set(p, "step"):
            self.check(p.step > 0, "step should be larger than 0.")

    def image_and_step(self) -> tuple[int, int, np.float32, np.float32]:
        """(img_h, img_w, step_h, step_w) as the forward pass uses them."""
        p = self.lp.prior_box_param
        h, w, (bottom_h, bottom_w) = self.grid
        img_h = img_w = int(p.img_size) if field_set(p, "img_size") else 0
        if field_set(p, "img_h") or field_set(p, "img_w"):
            img_h, img_w = int(p.img_h), int(p.img_w)
        if img_h == 0 or img_w == 0:
            img_h, img_w = bottom_h, bottom_w
        step_h = step_w = np.float32(p.step) if field_set(p, "step") else np.float32(0)
        if field_set(p, "step_h") or field_set(p, "step_w"):
            step_h, step_w = np.float32(p.step_h), np.float32(p.step_w)
        if step_h == 0 or step_w == 0:
            step_h, step_w = np.float32(img_h) / np.float32(h), np.float32(img_w) / np.float32(w)
        return img_h, img_w, step_h, step_w

    def box_sizes(self) -> np.ndarray:
        """``(priors, 2)`` widths and heights in Caffe's per-position order (float32)."""
        p = self.lp.prior_box_param
        mins, maxs = values(p, "min_size"), values(p, "max_size")
        sizes: list[tuple[float, float]] = []
        for s, min_f in enumerate(mins):
            lo = int(min_f)  # the fork stores min/max sizes in an int
            sizes.append((lo, lo))
            if maxs:
                side = np.sqrt(np.float64(lo * int(maxs[s])))
                sizes.append((side, side))
            for ar in self.aspect_ratios():
                ar32 = np.float32(ar)
                if abs(float(ar32) - 1.0) < 1e-6:
                    continue
                root = np.sqrt(np.float64(ar32))
                sizes.append((lo * root, lo / root))
        return np.asarray(sizes, dtype=np.float64).astype(np.float32)

    def to_onnx(self, ctx: Any, bottoms: list[str], tops: list[str], blobs: list[np.ndarray]) -> None:
        """A constant: the priors depend only on the bottoms' shapes, so they are computed once here."""
        run = RunContext(dtype=np.float32)
        priors = self.forward([np.zeros(s, dtype=np.float32) for s in self.bottom_shapes], blobs, run)[0]
        ctx.identity(ctx.const(priors, "priors"), tops[0])

    def forward(self, bottoms: list[np.ndarray], blobs: list[np.ndarray], run: RunContext) -> list[np.ndarray]:
        """The boxes of every position, then the variances (see the module docstring)."""
        h, w, _ = self.grid
        img_h, img_w, step_h, step_w = self.image_and_step()
        offset = np.float32(self.lp.prior_box_param.offset)
        cx = ((np.arange(w, dtype=np.float32) + offset) * step_w).astype(np.float64)
        cy = ((np.arange(h, dtype=np.float32) + offset) * step_h).astype(np.float64)
        half = self.box_sizes().astype(np.float64) / 2.0
        boxes = np.empty((h, w, len(half), 4), dtype=np.float64)
        boxes[..., 0] = (cx[None, :, None] - half[None, None, :, 0]) / img_w
        boxes[..., 1] = (cy[:, None, None] - half[None, None, :, 1]) / img_h
        boxes[..., 2] = (cx[None, :, None] + half[None, None, :, 0]) / img_w
        boxes[..., 3] = (cy[:, None, None] + half[None, None, :, 1]) / img_h
        top = np.empty(self.top_shapes[0], dtype=run.dtype)
        top[0, 0] = boxes.reshape(-1)
        if self.lp.prior_box_param.clip:
            np.clip(top[0, 0], 0, 1, out=top[0, 0])
        var = values(self.lp.prior_box_param, "variance") or [0.1]
        var32 = np.asarray(var, dtype=np.float32).astype(run.dtype)
        top[0, 1] = np.broadcast_to(var32, (top.shape[2] // len(var32), len(var32))).reshape(-1)
        return [top]
