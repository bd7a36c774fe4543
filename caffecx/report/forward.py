"""A small forward check for a report with weights: one pass on seeded random input through
`caffecx.runtime`, its output shapes and whether every value is finite. Skipped when the pass would not
be cheap (more than `MAX_FLOPS`), and its time is kept only when the caller asks (times differ run to run)."""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from caffecx.analysis import Analysis
from caffecx.errors import CaffecxError
from caffecx.plan import Plan

MAX_FLOPS = 20e9


@dataclass
class ForwardCheck:
    """What one forward pass gave: per output blob its shape, finiteness and range; or why it did not run."""

    ran: bool
    reason: str = ""
    outputs: list[dict[str, Any]] = field(default_factory=list)
    ms: float | None = None

    @property
    def finite(self) -> bool:
        return self.ran and all(o["finite"] for o in self.outputs)


def shape_text(shape: Any) -> str:
    """``100x1x28x28``; a 0-axis blob (a loss) as ``()``, which Caffe prints ``(1)``."""
    return "x".join(str(int(d)) for d in shape) if len(shape) else "()"


def _feeds(executor: Any, result: Analysis, seed: int) -> dict[str, np.ndarray]:
    """Seeded normal input for every input the caller must feed, and for assumed data tops (their
    sources are absent); labels beside an assumed data top are zeros."""
    rng = np.random.default_rng(seed)
    feeds = {n: rng.standard_normal(s).astype(np.float32) for n, s in executor.required_inputs.items()}
    for a in result.assumed_inputs:
        feeds[a["top"]] = rng.standard_normal(a["shape"]).astype(np.float32)
        row = result.layer(a["layer"])
        for top, shape in zip(row.tops[1:], (row.top_shapes or [])[1:], strict=False):
            feeds[top] = np.zeros(shape, dtype=np.float32)
    return feeds


def forward_check(plan: Plan, result: Analysis, *, timing: bool = False, seed: int = 0) -> ForwardCheck:
    """Run one pass of `plan` (see the module docstring); a refused layer or absent source is a reason."""
    from caffecx.runtime import build_executor

    flops = result.totals()["flops"]
    if flops > MAX_FLOPS:
        return ForwardCheck(False, f"skipped: {flops / 1e9:.1f} GFLOPs per pass is not cheap")
    try:
        executor = build_executor(plan, seed=seed)
        feeds = _feeds(executor, result, seed)
        start = time.perf_counter()
        out = executor.forward(feeds)
        seconds = time.perf_counter() - start
    except CaffecxError as err:
        return ForwardCheck(False, f"not run: {err}")
    outputs = []
    for name in sorted(out):
        a = np.asarray(out[name])
        finite = bool(np.isfinite(a).all())
        outputs.append({"blob": name, "shape": shape_text(a.shape), "finite": finite,
                        "min": float(a.min()) if a.size and finite else None,
                        "max": float(a.max()) if a.size and finite else None})
    return ForwardCheck(True, "", outputs, seconds * 1e3 if timing else None)
