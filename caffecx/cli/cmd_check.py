"""``caffecx check [NET] LOG``: every layer, top shape and memory line of a Caffe log vs the analyzer.

Exit 0 when everything matches, 1 on any mismatch, 2 on bad input (including a log that sets up
no net: nothing was checked).
"""

from __future__ import annotations

import argparse
import json
import sys

from caffecx.check import check_log
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
    if args.format == "json":
        json.dump(result.to_json(all_rows=args.all), sys.stdout, indent=1)
        sys.stdout.write("\n")
    else:
        for n in result.nets:
            bad = [r for r in n.rows if r.status != "match"]
            shown = n.rows if args.all else bad
            verdict = "OK" if n.ok else "MISMATCH"
            print(f"{n.label} ({n.source}): {len(n.rows)} compared, {len(bad)} not matching: {verdict}")
            if n.error:
                print(f"  error: {n.error}")
            if shown:
                rows = [{"layer": r.layer, "quantity": r.quantity, "log": r.log_value,
                         "analyzer": r.analyzer_value, "status": r.status, "line": r.line} for r in shown]
                print(render_text(rows, ["layer", "quantity", "log", "analyzer", "status", "line"]))
    return 0 if result.ok else 1
