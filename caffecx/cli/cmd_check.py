"""``caffecx check [NET] LOG``: every layer, top shape and memory line of a Caffe log vs the analyzer.

Exit 0 when every net was checked whole and matches; 1 only for a real disagreement between a net and
the log; 2 on bad input (nothing on stdout, the located error on stderr): a NET or LOG that cannot be
read, a log that sets up no net, no net that the input given can rebuild (no echo and no NET, a
caffemodel without the TEST net, a data shape nothing determines). When some nets were checked and
others (or layers past a cut echo) could not be, the results are printed and the exit status is 2 with
the reason on stderr. A net that a layer builds in its set-up (a recurrent layer's unrolled net) is
reported after its parent, labelled with the layer (``TEST > lstm1``).
"""

from __future__ import annotations

import argparse
import json
import sys

from caffecx.check import CheckResult, check_log
from caffecx.cli.cmd_analyze import input_shapes
from caffecx.errors import CaffecxError
from caffecx.tables import render_text


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("check", help="check a Caffe log's set-up lines against the analyzer",
                       description="Rebuild every net a log sets up (from NET, or from the log's own "
                                   "'Initializing net from parameters' echo), analyze it and compare every "
                                   "layer, top shape and memory line. Exit 0 all match, 1 mismatch, 2 bad input.")
    p.add_argument("paths", nargs="+", metavar="[NET] LOG", help="optional net prototxt, then the log")
    p.add_argument("--phase", choices=["TRAIN", "TEST"], help="check only the nets of this phase")
    p.add_argument("--format", choices=["table", "json"], default="table")
    p.add_argument("--all", action="store_true", help="list matching rows too, not only mismatches")
    p.add_argument("--input-shape", action="append", default=[], metavar="NAME=N,C,H,W",
                   help="shape of an input top whose data source is absent and that the log does not "
                        "print in full (repeatable)")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    if len(args.paths) > 2:
        raise CaffecxError("check takes at most two paths: [NET] LOG")
    net, log = (args.paths[0], args.paths[1]) if len(args.paths) == 2 else (None, args.paths[0])
    result = check_log(log, net, phase=args.phase, input_shapes=input_shapes(args.input_shape))
    if not result.nets:
        what = f"no {args.phase} net" if args.phase else "no net"
        raise CaffecxError(f"the log sets up {what}: nothing to check", path=log)
    if all(n.bad_input for n in result.nets):
        raise CaffecxError(result.nets[0].error or "nothing could be checked")
    if args.format == "json":
        json.dump(result.to_json(all_rows=args.all), sys.stdout, indent=1)
        sys.stdout.write("\n")
    else:
        _print_table(result, args.all)
    status = result.status
    if status == 2:
        for n in result.nets:
            why = n.error if n.bad_input else f"{n.unchecked} layer(s) not checked" if n.unchecked else \
                "some values could not be determined"
            if n.verdict != "OK":
                print(f"caffecx: {n.label} not checked in full: {why}", file=sys.stderr)
    return status


def _print_table(result: CheckResult, all_rows: bool) -> None:
    for n in result.nets:
        bad = [r for r in n.rows if r.status != "match"]
        shown = n.rows if all_rows else bad
        print(f"{n.label} ({n.source}): {len(n.rows)} compared, {len(bad)} not matching: {n.verdict}")
        if n.error:
            print(f"  error: {n.error}")
        if shown:
            rows = [{"layer": r.layer, "quantity": r.quantity, "log": r.log_value,
                     "analyzer": r.analyzer_value, "status": r.status, "line": r.line} for r in shown]
            print(render_text(rows, ["layer", "quantity", "log", "analyzer", "status", "line"]))
