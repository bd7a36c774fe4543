"""``caffecx lenet``: regenerate seed 002's LeNet compute/parameter analysis (Markdown + PNG)."""

from __future__ import annotations

import argparse
import sys

from caffecx.lenet import BUNDLED, lenet_analysis, write_report


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("lenet", help="regenerate the classic LeNet compute/parameter analysis",
                       description="Analyze the bundled LeNet (or the one in --dir) and write "
                                   "lenet_analysis.md + lenet_analysis.png; the Markdown is also printed.")
    p.add_argument("--dir", default=str(BUNDLED), help="folder with lenet.prototxt and lenet_train_test.prototxt")
    p.add_argument("--out-dir", default="out/lenet", help="where to write the report (default out/lenet)")
    p.add_argument("--log", help="a real Caffe training log of the TRAIN net to set the recomputed set-up lines "
                                 "against (default: lenet_train.log in --dir, else the bundled logs/lenet_train.log)")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from caffecx.io.outputs import check_folder

    check_folder(args.out_dir, what="output folder (--out-dir)")
    result = lenet_analysis(args.dir, log=args.log)
    md, png = write_report(result, args.out_dir)
    sys.stdout.write(md.read_text())
    print(f"wrote {md} and {png}", file=sys.stderr)
    return 0
