"""``caffecx report [NET]``: one net's full report as DIR/report.md + a self-contained DIR/report.html."""

from __future__ import annotations

import argparse
import json
import os
import stat
import sys

from caffecx.cli.cmd_analyze import add_strict_data, input_shapes
from caffecx.errors import CaffecxError
from caffecx.report.roofline import Machine


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("report", help="a net's full report (Markdown + self-contained HTML with plots and graph)",
                       description="Write DIR/report.md and DIR/report.html: summary, per-layer table, stage/type "
                                   "breakdowns, graph, plots, the check against a log, weight statistics, a forward "
                                   "check and the roofline. Without NET: the bundled LeNet with its real log.")
    p.add_argument("net", nargs="?", help="net prototxt (or a solver naming one, or a .caffemodel); "
                                          "default: the bundled LeNet (prototxt/lenet_train_test.prototxt)")
    p.add_argument("--weights", help=".caffemodel: weight statistics and a forward check")
    p.add_argument("--log", help="a Caffe training log: curves and the check table (default with no NET: "
                                 "logs/lenet_train.log)")
    p.add_argument("-o", "--out", required=True, metavar="DIR", help="folder to write (replaced whole)")
    p.add_argument("--phase", choices=["TRAIN", "TEST"], default="TEST")
    p.add_argument("--stage", action="append", default=[], help="NetState stage (repeatable)")
    p.add_argument("--level", type=int, default=None)
    p.add_argument("--batch", type=int, default=None, help="replace the batch size of every input")
    p.add_argument("--input-shape", action="append", default=[], metavar="NAME=N,C,H,W")
    add_strict_data(p)
    p.add_argument("--timing", action="store_true", help="measure this machine's peaks and each layer's time "
                                                         "(the report is then no longer byte-identical run to run)")
    p.add_argument("--machine", metavar="JSON", help="machine peaks from `caffecx bench --machine --format json`")
    p.add_argument("--caffe-time", metavar="LOG", help="a `caffe time` log: Caffe's per-layer forward times")
    p.add_argument("--no-graph", action="store_true", help="leave the graph out")
    p.set_defaults(func=run)


MACHINE_BYTES = 1 << 20


def _machine(path: str | None) -> Machine | None:
    """The peaks of a `caffecx bench --machine --format json` file: a regular file of at most 1 MiB
    (a FIFO or a device is refused without being opened), its fields checked."""
    if path is None:
        return None
    try:
        mode = os.stat(path).st_mode
    except (OSError, ValueError):
        raise CaffecxError("no such file (the --machine JSON)", path=path) from None
    if not stat.S_ISREG(mode):
        raise CaffecxError("is not a regular file (the --machine JSON)", path=path)
    try:
        with open(path, "rb") as fh:
            raw = fh.read(MACHINE_BYTES + 1)
        if len(raw) > MACHINE_BYTES:
            raise ValueError("larger than 1 MiB")
        data = json.loads(raw)
        return Machine(float(data["gemm_gflops"]), float(data["bandwidth_gbs"]), int(data["matmul_n"]),
                       int(data["copy_mib"]))
    except (OSError, ValueError, KeyError, TypeError) as err:
        raise CaffecxError(f"not a `caffecx bench --machine --format json` file ({type(err).__name__})",
                           path=path) from None


def run(args: argparse.Namespace) -> int:
    from caffecx.report import build_report, write_report
    from caffecx.report.model import Options
    from caffecx.report.write import check_report_folder

    check_report_folder(args.out)  # before any work: a file there, a folder that cannot be made
    if args.batch is not None and args.batch <= 0:
        raise CaffecxError("--batch must be a positive integer")
    opts = Options(phase=args.phase, stages=args.stage, level=args.level, batch=args.batch,
                   input_shapes=input_shapes(args.input_shape), strict_data=args.strict_data,
                   timing=args.timing, machine=_machine(args.machine), caffe_time=args.caffe_time,
                   graph=not args.no_graph)
    report = build_report(args.net, weights=args.weights, log=args.log, options=opts)
    out = write_report(report, args.out)
    print(f"wrote {out / 'report.md'} and {out / 'report.html'}", file=sys.stderr)
    return 0
