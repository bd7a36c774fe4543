"""In-process timing of the NumPy forward pass: whole-pass and per-layer times, GFLOP/s, peak memory.

Inputs the caller must feed (Input layers) get a seeded standard normal array; data layers read their
source. ``forward_ms_*`` are wall times of whole passes after one warm-up pass; a layer's ``ms`` is its
mean over the timed passes. ``gflops`` is the analyzer's FLOPs (the convention of `caffecx.analysis`)
over the median pass time. ``peak_bytes`` is the weights as cast for the run plus the peak of NumPy
allocations during one pass (``tracemalloc``, measured in a pass of its own, not timed).
"""

from __future__ import annotations

import statistics
import time
import tracemalloc
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from typing import Any

import numpy as np

from caffecx.analysis import analyze
from caffecx.errors import CaffecxError
from caffecx.plan import Plan
from caffecx.runtime import Executor, build_executor


@dataclass
class BenchResult:
    """What ``caffecx bench`` reports (its JSON keys are these fields)."""

    net: str
    batch: int | None
    iterations: int
    forward_ms_median: float
    forward_ms_min: float
    gflops: float
    peak_bytes: int
    weights_bytes: int
    layers: list[dict[str, Any]] = field(default_factory=list)

    def to_json(self) -> dict[str, Any]:
        return asdict(self)


def random_inputs(executor: Executor, seed: int = 0) -> dict[str, np.ndarray]:
    """A seeded standard-normal array for every input the caller must feed."""
    rng = np.random.default_rng(seed)
    return {name: rng.standard_normal(shape).astype(executor.dtype)
            for name, shape in executor.required_inputs.items()}


def bench_plan(plan: Plan, *, iterations: int = 10, dtype: Any = np.float32, seed: int = 0,
               progress: Callable[[int, int], None] | None = None) -> BenchResult:
    """Time `iterations` forward passes of `plan` (see the module docstring)."""
    if not isinstance(plan, Plan):
        raise TypeError(f"bench_plan() takes a Plan (caffecx.plan.plan_net), not {type(plan).__name__}")
    if isinstance(iterations, bool) or not isinstance(iterations, int):
        raise TypeError(f"bench_plan(iterations=...) takes an int, not {type(iterations).__name__}")
    if iterations < 1:
        raise CaffecxError(f"iterations must be at least 1, not {iterations}")
    executor = build_executor(plan, dtype=dtype, seed=seed)
    feeds = random_inputs(executor, seed)
    executor.forward(feeds)  # warm-up: caches, lazily built data readers
    timings = executor.new_timings()
    times = []
    for i in range(iterations):
        start = time.perf_counter()
        executor.forward(feeds, timings=timings)
        times.append(time.perf_counter() - start)
        if progress:
            progress(i + 1, iterations)
    weights_bytes = sum(w.nbytes for ws in executor.weights for w in ws)
    tracemalloc.start()
    try:
        executor.forward(feeds)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    median = statistics.median(times)
    flops = analyze(plan).totals()["flops"]
    layers = [{"name": t.name, "type": t.type, "ms": t.seconds / iterations * 1e3} for t in timings]
    return BenchResult(plan.net.name, plan.batch, iterations, median * 1e3, min(times) * 1e3,
                       flops / median / 1e9 if median > 0 else 0.0, weights_bytes + peak, weights_bytes, layers)
