"""``caffecx log LOG...``: what Caffe training / set-up logs say -- nets, layers, train and test tables."""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path
from typing import Any

import pandas as pd

from caffecx.errors import CaffecxError
from caffecx.io.outputs import Outputs, check_folder, check_target
from caffecx.logs import CaffeLog, parse_log
from caffecx.logs.formats import write_json, write_jsonl
from caffecx.logs.tables import write_frame_csv
from caffecx.tables import render_text

NET_COLUMNS = ["net", "run", "name", "phase", "test_index", "layers", "outputs", "memory_bytes"]


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("log", help="parse Caffe glog training/set-up logs: nets, layers, train/test tables",
                       description="Read Caffe logs of any era (glog prefixes with or without the year, 2014 and "
                                   "2015+ wordings, restarts, CRLF, Markdown-indented excerpts) and print the nets "
                                   "set up and the train/test tables.")
    p.add_argument("logs", nargs="+", metavar="LOG", help="log file(s)")
    p.add_argument("--format", choices=["table", "csv", "json", "jsonl"], default=None,
                   help="stdout format: summary tables (default), the train table as CSV, JSON "
                        "(non-finite numbers as the strings \"nan\"/\"inf\"/\"-inf\", values not logged as null), "
                        "or JSON Lines (one row per line, its table named in \"table\")")
    p.add_argument("--csv", metavar="DIR", help="write parse_log.py-style LOG.train / LOG.test files into DIR")
    p.add_argument("--plot", metavar="PNG", help="plot loss, test outputs and lr against iterations and seconds")
    p.add_argument("--rows", type=int, default=10, metavar="N",
                   help="rows of each table shown by --format table: the first and last N/2 (0 = all)")
    p.add_argument("--workers", type=int, default=None, metavar="N",
                   help="processes for a large log (default: the CPUs available; 1 = in-process)")
    p.set_defaults(func=run)


def _load(paths: list[str], workers: int | None) -> list[CaffeLog]:
    logs = []
    for path in paths:
        if Path(path).is_dir():
            raise CaffecxError("is a directory, not a log file", path=path)
        logs.append(parse_log(path, workers=workers))
    return logs


def csv_names(paths: list[str]) -> list[str]:
    """The base name of each log's ``--csv`` tables (``<base>.train``, ``<base>.test``): its file name;
    logs sharing a file name (``a/x.log``, ``b/x.log``) are told apart by their folder's name
    (``a__x.log``, ``b__x.log``), and when that is shared too by their place among the logs given
    (``1__x.log``, ``2__x.log``, counting from 1)."""
    names = [Path(p).name or "caffe.log" for p in paths]
    if len(set(names)) == len(names):
        return names
    parents = [Path(os.path.abspath(p)).parent.name or "root" for p in paths]
    out = []
    for i, name in enumerate(names):
        if names.count(name) == 1:
            out.append(name)
            continue
        twins = [parents[k] for k, other in enumerate(names) if other == name]
        out.append(f"{parents[i]}__{name}" if twins.count(parents[i]) == 1 else f"{i + 1}__{name}")
    return out


def _check_outputs(args: argparse.Namespace) -> None:
    """Every output target checked before any log is read: a located `CaffecxError`, nothing made."""
    if args.csv is not None:
        check_folder(args.csv, what="--csv folder")
    if args.plot is not None:
        from caffecx.report.curves import PLOT_SUFFIXES

        check_target(args.plot, suffixes=PLOT_SUFFIXES, make_parents=True, what="--plot file")


def _write_outputs(args: argparse.Namespace, logs: list[CaffeLog]) -> list[Path]:
    """The ``--csv`` tables and the ``--plot`` figure, all or nothing (`caffecx.io.outputs`)."""
    with Outputs() as out:
        if args.csv is not None:
            for log, base in zip(logs, csv_names(args.logs), strict=True):
                for name, data in log.csv_tables(base).items():
                    out.add(Path(args.csv) / name, data, make_parents=True, what="--csv table")
        if args.plot is not None:
            from caffecx.report.curves import PLOT_SUFFIXES, curves_figure
            from caffecx.report.figures import figure_bytes

            target = Path(args.plot)
            data = figure_bytes(curves_figure(logs), target.suffix.lstrip(".").lower() or "png")
            out.add(target, data, suffixes=PLOT_SUFFIXES, make_parents=True, what="--plot file")
    return out.commit()


def run(args: argparse.Namespace) -> int:
    _check_outputs(args)
    logs = _load(args.logs, args.workers)
    for path in _write_outputs(args, logs):
        print(f"wrote {path}", file=sys.stderr)
    fmt = args.format or ("table" if not (args.csv or args.plot) else None)
    out = sys.stdout
    if fmt == "json":
        write_json(logs, out)
    elif fmt == "jsonl":
        write_jsonl(logs, out)
    elif fmt == "csv":
        _write_train_csv(logs, out)
    elif fmt == "table":
        for i, log in enumerate(logs):
            if i:
                out.write("\n")
            out.write(summary_text(log, args.rows) + "\n")
    return 0


def _write_train_csv(logs: list[CaffeLog], out: Any) -> None:
    frames = []
    for log in logs:
        frame = log.train.copy()
        missing = log.missing["train"].copy()
        if len(logs) > 1:
            frame.insert(0, "log", log.path)
            missing.insert(0, "log", False)
        frames.append((frame, missing))
    if len(frames) == 1:
        write_frame_csv(frames[0][0], frames[0][1], out)
        return
    frame = pd.concat([f for f, _ in frames], ignore_index=True)
    missing = pd.concat([m for _, m in frames], ignore_index=True).fillna(True).astype(bool)
    write_frame_csv(frame, missing, out)


def _cell(v: Any, missing: bool) -> Any:
    if missing or v is None or (not isinstance(v, float) and v is pd.NA):
        return None
    return v


def _table(frame: pd.DataFrame, missing: pd.DataFrame, columns: list[str], n: int) -> str:
    hidden = 0
    if 0 < n < len(frame):
        head = (n + 1) // 2
        keep = list(range(head)) + list(range(len(frame) - (n - head), len(frame)))
        hidden = len(frame) - n
        frame, missing = frame.iloc[keep], missing.iloc[keep]
    values = {c: frame[c].tolist() for c in columns}
    miss = {c: missing[c].tolist() for c in columns}
    shown = [{c: _cell(values[c][i], miss[c][i]) for c in columns} for i in range(len(frame))]
    text = render_text(shown, columns)
    if hidden:
        lines = text.split("\n")
        lines.insert(2 + (n + 1) // 2, f"... {hidden} more rows ...")
        text = "\n".join(lines)
    return text


def summary_text(log: CaffeLog, rows: int = 10) -> str:
    """The compact summary ``caffecx log`` prints: runs, nets, and the train/test tables."""
    s = log.summary()
    parts = [f"{log.path}: {s['lines']} lines ({s['glog_lines']} glog), {s['runs']} run(s), {s['nets']} net(s), "
             f"{s['train_rows']} train rows, {s['test_rows']} test rows, {s['snapshots']} snapshot files"]
    for r in log.runs:
        bits = [f"run {r.index}: {r.status}"]
        if r.net_name:
            bits.append(f"net {r.net_name}")
        if r.resumed_from:
            bits.append(f"resumed from {r.resumed_from}")
        if r.fatal:
            bits.append(f"line {r.fatal_line}: {r.fatal}")
        elif r.aborted:
            bits.append(f"line {r.abort_line}: {r.aborted}")
        parts.append("  " + ", ".join(bits))
    if len(log.nets):
        parts.append("\nnets")
        parts.append(render_text(log.nets[NET_COLUMNS].to_dict("records"), NET_COLUMNS))
        inner = [(net, rec) for net in log.net_logs for rec in net.layers if rec.nested is not None]
        if inner:
            parts.append("set up inside a layer (unrolled nets): " + ", ".join(
                f"net {net.index} '{rec.name}' ({len(rec.nested.layers)} layers, "
                f"{rec.nested.memory_bytes} bytes)" for net, rec in inner))
    if len(log.train):
        cols = [c for c in log.train.columns if c not in ("s_per_interval", "interval_iters", "line")
                and not log.missing["train"][c].all()]
        parts.append(f"\ntrain ({len(log.train)} rows)")
        parts.append(_table(log.train, log.missing["train"], cols, rows))
    if len(log.test):
        cols = [c for c in log.test.columns if c != "line" and not log.missing["test"][c].all()]
        parts.append(f"\ntest ({len(log.test)} rows)")
        parts.append(_table(log.test, log.missing["test"], cols, rows))
    return "\n".join(parts + _tool_tables(log))


def _tool_tables(log: CaffeLog) -> list[str]:
    """``caffe test``'s results (after its batch count) and ``caffe time``'s per-layer times, forward and
    backward side by side, then its averages."""
    parts = []
    if len(log.test_results):
        batches = log.test_batches["batch"].nunique()
        parts.append(f"\ncaffe test results (means over {batches} batch(es))")
        parts.append(render_text(log.test_results.drop(columns="line").to_dict("records"),
                                 ["run", "name", "value", "loss_weight", "weighted"]))
    if len(log.timing):
        t = log.timing
        per_layer = t[t["layer"].notna()]
        wide = per_layer.pivot_table(index=["run", "layer"], columns="direction", values="ms", sort=False)
        wide = wide.reindex(columns=["forward", "backward"]).add_suffix("_ms").reset_index()
        parts.append("\ncaffe time (average ms per layer)")
        parts.append(render_text(wide.to_dict("records"), list(wide.columns)))
        totals = t[t["layer"].isna()]
        parts.append(", ".join(f"{d}: {ms:g} ms" for d, ms in zip(totals["direction"], totals["ms"], strict=True)))
    return parts


__all__ = ["csv_names", "register", "run", "summary_text"]
