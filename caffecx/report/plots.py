"""The report's figures: MACs and params per layer, Caffe's memory line after each layer, and
`report_figures`, every figure of a report drawn once and kept as bytes under fixed file names (never
input text)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import numpy as np

from caffecx.analysis import Analysis
from caffecx.report.figures import figure_bytes, new_figure, style
from caffecx.report.graphdraw import draw

if TYPE_CHECKING:  # pragma: no cover
    from matplotlib.figure import Figure

#: Layers with more rows than this are drawn without per-layer tick labels (a ResNet has hundreds).
MAX_LABELS = 60


def _names_axis(ax: object, names: list[str]) -> None:
    x = np.arange(len(names))
    if len(names) <= MAX_LABELS:
        ax.set_xticks(x, names, rotation=90, fontsize=7)  # type: ignore[attr-defined]
    else:
        ax.set_xlabel(f"layer index (Caffe's order, {len(names)} layers)")  # type: ignore[attr-defined]
    ax.set_xlim(-0.6, len(names) - 0.4)  # type: ignore[attr-defined]


def macs_params_figure(result: Analysis) -> Figure:
    """Two panels: MACs per layer and learnable params per layer (layers that have neither left out)."""
    rows = [r for r in result.layers if r.known and (r.macs or r.params)]
    names = [r.name for r in rows]
    fig = new_figure(max(6.0, min(16.0, 0.25 * len(rows) + 3)), 6.0)
    top, bottom = fig.subplots(2, 1, sharex=True)
    x = np.arange(len(rows))
    top.bar(x, [r.macs for r in rows], color="#4c72b0")
    top.set_ylabel("MACs (batch)")
    top.set_title(f"{result.net.name or 'net'}: MACs and params per layer")
    bottom.bar(x, [r.params for r in rows], color="#dd8452")
    bottom.set_ylabel("learnable params")
    for ax in (top, bottom):
        ax.grid(True, axis="y", alpha=0.3)
        ax.ticklabel_format(axis="y", style="sci", scilimits=(-3, 4))
    _names_axis(bottom, names)
    fig.tight_layout()
    return fig


def memory_figure(result: Analysis) -> Figure:
    """Caffe's ``Memory required for data`` after each layer (MiB), with each layer's own share."""
    rows = [r for r in result.layers if r.memory_bytes is not None]
    fig = new_figure(max(6.0, min(16.0, 0.25 * len(rows) + 3)), 3.6)
    ax = fig.subplots()
    x = np.arange(len(rows))
    mem = np.array([r.memory_bytes for r in rows], dtype=float) / 2**20
    own = np.diff(np.concatenate([[0.0], mem]))
    ax.bar(x, own, color="#8fbbd9", label="this layer's tops")
    ax.step(x, mem, where="mid", color="#1f4e79", label="cumulative (Caffe's memory line)")
    ax.set_ylabel("MiB")
    ax.set_title("memory required for data")
    ax.grid(True, axis="y", alpha=0.3)
    ax.legend(fontsize=8, loc="lower right")
    _names_axis(ax, [r.name for r in rows])
    fig.tight_layout()
    return fig


def report_figures(result: Analysis, log: Any = None, roofline: list[dict[str, Any]] | None = None,
                   machine: Any = None, graph: bool = True) -> tuple[dict[str, bytes], str]:
    """(figures by file name, how the graph was drawn): graph.svg, macs_params.svg, memory.svg, and
    log_curves.svg / roofline.svg with a log that has rows / machine peaks and roofline rows."""
    figures: dict[str, bytes] = {}
    method = ""
    if graph:
        figures["graph.svg"], method = draw(result)
    with style():
        if any(r.macs or r.params for r in result.layers):
            figures["macs_params.svg"] = figure_bytes(macs_params_figure(result))
        if any(r.memory_bytes for r in result.layers):
            figures["memory.svg"] = figure_bytes(memory_figure(result))
        if log is not None and (len(log.train) or len(log.test)):
            from caffecx.report.curves import curves_figure

            figures["log_curves.svg"] = figure_bytes(curves_figure([log]))
        if machine is not None and roofline:
            from caffecx.report.roofline import roofline_figure

            figures["roofline.svg"] = figure_bytes(roofline_figure(roofline, machine))
    return figures, method
