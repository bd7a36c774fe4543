"""Benchmark: parse + analyze ResNet-152's deploy prototxt in-process (target < 0.2 s).

Prints a table of median wall times over several runs, with ratios against the reference points
measured in the same run: the bare protobuf text parse (the floor any Python tool pays) and
protobuf's parse + a Python walk of every layer (what a hand-written script would do).
Run: python scripts/bench_analyze.py [PROTOTXT] [--runs N]
"""

from __future__ import annotations

import argparse
import statistics
import time
from pathlib import Path

from google.protobuf import text_format

from caffecx.analysis import analyze
from caffecx.graph import load_net
from caffecx.proto import caffe_pb2

REPO = Path(__file__).resolve().parents[1]
DEFAULT = REPO.parent / "shared" / "corpus" / "prototxt" / "resnet152__deploy.prototxt"


def timed(fn, runs: int) -> float:  # noqa: ANN001
    times = []
    for _ in range(runs):
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    return statistics.median(times)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("prototxt", nargs="?", default=str(DEFAULT))
    ap.add_argument("--runs", type=int, default=15)
    args = ap.parse_args()
    text = Path(args.prototxt).read_text()

    def parse_only() -> None:
        text_format.Parse(text, caffe_pb2.NetParameter())

    def parse_walk() -> None:
        net = text_format.Parse(text, caffe_pb2.NetParameter())
        total = 0
        for layer in net.layer:
            if layer.type == "Convolution":
                total += layer.convolution_param.num_output
        return None

    def caffecx_full() -> None:
        analyze(load_net(args.prototxt))

    caffecx_full()  # warm imports
    result = analyze(load_net(args.prototxt))
    rows = [
        ("protobuf text parse (floor)", timed(parse_only, args.runs)),
        ("protobuf parse + layer walk", timed(parse_walk, args.runs)),
        ("caffecx load_net + analyze", timed(caffecx_full, args.runs)),
    ]
    ours = rows[-1][1]
    print(f"{Path(args.prototxt).name}: {len(result.layers)} layers, {result.totals()['macs']:,} MACs")
    print(f"{'what':32} {'median s':>10} {'caffecx / this':>15}")
    for name, t in rows:
        print(f"{name:32} {t:10.4f} {ours / t:15.2f}")
    print(f"target: caffecx < 0.2 s -> {'met' if ours < 0.2 else 'NOT met'} ({ours:.3f} s)")


if __name__ == "__main__":
    main()
