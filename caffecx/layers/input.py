"""Input and DummyData: blobs whose shapes the prototxt states outright.

Caffe rule (InputLayer / DummyDataLayer): one ``shape`` serves every top, or there is one per top;
any other count is an error. DummyData also accepts the legacy num/channels/height/width lists, with
the same one-for-all-or-one-per-top rule.
"""

from __future__ import annotations

from caffecx.layers.base import Context, Layer, Shape, register


def one_or_per_top(layer: Layer, shapes: list[Shape], what: str) -> list[Shape]:
    """Caffe's rule: a single shape for all tops, or exactly one per top."""
    tops = len(layer.lp.top)
    layer.check(len(shapes) in (1, tops),
                f"Must specify '{what}' once, or once per top blob ({len(shapes)} given for {tops} tops)")
    return [shapes[0 if len(shapes) == 1 else i] for i in range(tops)]


@register("Input")
class Input(Layer):
    """Caffe's ``Input`` (what ``input:``/``input_dim:`` nets are upgraded to)."""

    is_source = True
    needs_feed = True
    #: 2014's Caffe had net inputs, not an Input layer: its logs show no such layer.
    logged_by_2014 = False
    num_bottoms = (0, 0)
    num_tops = (1, None)

    def setup(self, bottom_shapes: list[Shape], ctx: Context) -> list[Shape]:
        shapes = [tuple(int(d) for d in s.dim) for s in self.lp.input_param.shape]
        if not shapes:
            self.check(all(t in ctx.input_shapes for t in self.lp.top),
                       "Input layer has no shape; pass --input-shape TOP=N,C,H,W")
            return [ctx.input_shapes[t] for t in self.lp.top]
        return one_or_per_top(self, shapes, "shape")


@register("DummyData")
class DummyData(Layer):
    """Caffe's ``DummyData``: ``shape`` per top, or the legacy num/channels/height/width lists."""

    is_source = True
    num_bottoms = (0, 0)
    num_tops = (1, None)

    def setup(self, bottom_shapes: list[Shape], ctx: Context) -> list[Shape]:
        p = self.lp.dummy_data_param
        legacy = [len(p.num), len(p.channels), len(p.height), len(p.width)]
        if any(legacy):
            self.check(not len(p.shape), "Both shape and legacy fields were specified")
            self.check(len(set(legacy)) == 1, "num, channels, height and width must be given equally often")
            shapes = [(int(p.num[i]), int(p.channels[i]), int(p.height[i]), int(p.width[i]))
                      for i in range(legacy[0])]
        else:
            shapes = [tuple(int(d) for d in s.dim) for s in p.shape]
        return one_or_per_top(self, shapes, "shape")
