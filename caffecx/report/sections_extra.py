"""The report's optional sections: the log, the check, the weights and the roofline."""

from __future__ import annotations

from typing import Any

from caffecx.report.model import Report
from caffecx.report.weights import NEAR_ZERO

CHECK_COLUMNS = ["net", "layer", "quantity", "log_value", "analyzer_value", "status", "line"]
WEIGHT_COLUMNS = ["layer", "type", "blob", "shape", "count", "min", "max", "mean", "std", "zeros", "near_zero",
                  "nan", "inf"]
ROOF_COLUMNS = ["name", "type", "flops", "bytes", "intensity", "bound", "predicted_ms", "measured_ms", "caffe_ms"]


def log_section(report: Report) -> Any:
    from caffecx.report.sections import Figure, Section

    log = report.log
    if log is None:
        return None
    s = log.summary()
    items: list[Any] = [f"Log `{report.log_path}`: {s['lines']} lines, {s['runs']} run(s), {s['train_rows']} train "
                        f"rows, {s['test_rows']} test rows."]
    if len(log.test):
        last = log.test.iloc[-1]
        outs = [c for c in log.test.columns if c not in ("run", "iteration", "net", "seconds", "lr", "line")]
        items.append(f"Last test (iteration {int(last['iteration'])}): "
                     + ", ".join(f"{c} = {float(last[c]):.6g}" for c in outs) + ".")
    if "log_curves.svg" in report.figures:
        items.append(Figure("log_curves.svg", "training loss, test outputs and learning rate"))
    return Section("log", "Training log", items)


def check_section(report: Report, table: Any) -> Any:
    from caffecx.report.sections import Section

    c = report.check
    if c is None:
        return None
    nets = [{"net": n.label, "source": n.source, "compared": len(n.rows),
             "mismatches": sum(r.status != "match" for r in n.rows), "ok": n.ok, "error": n.error or ""}
            for n in c.nets]
    verdict = ("every layer name, top shape and memory line of the log matched the analyzer" if c.ok
               else "some lines of the log did not match the analyzer (below)")
    rows = [{k: getattr(r, k) for k in CHECK_COLUMNS} for r in c.rows]
    rows.sort(key=lambda r: r["status"] == "match")  # mismatches first
    return Section("check", "Check against the log", [
        f"`caffecx check`: {verdict}.",
        table(["net", "source", "compared", "mismatches", "ok", "error"], nets, "nets the log sets up"),
        table(CHECK_COLUMNS, rows, "every compared line (mismatches first)", fold=20)])


def weights_section(report: Report, table: Any) -> Any:
    from caffecx.report.sections import Section

    if report.weights_path is None and not report.weights:
        return None
    bad = [w for w in report.weights if w.nan or w.inf]
    text = (f"{len(report.weights)} stored blobs; `zeros` and `near_zero` are fractions of the blob "
            f"(near zero: |w| < {NEAR_ZERO:g} × the blob's max |w|); min/max/mean/std over finite values. "
            + (f"{len(bad)} blob(s) hold NaN or Inf." if bad else "No NaN or Inf."))
    return Section("weights", "Weights", [text, table(WEIGHT_COLUMNS, [w.to_json() for w in report.weights])])


def roofline_section(report: Report, table: Any, figure: Any) -> Any:
    from caffecx.report.sections import Section

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
    items: list[Any] = [head]
    if "roofline.svg" in report.figures:
        items.append(figure("roofline.svg", "roofline and time per layer"))
    columns = [c for c in ROOF_COLUMNS if any(r.get(c) is not None for r in report.roofline)]
    items.append(table(columns, report.roofline))
    return Section("roofline", "Roofline", items)
