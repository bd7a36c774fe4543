"""`build_report`: everything a net's report shows, as data (rendering is `markdown` / `html`)."""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from caffecx.analysis import Analysis, analyze
from caffecx.check import CheckResult, check_log
from caffecx.graph import load_net
from caffecx.lenet import BUNDLED, BUNDLED_LOG
from caffecx.logs import CaffeLog, parse_log
from caffecx.plan import plan_net
from caffecx.report.forward import ForwardCheck, forward_check, shape_text
from caffecx.report.plots import report_figures
from caffecx.report.roofline import Machine, caffe_time_table, roofline_rows
from caffecx.report.weights import BlobStats, weight_stats

DEFAULT_NET = BUNDLED / "lenet_train_test.prototxt"
DEFAULT_LOG = BUNDLED_LOG


@dataclass
class Options:
    """What `build_report` is asked for beyond the net (the CLI's flags)."""

    phase: str = "TEST"
    stages: list[str] = field(default_factory=list)
    level: int | None = None
    batch: int | None = None
    input_shapes: dict[str, tuple[int, ...]] = field(default_factory=dict)
    strict_data: bool = False
    timing: bool = False
    machine: Machine | None = None
    caffe_time: str | None = None
    graph: bool = True


@dataclass
class Report:
    """A net's report: its analysis and whatever the weights, a log and timings added."""

    net_path: str
    weights_path: str | None
    log_path: str | None
    analysis: Analysis
    inputs: list[dict[str, Any]]
    outputs: list[dict[str, Any]]
    weights: list[BlobStats] = field(default_factory=list)
    check: CheckResult | None = None
    log: CaffeLog | None = None
    forward: ForwardCheck | None = None
    roofline: list[dict[str, Any]] = field(default_factory=list)
    machine: Machine | None = None
    caffe_time_path: str | None = None
    graph_method: str = ""
    figures: dict[str, bytes] = field(default_factory=dict)

    @property
    def title(self) -> str:
        return f"{self.analysis.net.name or Path(self.net_path).name} ({self.analysis.net.phase})"


def shown_path(path: str | os.PathLike[str]) -> str:
    """A path as the report prints it: relative to the cwd when it lies below it."""
    p = Path(path)
    try:
        return str(p.resolve().relative_to(Path.cwd().resolve()))
    except ValueError:
        return str(path)


def _io_rows(result: Analysis) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    assumed = {a["top"]: a for a in result.assumed_inputs}
    inputs = [{"blob": t, "layer": r.name, "type": r.type, "shape": shape_text(s),
               "assumed": assumed[t]["from"] if t in assumed else ""}
              for r in result.layers if not r.bottoms and r.top_shapes
              for t, s in zip(r.tops, r.top_shapes, strict=False)]
    outputs = [{"blob": b, "shape": shape_text(result.blob_shapes[b]) if b in result.blob_shapes else None}
               for b in result.net.outputs]
    return inputs, outputs


def build_report(net: str | os.PathLike[str] | None = None, *, weights: str | os.PathLike[str] | None = None,
                 log: str | os.PathLike[str] | None = None, options: Options | None = None) -> Report:
    """The report of `net` (default: the bundled LeNet with its real training log)."""
    if options is not None and not isinstance(options, Options):
        raise TypeError(f"build_report(options=...) takes a caffecx.report.model.Options, not {type(options).__name__}")
    opts = options or Options()
    if net is None:
        net, log = DEFAULT_NET, log if log is not None else DEFAULT_LOG
    loaded = load_net(net, phase=opts.phase, stages=opts.stages, level=opts.level, weights=weights)
    plan = plan_net(loaded, batch=opts.batch, input_shapes=opts.input_shapes, strict_data=opts.strict_data)
    result = analyze(plan)
    inputs, outputs = _io_rows(result)
    report = Report(shown_path(net), shown_path(weights) if weights else None, shown_path(log) if log else None,
                    result, inputs, outputs)
    if weights is not None or loaded.weights_path:
        report.weights = weight_stats(loaded)
        report.forward = forward_check(plan, result, timing=opts.timing)
    if log is not None:
        report.log = parse_log(log)
        report.check = check_log(report.log, report.net_path, input_shapes=opts.input_shapes or None)
    _add_roofline(report, plan, opts)
    report.figures, report.graph_method = report_figures(result, report.log, report.roofline, report.machine,
                                                         graph=opts.graph)
    return report


def _add_roofline(report: Report, plan: Any, opts: Options) -> None:
    measured = None
    machine = opts.machine
    if opts.timing:
        from caffecx.bench import bench_plan
        from caffecx.report.roofline import measure_machine

        machine = machine or measure_machine()
        try:
            bench = bench_plan(plan, iterations=5)
            measured = {r["name"]: r["ms"] for r in bench.layers}
        except Exception as err:  # noqa: BLE001 - a net that cannot run still gets its predictions
            report.analysis.net.notes.append(f"timing not measured: {err}")
    caffe = caffe_time_table(opts.caffe_time) if opts.caffe_time else None
    report.machine = machine
    report.caffe_time_path = shown_path(opts.caffe_time) if opts.caffe_time else None
    report.roofline = roofline_rows(report.analysis, machine, measured, caffe)
