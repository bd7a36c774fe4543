"""Input and DummyData: blobs whose shapes the prototxt states outright.

Caffe rule (InputLayer / DummyDataLayer): one ``shape`` serves every top, or there is one per top;
any other count is an error. DummyData also accepts the legacy num/channels/height/width lists, each
given once for all tops or once per top, and 0, 1 or one ``data_filler`` per top.

Forward: Input's tops are the caller's arrays (``RunContext.inputs``), of exactly the planned shapes.
DummyData fills each top from its filler (none: constant 0; one: the same filler, drawn anew for each
top) with the run's generator (`caffecx.fillers`); a top the caller feeds replaces its filler.
"""

from __future__ import annotations

import numpy as np

from caffecx.errors import CaffecxError
from caffecx.fillers import fill
from caffecx.layers.base import Context, Layer, RunContext, Shape, register


def one_or_per_top(layer: Layer, shapes: list[Shape], what: str) -> list[Shape]:
    """Caffe's rule: a single shape for all tops, or exactly one per top."""
    tops = len(layer.lp.top)
    layer.check(len(shapes) in (1, tops),
                f"Must specify '{what}' once, or once per top blob ({len(shapes)} given for {tops} tops)")
    return [shapes[0 if len(shapes) == 1 else i] for i in range(tops)]


def _dims(shape: tuple[int, ...]) -> str:
    return "(" + ", ".join(str(int(d)) for d in shape) + ")"


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

    def forward(self, bottoms: list[np.ndarray], blobs: list[np.ndarray], run: RunContext) -> list[np.ndarray]:
        out = []
        for top, want in zip(self.lp.top, self.top_shapes, strict=True):
            if top not in run.inputs:
                raise self.fail(f"input '{top}' {_dims(want)} was not given")
            array = np.asarray(run.inputs[top])
            if tuple(array.shape) != tuple(want):
                raise self.fail(f"input '{top}' has shape {_dims(array.shape)}, the layer's top is {_dims(want)}")
            out.append(array.astype(run.dtype, copy=False))
        return out


@register("DummyData")
class DummyData(Layer):
    """Caffe's ``DummyData``: ``shape`` per top, or the legacy num/channels/height/width lists."""

    is_source = True
    num_bottoms = (0, 0)
    num_tops = (1, None)

    def setup(self, bottom_shapes: list[Shape], ctx: Context) -> list[Shape]:
        p = self.lp.dummy_data_param
        tops = len(self.lp.top)
        fillers = len(p.data_filler)
        self.check(fillers in (0, 1, tops), "Number of data fillers must be 0, 1 or equal to the number of "
                   f"tops: {tops}; you specified {fillers} data fillers.")
        legacy = {"num": p.num, "channels": p.channels, "height": p.height, "width": p.width}
        if any(len(v) for v in legacy.values()):
            self.check(not len(p.shape), "Both shape and legacy fields were specified")
            per = [one_or_per_top(self, [(int(d),) for d in values], name) for name, values in legacy.items()]
            return [tuple(dims[i][0] for dims in per) for i in range(tops)]
        return one_or_per_top(self, [tuple(int(d) for d in s.dim) for s in p.shape], "shape")

    def forward(self, bottoms: list[np.ndarray], blobs: list[np.ndarray], run: RunContext) -> list[np.ndarray]:
        fillers = list(self.lp.dummy_data_param.data_filler)
        out = []
        for i, (top, want) in enumerate(zip(self.lp.top, self.top_shapes, strict=True)):
            if top in run.inputs:
                array = np.asarray(run.inputs[top])
                if tuple(array.shape) != tuple(want):
                    raise self.fail(f"top '{top}' is fed {_dims(array.shape)}, the layer's top is {_dims(want)}")
                out.append(array.astype(run.dtype, copy=False))
                continue
            filler = fillers[i if len(fillers) > 1 else 0] if fillers else None
            try:
                out.append(fill(filler, want, run.rng, run.dtype))
            except CaffecxError as err:  # a filler Caffe refuses: locate it
                raise self.fail(f"data_filler of top '{top}': {err.message}") from None
        return out
