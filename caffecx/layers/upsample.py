"""Upsample (fork layer, two incompatible families share the type name; picked by bottom count).

* Two bottoms — SegNet max-unpooling (alexgkendall/caffe-segnet): bottom[0] values, bottom[1] the MAX
  Pooling mask, both 4-D and of equal shape. Output (H, W) = ``(upsample_h, upsample_w)`` when both are
  given (each must be > 1), else ``H*scale_h - pad_out_h`` and ``W*scale_w - pad_out_w`` (``scale`` or
  the pair ``scale_h``/``scale_w``, each > 1; ``pad_out_*`` only with scale 2 — it undoes a ceil-mode
  pooling's extra row). The pad_out form is what old SegNet prototxts use.
* One bottom — YOLOv3-style nearest-neighbour upsampling (e.g. MobileNet-YOLO forks): the last two
  axes are multiplied by ``scale``.

Fields the installed schema lacks read as unset. No stored blobs; counts: none (scatter/copy).
Receptive field: each output reads one input (a transposed window with kernel 1, stride = scale).
The shared corpus uses neither family; both are implemented from the forks' sources.

Forward: SegNet's (``UpsampleLayer::Forward_cpu``) zero-fills the top and, per (sample, channel) plane,
writes each input value at the flat output index its mask holds (``int(mask)``, truncated; a later input
wins on a repeated index; an index outside the output plane is Caffe's fatal "upsample top index ... out
of range" — caffecx also refuses negative ones, which Caffe would write out of bounds). YOLO's copies
each input to its ``scale x scale`` block (nearest neighbour).
"""

from __future__ import annotations

from typing import Any

import numpy as np

from caffecx.layers.base import Context, Layer, RunContext, Shape, Window, register
from caffecx.layers.spatial import has, require_4d


def _get(p: Any, name: str, default: int = 0) -> int:
    return int(getattr(p, name)) if name in p.DESCRIPTOR.fields_by_name else default


@register("Upsample")
class Upsample(Layer):
    """The forks' ``Upsample``; see the module docstring."""

    num_bottoms = (1, 2)

    def _segnet_out(self, bottom: Shape) -> tuple[int, int]:
        p = self.lp.upsample_param
        explicit = has(p, "upsample_h") and has(p, "upsample_w")
        self.check(
            explicit
            or (not has(p, "scale") and has(p, "scale_h") and has(p, "scale_w"))
            or (not has(p, "scale_h") and not has(p, "scale_w")),
            "upsample_h & upsample_w are required, else (DEPRECATED) scale OR scale_h & scale_w are required.",
        )
        if explicit:
            uh, uw = _get(p, "upsample_h"), _get(p, "upsample_w")
            self.check(uh > 1 and uw > 1, f"Check failed: upsample_h/w > 1 (got {uh}, {uw})")
            return uh, uw
        sh, sw = self._scales()
        pad_h, pad_w = int(bool(_get(p, "pad_out_h"))), int(bool(_get(p, "pad_out_w")))
        self.check(
            not pad_h or sh == 2,
            "Output height padding compensation requires scale_h == 2, otherwise the output size is ill-defined.",
        )
        self.check(
            not pad_w or sw == 2,
            "Output width padding compensation requires scale_w == 2, otherwise the output size is ill-defined.",
        )
        return bottom[2] * sh - pad_h, bottom[3] * sw - pad_w

    def _scales(self) -> tuple[int, int]:
        p = self.lp.upsample_param
        if has(p, "scale_h"):
            sh, sw = _get(p, "scale_h"), _get(p, "scale_w")
        else:
            sh = sw = _get(p, "scale", 1)
        self.check(sh > 1 and sw > 1, f"Check failed: scale > 1 (got {sh}, {sw})")
        return sh, sw

    def setup(self, bottom_shapes: list[Shape], ctx: Context) -> list[Shape]:
        data = tuple(bottom_shapes[0])
        if len(bottom_shapes) == 2:
            mask = tuple(bottom_shapes[1])
            require_4d(data, self.check)
            require_4d(mask, self.check, "Input mask")
            self.check(data == mask, f"the mask shape {list(mask)} differs from the input shape {list(data)}")
            return [(data[0], data[1], *self._segnet_out(data))]
        self.check(len(data) >= 2, "Upsample needs at least 2 axes")
        scale = _get(self.lp.upsample_param, "scale", 1)
        self.check(scale > 0, f"scale must be positive (got {scale})")
        self.scale = scale
        return [(*data[:-2], data[-2] * scale, data[-1] * scale)]

    def to_onnx(self, ctx: Any, bottoms: list[str], tops: list[str], blobs: list[np.ndarray]) -> None:
        """Nearest-neighbour Resize by the integer scale (``asymmetric`` + ``floor``: input ``o // scale``);
        SegNet's mask unpooling (two bottoms) has no mapping."""
        self.check(len(bottoms) == 1, "Upsample with a mask bottom (SegNet unpooling) has no ONNX mapping")
        ndim = len(self.bottom_shapes[0])
        scales = ctx.const([1.0] * (ndim - 2) + [float(self.scale)] * 2, "scales")
        ctx.op("Resize", [bottoms[0], "", scales], tops[0], mode="nearest",
               coordinate_transformation_mode="asymmetric", nearest_mode="floor")

    def forward(self, bottoms: list[np.ndarray], blobs: list[np.ndarray], run: RunContext) -> list[np.ndarray]:
        x = np.asarray(bottoms[0], dtype=run.dtype)
        if len(bottoms) == 1:
            s = self.scale
            block = np.broadcast_to(x[..., :, None, :, None], (*x.shape[:-1], s, x.shape[-1], s))
            return [block.reshape(self.top_shapes[0])]
        return [self._unpool(x, np.asarray(bottoms[1]), run)]

    def _unpool(self, x: np.ndarray, mask: np.ndarray, run: RunContext) -> np.ndarray:
        """SegNet's scatter of each value to the output position its mask names."""
        n, c, oh, ow = self.top_shapes[0]
        plane = oh * ow
        idx = np.trunc(mask).astype(np.int64).reshape(n * c, -1)
        out_of_range = (idx >= plane) | (idx < 0)
        if out_of_range.any():
            bad = int(idx[out_of_range][0])
            raise self.fail(f"upsample top index {bad} out of range - check scale settings match input "
                            "pooling layer's downsample setup")
        flat = (idx + (np.arange(n * c, dtype=np.int64) * plane)[:, None]).reshape(-1)
        top = np.zeros(n * c * plane, dtype=run.dtype)
        top[flat] = x.reshape(-1)  # NumPy assigns repeated indices in order: the last value stays
        return top.reshape(n, c, oh, ow)

    def window(self, bottom_shapes: list[Shape]) -> Window | None:
        data = tuple(bottom_shapes[0])
        if len(bottom_shapes) == 2:
            oh, ow = self._segnet_out(data)
            sh, sw = max(1, round(oh / max(data[2], 1))), max(1, round(ow / max(data[3], 1)))
        else:
            sh = sw = _get(self.lp.upsample_param, "scale", 1)
        return Window((1, 1), (sh, sw), (0, 0), (1, 1), transposed=True)
