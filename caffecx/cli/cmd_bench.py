"""``caffecx bench NET``: time the NumPy forward pass in-process, whole and per layer."""

from __future__ import annotations

import argparse
import json
import sys

from caffecx.bench import bench_plan
from caffecx.cli.cmd_analyze import input_shapes
from caffecx.errors import CaffecxError
from caffecx.graph import load_net
from caffecx.plan import plan_net
from caffecx.tables import render_text


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("bench", help="time the forward pass (whole and per layer), GFLOP/s, peak memory",
                       description="Time the NumPy forward pass in-process (median and min of K passes after "
                                   "a warm-up), per layer, with the analyzer's FLOPs and peak memory.")
    p.add_argument("net", nargs="?", help="net prototxt (or a solver naming one, or a .caffemodel)")
    p.add_argument("--machine", action="store_true",
                   help="measure this machine instead: peak float32 GEMM GFLOP/s and memory bandwidth (a few "
                        "seconds; the roofline's peaks, for `caffecx report --machine FILE`)")
    p.add_argument("--weights", help=".caffemodel (default: the fillers' values)")
    p.add_argument("--phase", choices=["TRAIN", "TEST"], default="TEST")
    p.add_argument("--batch", type=int, default=None, help="replace the batch size of every input")
    p.add_argument("--input-shape", action="append", default=[], metavar="NAME=N,C,H,W")
    p.add_argument("--iterations", type=int, default=10, help="timed passes (default 10)")
    p.add_argument("--dtype", choices=["float32", "float64"], default="float32")
    p.add_argument("--format", choices=["table", "json"], default="table")
    p.set_defaults(func=run)


def _progress(done: int, total: int) -> None:
    width = 30
    filled = width * done // total
    sys.stderr.write(f"\r[{'#' * filled}{'.' * (width - filled)}] {done}/{total} passes")
    if done == total:
        sys.stderr.write("\n")
    sys.stderr.flush()


def run_machine(args: argparse.Namespace) -> int:
    from caffecx.report.roofline import measure_machine

    m = measure_machine()
    if args.format == "json":
        json.dump(m.to_json(), sys.stdout, indent=1)
        sys.stdout.write("\n")
        return 0
    print(f"peak GEMM: {m.gemm_gflops:.1f} GFLOP/s (float32 {m.matmul_n}x{m.matmul_n} matmul, best of 20)")
    print(f"memory bandwidth: {m.bandwidth_gbs:.1f} GB/s (a {m.copy_mib} MiB float32 copy: read + write, best of 5)")
    return 0


def run(args: argparse.Namespace) -> int:
    if args.machine:
        return run_machine(args)
    if args.net is None:
        raise CaffecxError("bench needs a NET (or --machine)")
    if args.iterations < 1:
        raise CaffecxError("--iterations must be at least 1")
    if args.batch is not None and args.batch <= 0:
        raise CaffecxError("--batch must be a positive integer")
    net = load_net(args.net, phase=args.phase, weights=args.weights)
    plan = plan_net(net, batch=args.batch, input_shapes=input_shapes(args.input_shape))
    show = _progress if sys.stderr.isatty() and args.iterations >= 5 else None
    result = bench_plan(plan, iterations=args.iterations, dtype=args.dtype, progress=show)
    if args.format == "json":
        json.dump(result.to_json(), sys.stdout, indent=1)
        sys.stdout.write("\n")
        return 0
    rows = [{"name": r["name"], "type": r["type"], "ms": f"{r['ms']:.3f}",
             "share": f"{r['ms'] / result.forward_ms_median:.1%}" if result.forward_ms_median else "-"}
            for r in result.layers]
    print(render_text(rows, ["name", "type", "ms", "share"]))
    print(f"forward: median {result.forward_ms_median:.2f} ms, min {result.forward_ms_min:.2f} ms over "
          f"{result.iterations} passes (batch {result.batch}); {result.gflops:.2f} GFLOP/s; "
          f"peak {result.peak_bytes / 2**20:.1f} MiB (weights {result.weights_bytes / 2**20:.1f} MiB)")
    return 0
