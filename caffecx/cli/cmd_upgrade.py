"""``caffecx upgrade NET [-o OUT]``: write a legacy (V0/V1/input_dim) prototxt in the current format
(or the net definition stored in a .caffemodel)."""

from __future__ import annotations

import argparse
import os
import sys

from caffecx.errors import CaffecxError
from caffecx.io import read_net_text, read_solver, to_text, write_prototxt
from caffecx.io.outputs import check_target
from caffecx.io.reader import is_binary_model, is_solver_text, read_net_model, read_source


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("upgrade", help="upgrade a V0/V1 net (or a solver) to the current prototxt format",
                       description="Upgrade a net or solver prototxt exactly as Caffe's upgrade_net_proto_text "
                                   "does; print it (default) or write it with -o.")
    p.add_argument("net", help="net or solver prototxt, or a .caffemodel (its net definition, blobs left out)")
    p.add_argument("-o", "--output", help="write here instead of stdout (written whole or not at all)")
    p.add_argument("--strict", action="store_true", help="unknown fields are errors, not warnings")
    p.add_argument("--quiet", action="store_true", help="do not print what was upgraded to stderr")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    if args.output is not None:
        check_target(args.output, what="output (-o)")
        if _same_file(args.output, args.net):
            raise CaffecxError("the output would overwrite the input file (write elsewhere, then move it)",
                               path=args.output)
    if is_binary_model(args.net):
        net, _ = read_net_model(args.net)
        message, notes = net.param, net.notes
    elif is_solver_text(read_source(args.net)[0]):
        solver = read_solver(args.net, strict=args.strict)
        message, notes = solver.param, solver.notes
    else:
        net = read_net_text(args.net, strict=args.strict)
        message, notes = net.param, net.notes
    if not args.quiet:
        for note in notes:
            print(f"note: {note}", file=sys.stderr)
    if args.output is not None:
        write_prototxt(message, args.output)
    else:
        sys.stdout.write(to_text(message))
    return 0


def _same_file(a: str, b: str) -> bool:
    try:
        return os.path.samefile(a, b)
    except (OSError, ValueError):
        return False
