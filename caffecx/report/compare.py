"""Two nets side by side (seed 004's layer-replacement study): totals and per-stage MACs, params,
depth (layers with weights: convolutions and inner products) and receptive field."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np

from caffecx.analysis import Analysis, LayerStats

if TYPE_CHECKING:  # pragma: no cover
    from matplotlib.figure import Figure

QUANTITIES = ["layers", "depth", "params", "macs", "flops", "memory_bytes", "receptive_field"]


@dataclass
class Comparison:
    """Rows ``{"scope", "quantity", "a", "b", "ratio"}``: totals first, then stage by stage."""

    a_name: str
    b_name: str
    rows: list[dict[str, Any]]

    def to_json(self) -> dict[str, Any]:
        return {"a": self.a_name, "b": self.b_name, "rows": self.rows}


def _rf(rows: list[LayerStats]) -> str | None:
    """The largest local receptive field among `rows` (global fields, e.g. after an fc layer, left out)."""
    fields = [r.receptive_field for r in rows if r.receptive_field is not None and not r.receptive_field.global_
              and r.receptive_field.size]
    if not fields:
        return None
    best = max(fields, key=lambda f: np.prod(f.size))
    return "x".join(str(int(v)) if float(v).is_integer() else f"{v:g}" for v in best.size)


def _measures(rows: list[LayerStats], memory: int | None) -> dict[str, Any]:
    known = [r for r in rows if r.known]
    return {"layers": len(rows), "depth": sum(1 for r in known if r.weights), "params": sum(r.params for r in known),
            "macs": sum(r.macs for r in known), "flops": sum(r.flops for r in known), "memory_bytes": memory,
            "receptive_field": _rf(rows)}


def _scopes(result: Analysis) -> dict[str, dict[str, Any]]:
    out = {"total": _measures(result.layers, result.totals()["memory_bytes"])}
    for stage in sorted({r.stage for r in result.layers}):
        rows = [r for r in result.layers if r.stage == stage]
        out[f"stage {stage}"] = _measures(rows, None)
    return out


def compare_nets(a: Analysis, b: Analysis, a_name: str = "A", b_name: str = "B") -> Comparison:
    """Totals and per-stage measures of `a` and `b`, with b / a where both are numbers and a is not 0."""
    for arg in (a, b):
        if not isinstance(arg, Analysis):
            raise TypeError(f"compare_nets() takes two Analysis (caffecx.analysis.analyze), not {type(arg).__name__}")
    sa, sb = _scopes(a), _scopes(b)
    rows = []
    for scope in list(dict.fromkeys([*sa, *sb])):
        for q in QUANTITIES:
            va, vb = sa.get(scope, {}).get(q), sb.get(scope, {}).get(q)
            if va is None and vb is None:
                continue
            ratio = vb / va if isinstance(va, int) and isinstance(vb, int) and va else None
            rows.append({"scope": scope, "quantity": q, "a": va, "b": vb, "ratio": ratio})
    return Comparison(a_name, b_name, rows)


def comparison_figure(c: Comparison) -> Figure:
    """MACs and params per stage, A and B side by side."""
    from caffecx.report.figures import new_figure

    stages = [s for s in dict.fromkeys(r["scope"] for r in c.rows) if s != "total"]
    fig = new_figure(max(6.0, 1.2 * len(stages) + 3), 5.5)
    axes = fig.subplots(2, 1, sharex=True)
    x = np.arange(len(stages))
    for ax, q in zip(axes, ("macs", "params"), strict=True):
        get = {(r["scope"], r["quantity"]): r for r in c.rows}
        for k, (key, name, color) in enumerate((("a", c.a_name, "#4c72b0"), ("b", c.b_name, "#dd8452"))):
            vals = [(get.get((s, q)) or {}).get(key) or 0 for s in stages]
            ax.bar(x + (k - 0.5) * 0.4, vals, 0.4, color=color, label=name)
        ax.set_ylabel(q)
        ax.grid(True, axis="y", alpha=0.3)
    axes[0].legend(fontsize=8)
    axes[0].set_title("per stage: MACs (batch) and learnable params")
    axes[1].set_xticks(x, stages)
    fig.tight_layout()
    return fig
