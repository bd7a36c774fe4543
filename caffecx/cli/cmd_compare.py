"""``caffecx compare A B``: two nets' totals and per-stage MACs / params / depth / receptive field side by side."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from caffecx.analysis import Analysis, analyze
from caffecx.cli.cmd_analyze import add_strict_data, input_shapes
from caffecx.errors import CaffecxError
from caffecx.io.outputs import check_target, write_outputs
from caffecx.tables import render_markdown, render_text

PLOT_SUFFIXES = (".png", ".svg")


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("compare", help="two nets side by side: totals and per-stage MACs/params/depth/receptive field",
                       description="Seed 004's layer-replacement study: analyze A and B (same phase and options) "
                                   "and print totals and per-stage measures with B/A.")
    p.add_argument("a", metavar="A", help="first net")
    p.add_argument("b", metavar="B", help="second net")
    p.add_argument("--phase", choices=["TRAIN", "TEST"], default="TEST")
    p.add_argument("--batch", type=int, default=None, help="replace the batch size of every input")
    p.add_argument("--input-shape", action="append", default=[], metavar="NAME=N,C,H,W")
    add_strict_data(p)
    p.add_argument("--format", choices=["table", "markdown", "json"], default="table")
    p.add_argument("--plot", metavar="PNG", help="MACs and params per stage, A and B side by side (.png or .svg)")
    p.set_defaults(func=run)


def _analysis(path: str, args: argparse.Namespace) -> Analysis:
    from caffecx.graph import load_net
    net = load_net(path, phase=args.phase)
    return analyze(net, batch=args.batch, input_shapes=input_shapes(args.input_shape), strict_data=args.strict_data)


def run(args: argparse.Namespace) -> int:
    from caffecx.report.compare import compare_nets, comparison_figure

    if args.batch is not None and args.batch <= 0:
        raise CaffecxError("--batch must be a positive integer")
    if args.plot is not None:
        check_target(args.plot, suffixes=PLOT_SUFFIXES, what="plot")  # before any work
    a, b = _analysis(args.a, args), _analysis(args.b, args)
    names = (Path(args.a).stem, Path(args.b).stem)
    if names[0] == names[1]:
        names = (f"A: {names[0]}", f"B: {names[1]}")
    c = compare_nets(a, b, *names)
    if args.plot is not None:
        from caffecx.report.figures import figure_bytes, style

        with style():
            data = figure_bytes(comparison_figure(c), Path(args.plot).suffix.lstrip(".").lower())
        write_outputs({args.plot: data})
        print(f"wrote {args.plot}", file=sys.stderr)
    if args.format == "json":
        json.dump(c.to_json(), sys.stdout, indent=1)
        sys.stdout.write("\n")
        return 0
    rows = [{"scope": r["scope"], "quantity": r["quantity"], c.a_name: r["a"], c.b_name: r["b"],
             "B/A": r["ratio"]} for r in c.rows]
    columns = ["scope", "quantity", c.a_name, c.b_name, "B/A"]
    render = render_markdown if args.format == "markdown" else render_text
    print(render(rows, columns))
    return 0
