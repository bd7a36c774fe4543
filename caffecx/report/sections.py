"""A report as a list of sections of text, tables and figures: the one content both renderers
(`markdown`, `html`) lay out, so the two files always say the same."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from caffecx.report.model import Report
from caffecx.report.weights import NEAR_ZERO

LAYER_COLUMNS = ["name", "type", "top_shapes", "params", "macs", "flops", "memory_bytes", "compute_param_ratio",
                 "rf_size", "stage"]
GROUP_COLUMNS = ["layers", "weights", "params", "macs", "flops", "activations", "macs_share", "params_share"]


@dataclass
class Table:
    columns: list[str]
    rows: list[dict[str, Any]]
    caption: str = ""
    #: Rows past this many are folded away (HTML: a <details>; Markdown: left out, with a count).
    fold: int | None = None


@dataclass
class Figure:
    name: str
    alt: str


@dataclass
class Section:
    key: str
    title: str
    items: list[str | Table | Figure] = field(default_factory=list)


def _summary(report: Report) -> Section:
    r = report.analysis
    t = r.totals()
    items: list[str | Table | Figure] = [
        f"Net `{report.net_path}`, phase {r.net.phase}, batch {t['batch']}"
        + (f"; weights `{report.weights_path}`" if report.weights_path else "")
        + (f"; log `{report.log_path}`" if report.log_path else "") + ".",
        Table(["blob", "layer", "type", "shape", "assumed"], report.inputs, "inputs"),
        Table(["blob", "shape"], report.outputs, "outputs"),
        Table(["quantity", "value"], [{"quantity": k, "value": t[k]} for k in
              ("layers", "weights", "params", "stored", "macs", "flops", "activations", "feature_map_elements",
               "memory_bytes", "compute_param_ratio") if k in t], "totals"),
    ]
    for a in r.assumed_inputs:
        items.append(f"Assumed: `{a['top']}` = {'x'.join(map(str, a['shape']))} (layer `{a['layer']}`: its source "
                     f"is absent; {a['from']}).")
    items += [f"Note: {n}" for n in r.net.notes]
    items += [f"Unknown: layer `{n}` ({ty}): {why}" for n, ty, why in r.unknown]
    return Section("summary", "Summary", items)


def _layers(report: Report) -> Section:
    r = report.analysis
    assumed = {a["layer"] for a in r.assumed_inputs}
    rows = []
    for row in r.to_frame().reset_index(drop=True)[LAYER_COLUMNS].to_dict("records"):
        if row["name"] in assumed:
            row["name"] = f"{row['name']} (assumed)"
        rows.append(row)
    return Section("layers", "Layers", [
        "One row per layer in Caffe's set-up order (split layers included): top shapes as Caffe's `Top shape:` "
        "lines, `memory_bytes` as its `Memory required for data:` line after the layer, MACs/FLOPs of the whole "
        "batch, `compute_param_ratio` = per-sample MACs / weights, `rf_size` the receptive field in input pixels.",
        Table(LAYER_COLUMNS, rows)])


def _groups(report: Report) -> Section:
    r = report.analysis
    tables: list[str | Table | Figure] = []
    for key, frame in (("stage", r.by_stage()), ("type", r.by_type())):
        if len(frame):
            rows = frame.rename_axis(key).reset_index().to_dict("records")
            tables.append(Table([key, *GROUP_COLUMNS], rows, f"per {key}"))
    return Section("breakdowns", "Per stage and per type", tables)


def _figures(report: Report) -> list[Section]:
    out = []
    if "graph.svg" in report.figures:
        out.append(Section("graph", "Graph", [f"Drawn by {report.graph_method}; in-place layers are folded into "
                                              "the node they modify, split layers left out.",
                                              Figure("graph.svg", "the net's graph")]))
    plots: list[str | Table | Figure] = [Figure(n, a) for n, a in (("macs_params.svg", "MACs and params per layer"),
                                                                   ("memory.svg", "memory after each layer"))
                                         if n in report.figures]
    if plots:
        out.append(Section("plots", "Plots", plots))
    return out


def _forward(report: Report) -> Section | None:
    f = report.forward
    if f is None:
        return None
    if not f.ran:
        return Section("forward", "Forward check", [f"Forward pass {f.reason}."])
    text = ("One forward pass (`caffecx.runtime`, float32; inputs the caller feeds and assumed data tops get "
            "seeded random values, data layers whose source is here read it): "
            f"{'every output finite' if f.finite else 'NON-FINITE outputs'}"
            + (f", {f.ms:.2f} ms." if f.ms is not None else "."))
    return Section("forward", "Forward check", [text, Table(["blob", "shape", "finite", "min", "max"], f.outputs)])


def sections(report: Report) -> list[Section]:
    """The report's sections, in order; those without content left out."""
    parts: list[Section | None] = [_summary(report), _layers(report), _groups(report), *_figures(report),
                                   log_section(report), check_section(report), weights_section(report),
                                   _forward(report), roofline_section(report)]
    return [s for s in parts if s is not None and s.items]


# -- the optional sections: the log, the check, the weights and the roofline ---------------------
CHECK_COLUMNS = ["net", "layer", "quantity", "log_value", "analyzer_value", "status", "line"]
WEIGHT_COLUMNS = ["layer", "type", "blob", "shape", "count", "min", "max", "mean", "std", "zeros", "near_zero",
                  "nan", "inf"]
ROOF_COLUMNS = ["name", "type", "flops", "bytes", "intensity", "bound", "predicted_ms", "measured_ms", "caffe_ms"]


def log_section(report: Report) -> Section | None:
    log = report.log
    if log is None:
        return None
    s = log.summary()
    items: list[str | Table | Figure] = [f"Log `{report.log_path}`: {s['lines']} lines, {s['runs']} run(s), {s['train_rows']} train "
                        f"rows, {s['test_rows']} test rows."]
    if len(log.test):
        last = log.test.iloc[-1]
        outs = [c for c in log.test.columns if c not in ("run", "iteration", "net", "seconds", "lr", "line")]
        items.append(f"Last test (iteration {int(last['iteration'])}): "
                     + ", ".join(f"{c} = {float(last[c]):.6g}" for c in outs) + ".")
    if "log_curves.svg" in report.figures:
        items.append(Figure("log_curves.svg", "training loss, test outputs and learning rate"))
    return Section("log", "Training log", items)


def check_section(report: Report) -> Section | None:
    """`caffecx check`'s result: each net's verdict (OK, MISMATCH, INCOMPLETE, NOT CHECKED) and every
    compared line, those not matching first."""
    c = report.check
    if c is None:
        return None
    nets = [{"net": n.label, "source": n.source, "compared": len(n.rows),
             "mismatches": sum(r.status == "mismatch" for r in n.rows), "verdict": n.verdict, "error": n.error or ""}
            for n in c.nets]
    verdict = ("every layer name, top shape and memory line of the log matched the analyzer" if c.ok
               else "some lines of the log did not match the analyzer (below)" if c.status == 1
               else "nothing disagrees, but not every line could be checked (below)")
    rows = [{k: getattr(r, k) for k in CHECK_COLUMNS} for r in c.rows]
    rows.sort(key=lambda r: r["status"] == "match")  # mismatches and unchecked lines first
    return Section("check", "Check against the log", [
        f"`caffecx check`: {verdict}.",
        Table(["net", "source", "compared", "mismatches", "verdict", "error"], nets, "nets the log sets up"),
        Table(CHECK_COLUMNS, rows, "every compared line (those not matching first)", fold=20)])


def weights_section(report: Report) -> Section | None:
    if report.weights_path is None and not report.weights:
        return None
    bad = [w for w in report.weights if w.nan or w.inf]
    text = (f"{len(report.weights)} stored blobs; `zeros` and `near_zero` are fractions of the blob "
            f"(near zero: |w| < {NEAR_ZERO:g} × the blob's max |w|); min/max/mean/std over finite values. "
            + (f"{len(bad)} blob(s) hold NaN or Inf." if bad else "No NaN or Inf."))
    return Section("weights", "Weights", [text, Table(WEIGHT_COLUMNS, [w.to_json() for w in report.weights])])


def roofline_section(report: Report) -> Section | None:
    if not report.roofline:
        return None
    m = report.machine
    if m is None:
        head = ("Arithmetic intensity per layer (FLOPs per byte of bottoms, tops and stored params). Pass "
                "`--timing` (measures this machine and the layers) or `--machine FILE` (`caffecx bench --machine "
                "--format json`) for predicted times.")
    else:
        head = (f"Machine peaks: {m.gemm_gflops:.1f} GFLOP/s (float32 {m.matmul_n}² matmul), "
                f"{m.bandwidth_gbs:.1f} GB/s (a {m.copy_mib} MiB copy). Predicted time = max(FLOPs / peak, "
                "bytes / bandwidth).")
    if report.caffe_time_path:
        head += f" Caffe's times: `{report.caffe_time_path}`."
    items: list[str | Table | Figure] = [head]
    if "roofline.svg" in report.figures:
        items.append(Figure("roofline.svg", "roofline and time per layer"))
    columns = [c for c in ROOF_COLUMNS if any(r.get(c) is not None for r in report.roofline)]
    items.append(Table(columns, report.roofline))
    return Section("roofline", "Roofline", items)
