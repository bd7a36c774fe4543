"""Roofline: each layer's arithmetic intensity against this machine's measured peaks.

* `measure_machine`: peak GEMM FLOP/s (a float32 NumPy matmul, best of a few) and memory bandwidth (a
  large float32 copy: bytes read + bytes written over the best time).
* `roofline_rows`: per layer, FLOPs (the analyzer's), bytes moved (bottoms + tops + stored params, 4 bytes
  each), intensity = FLOPs / byte, and the roofline's predicted time ``max(FLOPs / peak, bytes / bandwidth)``;
  beside it the measured time (``caffecx.bench.bench_plan``) and Caffe's (a ``caffe time`` log) when given.
* `caffe_time_table`: the per-layer ``forward: X ms`` lines of a ``caffe time`` log (``parse_log(...).timing``).
"""

from __future__ import annotations

import os
import time
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from caffecx.analysis import BYTES_PER_ELEMENT, Analysis
from caffecx.errors import CaffecxError
from caffecx.layers.base import count

if TYPE_CHECKING:  # pragma: no cover
    from matplotlib.figure import Figure


@dataclass
class Machine:
    """This machine's measured peaks."""

    gemm_gflops: float
    bandwidth_gbs: float
    matmul_n: int
    copy_mib: int

    def to_json(self) -> dict[str, Any]:
        return asdict(self)


def _best(fn: Any, repeats: int) -> float:
    fn()
    best = float("inf")
    for _ in range(repeats):
        start = time.perf_counter()
        fn()
        best = min(best, time.perf_counter() - start)
    return best


def measure_machine(matmul_n: int = 1024, copy_mib: int = 128, repeats: int = 5) -> Machine:
    """Peak float32 GEMM GFLOP/s (``2·n³`` per matmul, best of 4 × `repeats`) and copy bandwidth in GB/s
    (best of `repeats`): about two seconds."""
    rng = np.random.default_rng(0)
    a = rng.standard_normal((matmul_n, matmul_n), dtype=np.float32)
    b = rng.standard_normal((matmul_n, matmul_n), dtype=np.float32)
    out = np.empty_like(a)
    t_mm = _best(lambda: np.matmul(a, b, out=out), 4 * repeats)
    src = np.ones(copy_mib * 2**20 // 4, dtype=np.float32)
    dst = np.empty_like(src)
    t_copy = _best(lambda: np.copyto(dst, src), repeats)
    return Machine(2 * matmul_n**3 / t_mm / 1e9, 2 * src.nbytes / t_copy / 1e9, matmul_n, copy_mib)


def layer_traffic(result: Analysis) -> list[dict[str, Any]]:
    """Per known layer: FLOPs, bytes moved (bottoms + tops + stored params) and FLOPs per byte."""
    shapes = result.blob_shapes
    rows = []
    for r in result.layers:
        if not r.known or r.top_shapes is None:
            continue
        bottoms = sum(count(shapes[b]) for b in r.bottoms if b in shapes)
        tops = sum(count(s) for s in r.top_shapes)
        moved = (bottoms + tops + r.stored) * BYTES_PER_ELEMENT
        rows.append({"name": r.name, "type": r.type, "flops": r.flops, "bytes": moved,
                     "intensity": r.flops / moved if moved else 0.0})
    return rows


def roofline_rows(result: Analysis, machine: Machine | None, measured_ms: dict[str, float] | None = None,
                  caffe_ms: dict[str, float] | None = None) -> list[dict[str, Any]]:
    """`layer_traffic` rows with ``bound`` (compute/memory), ``predicted_ms``, ``measured_ms``, ``caffe_ms``."""
    rows = layer_traffic(result)
    for row in rows:
        row["bound"] = row["predicted_ms"] = None
        if machine is not None:
            t_compute = row["flops"] / (machine.gemm_gflops * 1e9)
            t_memory = row["bytes"] / (machine.bandwidth_gbs * 1e9)
            row["bound"] = "compute" if t_compute >= t_memory else "memory"
            row["predicted_ms"] = max(t_compute, t_memory) * 1e3
        row["measured_ms"] = (measured_ms or {}).get(row["name"])
        row["caffe_ms"] = (caffe_ms or {}).get(row["name"])
    return rows


def caffe_time_table(path: str | os.PathLike[str]) -> dict[str, float]:
    """Layer name -> Caffe's average forward ms from a ``caffe time`` log: the forward rows of the log's
    ``timing`` table (`caffecx.logs.parse_log`) in its last run that has any (the last benchmark)."""
    from caffecx.logs import parse_log

    if not isinstance(path, (str, os.PathLike)):
        raise TypeError(f"caffe_time_table() takes a path, not {type(path).__name__}")
    if not Path(path).is_file():  # a FIFO or a device is never opened
        raise CaffecxError("is not a regular file (the caffe time log)" if Path(path).exists() else
                           "no such file (the caffe time log)", path=str(path))
    timing = parse_log(path).timing
    forward = timing[(timing["direction"] == "forward") & timing["layer"].notna()]
    if not len(forward):
        raise CaffecxError("no per-layer 'forward: X ms' lines (not a `caffe time` log?)", path=str(path))
    last = forward[forward["run"] == forward["run"].max()]
    return {str(k): float(v) for k, v in zip(last["layer"], last["ms"], strict=True)}


def roofline_figure(rows: list[dict[str, Any]], machine: Machine) -> Figure:
    """Left: the roofline (log-log) with each layer at its intensity and predicted (or measured) GFLOP/s;
    right: predicted against measured (and Caffe's) time per layer."""
    from caffecx.report.figures import new_figure

    fig = new_figure(12.0, 4.6)
    ax, bx = fig.subplots(1, 2)
    shown = [r for r in rows if r["flops"] and r["bytes"]]
    xs = np.array([r["intensity"] for r in shown] or [1.0])
    lo, hi = max(xs.min() / 4, 1e-3), xs.max() * 4
    grid = np.geomspace(lo, hi, 200)
    ax.plot(grid, np.minimum(machine.gemm_gflops, grid * machine.bandwidth_gbs), color="k", lw=1.5,
            label=f"roof: {machine.gemm_gflops:.0f} GFLOP/s, {machine.bandwidth_gbs:.1f} GB/s")
    for key, color, label in (("predicted_ms", "#4c72b0", "predicted"), ("measured_ms", "#dd8452", "measured"),
                              ("caffe_ms", "#55a868", "Caffe")):
        pts = [(r["intensity"], r["flops"] / (r[key] * 1e6)) for r in shown if r.get(key)]
        if pts:
            ax.scatter(*zip(*pts, strict=True), s=14, color=color, label=label, zorder=3)
    ax.set_xscale("log")
    ax.set_yscale("log")
    ax.set_xlabel("arithmetic intensity (FLOPs per byte moved)")
    ax.set_ylabel("GFLOP/s")
    ax.set_title("roofline")
    ax.grid(True, which="both", alpha=0.3)
    ax.legend(fontsize=7, loc="lower right")
    _times_panel(bx, rows)
    fig.tight_layout()
    return fig


def _times_panel(ax: Any, rows: list[dict[str, Any]]) -> None:
    names = [r["name"] for r in rows]
    x = np.arange(len(rows))
    keys = [k for k in ("predicted_ms", "measured_ms", "caffe_ms") if any(r.get(k) for r in rows)]
    width = 0.8 / max(1, len(keys))
    colors = {"predicted_ms": "#4c72b0", "measured_ms": "#dd8452", "caffe_ms": "#55a868"}
    for i, key in enumerate(keys):
        ax.bar(x + (i - (len(keys) - 1) / 2) * width, [r.get(key) or 0.0 for r in rows], width,
               color=colors[key], label=key.replace("_ms", "").replace("caffe", "Caffe"))
    ax.set_ylabel("ms per forward pass")
    ax.set_title("time per layer")
    if len(names) <= 60:
        ax.set_xticks(x, names, rotation=90, fontsize=7)
    ax.grid(True, axis="y", alpha=0.3)
    if keys:
        ax.legend(fontsize=7)
