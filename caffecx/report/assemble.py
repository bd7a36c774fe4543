"""The report's figures, drawn once and kept as bytes under fixed file names (never input text)."""

from __future__ import annotations

from caffecx.report.figures import figure_bytes, style
from caffecx.report.graphdraw import draw
from caffecx.report.model import Report
from caffecx.report.plots import macs_params_figure, memory_figure


def add_figures(report: Report, graph: bool = True) -> None:
    """Fill ``report.figures``: graph.svg, macs_params.svg, memory.svg, and log_curves.svg / roofline.svg
    when the report has a log / machine peaks."""
    result = report.analysis
    if graph:
        report.figures["graph.svg"], report.graph_method = draw(result)
    with style():
        if any(r.macs or r.params for r in result.layers):
            report.figures["macs_params.svg"] = figure_bytes(macs_params_figure(result))
        if any(r.memory_bytes for r in result.layers):
            report.figures["memory.svg"] = figure_bytes(memory_figure(result))
        if report.log is not None and (len(report.log.train) or len(report.log.test)):
            from caffecx.report.curves import curves_figure

            report.figures["log_curves.svg"] = figure_bytes(curves_figure([report.log]))
        if report.machine is not None and report.roofline:
            from caffecx.report.roofline import roofline_figure

            report.figures["roofline.svg"] = figure_bytes(roofline_figure(report.roofline, report.machine))
