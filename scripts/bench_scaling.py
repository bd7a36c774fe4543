"""Benchmark: parse + plan + analyze time and memory per layer as a net grows (2,000 to 20,000 layers).

A long net is a chain of small blocks (Convolution, BatchNorm, Scale, ReLU on an 8x8 map, with a
residual Eltwise every block, so Split layers are inserted too). Linear time means the ms per layer
stay flat as the net grows; the target is the issue's 0.13 ms and 7 KB per layer at 20,000 layers.
Memory is tracemalloc's peak during load + analyze (a run of its own), per layer.
Run: python scripts/bench_scaling.py [--sizes 2000,5000,20000]
"""

from __future__ import annotations

import argparse
import time
import tracemalloc

from caffecx.analysis import analyze
from caffecx.graph import load_net

BLOCK = """layer {{ name: "c{i}" type: "Convolution" bottom: "x{p}" top: "c{i}"
  convolution_param {{ num_output: 8 kernel_size: 3 pad: 1 bias_term: false }} }}
layer {{ name: "b{i}" type: "BatchNorm" bottom: "c{i}" top: "c{i}" }}
layer {{ name: "s{i}" type: "Scale" bottom: "c{i}" top: "c{i}" scale_param {{ bias_term: true }} }}
layer {{ name: "r{i}" type: "ReLU" bottom: "c{i}" top: "c{i}" }}
layer {{ name: "e{i}" type: "Eltwise" bottom: "x{p}" bottom: "c{i}" top: "x{i}" }}
"""


def net_text(layers: int) -> str:
    """A net of about `layers` layers (5 per block, plus the Splits caffecx inserts)."""
    head = 'name: "long" layer { name: "x0" type: "Input" top: "x0" input_param { shape { dim: 1 dim: 8 dim: 8 dim: 8 } } }\n'
    return head + "".join(BLOCK.format(i=i, p=i - 1) for i in range(1, layers // 5 + 1))


def measure(layers: int) -> tuple[int, float, float]:
    """(layers, seconds, peak bytes): time and memory measured in separate runs (tracemalloc slows
    the run it watches)."""
    text = net_text(layers)
    start = time.perf_counter()
    rows = analyze(load_net(text)).layers
    seconds = time.perf_counter() - start
    tracemalloc.start()
    analyze(load_net(text))
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    return len(rows), seconds, peak


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--sizes", default="2000,5000,20000")
    args = ap.parse_args()
    print("layers | seconds | ms_per_layer | peak_MB | KB_per_layer")
    for size in (int(s) for s in args.sizes.split(",")):
        n, seconds, peak = measure(size)
        print(f"{n} | {seconds:.2f} | {seconds / n * 1e3:.3f} | {peak / 2**20:.1f} | {peak / n / 1024:.1f}")


if __name__ == "__main__":
    main()
