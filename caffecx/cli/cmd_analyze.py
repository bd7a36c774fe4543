"""``caffecx analyze NET``: Caffe-exact shapes and memory, params, MACs/FLOPs, ratios, receptive fields."""

from __future__ import annotations

import argparse
import json
import sys

from caffecx.analysis import Analysis, analyze, parse_shape
from caffecx.errors import CaffecxError
from caffecx.graph import Net, load_net
from caffecx.tables import fmt_value, render_markdown, render_text

TABLE_COLUMNS = ["name", "type", "top_shapes", "weights", "params", "macs", "flops", "memory_bytes",
                 "compute_param_ratio", "rf_size", "stage"]


def add_net_arguments(p: argparse.ArgumentParser,
                      weights_help: str = ".caffemodel whose blobs are checked against the net") -> None:
    """Arguments every command that builds a net shares (`load_net_from_args` reads them)."""
    p.add_argument("net", help="net prototxt (or a solver naming one, or a .caffemodel: its stored net)")
    p.add_argument("--weights", help=weights_help)
    p.add_argument("--phase", choices=["TRAIN", "TEST"], default="TEST", help="NetState phase (default TEST)")
    p.add_argument("--stage", action="append", default=[], help="NetState stage (repeatable)")
    p.add_argument("--level", type=int, default=None, help="NetState level")
    p.add_argument("--batch", type=int, default=None, help="replace the batch size of every input")
    p.add_argument("--input-shape", action="append", default=[], metavar="NAME=N,C,H,W",
                   help="shape of an input top whose data is absent, or an override (repeatable)")
    p.add_argument("--strict", action="store_true", help="unknown prototxt fields are errors")


def load_net_from_args(args: argparse.Namespace) -> Net:
    """The net `add_net_arguments` describes (NET, --weights, the NetState, --strict)."""
    return load_net(args.net, phase=args.phase, stages=args.stage, level=args.level,
                    weights=args.weights, strict=args.strict)


def input_shapes(items: list[str]) -> dict[str, tuple[int, ...]]:
    out = {}
    for item in items:
        name, sep, shape = item.partition("=")
        if not sep or not name:
            raise CaffecxError(f"--input-shape expects NAME=N,C,H,W, got {item!r}")
        out[name] = parse_shape(shape)
    return out


def build_analysis(args: argparse.Namespace) -> Analysis:
    if args.batch is not None and args.batch <= 0:
        raise CaffecxError("--batch must be a positive integer")
    net = load_net_from_args(args)
    return analyze(net, batch=args.batch, input_shapes=input_shapes(args.input_shape),
                   strict_data=getattr(args, "strict_data", False))


def add_strict_data(p: argparse.ArgumentParser) -> None:
    p.add_argument("--strict-data", action="store_true",
                   help="refuse a data layer whose source is absent instead of assuming the shape its "
                        "prototxt determines (batch_size, crop/resize, channels)")


def assumed_lines(result: Analysis) -> list[str]:
    """One line per input whose shape was assumed from the prototxt (its source is absent)."""
    return [f"assumed: {a['top']}={','.join(map(str, a['shape']))} (layer '{a['layer']}': its source is "
            f"absent; {a['from']}; --input-shape overrides, --strict-data refuses)" for a in result.assumed_inputs]


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("analyze", help="per-layer shapes, memory, params, MACs/FLOPs, receptive fields",
                       description="Set a net up as Caffe would and print one row per layer (Caffe's order, "
                                   "split layers included) plus totals.")
    add_net_arguments(p)
    add_strict_data(p)
    p.add_argument("--format", choices=["table", "csv", "markdown", "json"], default="table")
    p.add_argument("--by", choices=["layer", "type", "stage"], default="layer",
                   help="rows per layer (default), per layer type or per stage (table/csv/markdown)")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    result = build_analysis(args)
    out = sys.stdout
    if args.format == "json":
        json.dump(result.to_json(), out, indent=1)
        out.write("\n")
        return 0
    if args.by == "layer":
        frame = result.to_frame().reset_index(drop=True)
        columns = TABLE_COLUMNS
    else:
        frame = (result.by_type() if args.by == "type" else result.by_stage()).reset_index()
        columns = list(frame.columns)
    if args.format == "csv":
        frame = frame[columns].copy()
        if "top_shapes" in frame:
            frame["top_shapes"] = frame["top_shapes"].map(fmt_value)
        frame.to_csv(out, index=False)
        return 0
    rows = frame[columns].to_dict("records")
    assumed = {a["layer"] for a in result.assumed_inputs}
    for row in rows if args.by == "layer" else []:
        if row["name"] in assumed:
            row["name"] = f"{row['name']} (assumed)"
    render = render_markdown if args.format == "markdown" else render_text
    title = f"{result.net.name or 'net'} ({result.net.phase})"
    out.write((f"## {title}\n\n" if args.format == "markdown" else f"{title}\n") + render(rows, columns) + "\n")
    totals = result.totals()
    summary = (f"total: weights {fmt_value(totals['weights'])}, params {fmt_value(totals['params'])}, "
               f"MACs {fmt_value(totals['macs'])}, FLOPs {fmt_value(totals['flops'])}, "
               f"memory {fmt_value(totals['memory_bytes'])} bytes, batch {fmt_value(totals['batch'])}")
    out.write(("\n" if args.format == "markdown" else "") + summary + "\n")
    for line in assumed_lines(result):
        out.write(("\n" if args.format == "markdown" else "") + line + "\n")
    for name, type_, reason in result.unknown:
        print(f"warning: layer '{name}' ({type_}): {reason}", file=sys.stderr)
    for row in result.layers:
        if row.known and row.note:
            print(f"warning: layer '{row.name}': {row.note}", file=sys.stderr)
    return 0
