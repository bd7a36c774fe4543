"""Python: a layer implemented by a Python class (``python_param { module layer param_str }``).

Caffe only learns its top shapes by running the user's ``reshape()`` — nothing in the prototxt says
them. caffecx takes each top's shape from ``ctx.input_shapes`` (``--input-shape TOP=N,C,H,W``); when a
top has no hint it raises a `ShapeError` naming the missing tops, which the analyzer turns into an
"unknown" row so the rest of the net is still analysed where possible. No stored blobs, 0 FLOPs.
"""

from __future__ import annotations

from caffecx.layers.base import Context, Layer, Shape, register


@register("Python")
class Python(Layer):
    """Caffe's ``Python`` layer; see the module docstring. Never run: a prototxt must not run code."""

    is_source = True
    shape_at_run_time = True

    num_bottoms = (0, None)
    num_tops = (0, None)

    def setup(self, bottom_shapes: list[Shape], ctx: Context) -> list[Shape]:
        missing = [t for t in self.lp.top if t not in ctx.input_shapes]
        if missing:
            p = self.lp.python_param
            impl = f"{p.module}.{p.layer}" if p.module or p.layer else "user code"
            hints = " ".join(f"--input-shape {t}=N,C,H,W" for t in missing)
            raise self.fail(f"the top shapes of a Python layer ({impl}) are only known when its code runs; "
                            f"pass {hints}")
        return [tuple(ctx.input_shapes[t]) for t in self.lp.top]
