"""Benchmark: caffecx's NumPy forward pass against OpenCV's Caffe importer (cv2.dnn) and onnxruntime on
caffecx's own ONNX export (`caffecx export`), same nets, same weights.

For each net of ../shared/corpus (ResNet-50 batch 1, GoogLeNet 10, SqueezeNet 1.1 10, AlexNet 10,
MobileNet v1 and v2 1), weights come from `caffecx init` (Caffe's fillers, seeded); both peers load
the same prototxt + caffemodel and run the same random input, in this process, taking turns (a pause for
the previous peer's threads to stop spinning, an untimed pass, then a timed one);
median of --runs timed passes; beside it the NumPy floor of the executor's design (`numpy_floor_ms`: the
convolutions' bare depthwise passes and GEMMs alone, every buffer made beforehand) over onnxruntime's
time, which says whether a target in ÷ onnxruntime can be reached at all. Outputs are compared (largest difference relative to the
output's largest magnitude). Memory, in a child process of its own: the executor's peak (weights as
cast + NumPy's peak allocation during a pass, by tracemalloc) against the floor it aims at (weights +
the largest set of blobs alive at once). OpenCV's allocations are invisible to tracemalloc, and a
whole process's resident high-water mark is dominated by imports and the protobuf parse of the
caffemodel, so no memory figure is given for it.

Run: python scripts/bench_forward.py [--runs N] [--nets resnet50,googlenet,...] [--no-memory]
Caffe's own CPU build took 133 ms (ResNet-50) and 584 ms (GoogLeNet) on this kind of 2-core machine.
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np

REPO = Path(__file__).resolve().parents[1]
if str(REPO) not in sys.path:  # run from a checkout without installing caffecx
    sys.path.insert(0, str(REPO))
CORPUS = REPO.parent / "shared" / "corpus" / "prototxt"
NETS = {  # name: (prototxt, batch)
    "resnet50": ("resnet50__deploy.prototxt", 1),
    "googlenet": ("bvlc_googlenet__deploy.prototxt", 10),
    "squeezenet1.1": ("squeezenet_v1.1__deploy.prototxt", 10),
    "alexnet": ("bvlc_alexnet__deploy.prototxt", 10),
    "mobilenet_v1": ("mobilenet_v1__deploy.prototxt", 1),
    "mobilenet_v2": ("mobilenet_v2__deploy.prototxt", 1),
}
CAFFE_MS = {"resnet50": 133.0, "googlenet": 584.0}


def prepare(name: str, workdir: Path) -> tuple[Path, Path, int]:
    """A copy of the net's prototxt with the batch set, and `caffecx init` weights for it."""
    from caffecx.cli import main as caffecx_main
    from caffecx.io import read_net_text, write_prototxt

    proto_name, batch = NETS[name]
    param = read_net_text(CORPUS / proto_name).param  # upgraded: input_dim nets get an Input layer
    for layer in param.layer:
        if layer.type == "Input":
            for shape in layer.input_param.shape:
                shape.dim[0] = batch
    proto = workdir / f"{name}.prototxt"
    write_prototxt(param, proto)
    model = workdir / f"{name}.caffemodel"
    if caffecx_main(["init", str(proto), "-o", str(model), "--seed", "1"]) != 0:
        raise SystemExit(f"caffecx init failed for {name}")
    trained_like_weights(model)
    return proto, model, batch


def trained_like_weights(model: Path, seed: int = 7) -> None:
    """Deploy prototxts name no fillers (Caffe fills their blobs with 0) and Caffe fills BatchNorm's
    statistics with 0 (variance 0 multiplies by 1/sqrt(eps): activations overflow). Neither computes
    anything worth comparing, so the blobs are replaced by values shaped like a trained net's: weights
    N(0, 1/fan_in), biases U(-0.1, 0.1), BatchNorm mean 0 / variance 1 / factor 1, Scale U(0.5, 1.5)."""
    from caffecx.io import read_caffemodel
    from caffecx.io.writer import write_caffemodel

    rng = np.random.default_rng(seed)
    param = read_caffemodel(model)
    for layer in param.layer:
        sizes = [len(b.data) for b in layer.blobs]
        if layer.type == "BatchNorm" and len(sizes) == 3:
            values = [np.zeros(sizes[0]), np.ones(sizes[1]), np.ones(sizes[2])]
        elif layer.type == "Scale":
            values = [rng.uniform(0.5, 1.5, sizes[0])] + [rng.uniform(-0.1, 0.1, n) for n in sizes[1:]]
        elif sizes and layer.blobs[0].shape.dim:
            fan_in = sizes[0] // max(int(layer.blobs[0].shape.dim[0]), 1)
            values = [rng.standard_normal(sizes[0]) / np.sqrt(max(fan_in, 1))]
            values += [rng.uniform(-0.1, 0.1, n) for n in sizes[1:]]
        else:
            continue
        for blob, value in zip(layer.blobs, values, strict=True):
            blob.data[:] = value.astype(np.float32).tolist()
    write_caffemodel(param, model)


def caffecx_executor(proto: Path, model: Path):  # noqa: ANN201
    from caffecx.graph import load_net
    from caffecx.runtime import executor_for

    return executor_for(load_net(proto, weights=model))


def caffecx_call(executor):  # noqa: ANN001, ANN201
    (name, _), = executor.required_inputs.items()
    out = executor.outputs[-1]
    return lambda x: executor.forward({name: x})[out]


def caffecx_runner(proto: Path, model: Path):  # noqa: ANN201
    executor = caffecx_executor(proto, model)
    (_, shape), = executor.required_inputs.items()
    return shape, caffecx_call(executor)


def opencv_runner(proto: Path, model: Path):  # noqa: ANN201
    import cv2

    net = cv2.dnn.readNetFromCaffe(str(proto), str(model))

    def run(x: np.ndarray) -> np.ndarray:
        net.setInput(x)
        return net.forward()

    return run


def ort_runner(proto: Path, model: Path):  # noqa: ANN201
    """onnxruntime (CPU, 2 threads) on caffecx's export of the same prototxt + caffemodel."""
    import onnxruntime as ort

    from caffecx.export import export_onnx
    from caffecx.graph import load_net

    onnx_model = export_onnx(load_net(proto, weights=model))
    options = ort.SessionOptions()
    options.intra_op_num_threads = 2
    sess = ort.InferenceSession(onnx_model.SerializeToString(), options, providers=["CPUExecutionProvider"])
    name, out = sess.get_inputs()[0].name, sess.get_outputs()[-1].name
    return lambda x: sess.run([out], {name: x})[0]


def time_pair(runners: dict, x: np.ndarray, runs: int, settle_s: float = 0.25) -> dict[str, float]:  # type: ignore[type-arg]
    """Median ms per peer in steady state: the peers take turns, and each turn waits ``settle_s`` (the
    thread pools of the peer before spin on for a while after a run: OpenBLAS's for ~0.1 s,
    onnxruntime's ~0.04 s, and would take a core from this one), then runs an untimed pass (caches
    are the other peer's) and a timed one."""
    times: dict[str, list[float]] = {k: [] for k in runners}
    for _ in range(runs):
        for key, fn in runners.items():
            time.sleep(settle_s)
            fn(x)
            t0 = time.perf_counter()
            fn(x)
            times[key].append(time.perf_counter() - t0)
    return {k: statistics.median(v) * 1e3 for k, v in times.items()}


def live_floor_bytes(proto: Path, model: Path) -> int:
    """Weights + the largest set of blobs alive at once (a blob lives from its producer to its last reader)."""
    from caffecx.graph import load_net
    from caffecx.plan import plan_net

    plan = plan_net(load_net(proto, weights=model))
    weights = sum(int(np.prod(b.shape)) * 4 for p in plan.layers for b in p.param_blobs)
    last: dict[str, int] = {}
    for i, p in enumerate(plan.layers):
        for b in (*p.node.bottoms, *p.node.tops):
            last[b] = i
    live: dict[str, int] = {}
    peak = 0
    for i, p in enumerate(plan.layers):
        for t, s in zip(p.node.tops, p.top_shapes or [], strict=False):
            if not (p.impl.shares_bottom_data or t in p.node.bottoms):
                live[t] = int(np.prod(s)) * 4
        peak = max(peak, sum(live.values()))
        for b in list(live):
            if last.get(b, -1) <= i and b not in plan.net.outputs:
                del live[b]
    return weights + peak


def numpy_floor_ms(proto: Path, model: Path, runs: int) -> tuple[float, float]:
    """(depthwise, GEMM) ms: the least this executor's design can spend in NumPy on the convolutions, with
    every buffer made beforehand -- each depthwise layer's bare per-tap multiply and add passes over its
    phase planes (`phase_shifts`; on one core), every other convolution's bare GEMMs over ready columns
    (OpenBLAS's threads) -- and nothing else (no padding, im2col, bias, ReLU, pooling); best of ``runs``."""
    from caffecx.graph import load_net
    from caffecx.layers._windows import phase_shifts
    from caffecx.plan import plan_net

    rng = np.random.default_rng(0)
    depthwise, gemms = [], []
    for p in plan_net(load_net(proto, weights=model)).layers:
        if p.type != "Convolution":
            continue
        geo, group = p.impl.parsed.geometry, p.impl.parsed.group
        num, channels, c_out, out = p.bottom_shapes[0][0], p.bottom_shapes[0][1], p.top_shapes[0][1], p.top_shapes[0][2:]
        x = rng.random(p.bottom_shapes[0], dtype=np.float32)
        if group == channels == c_out:
            flat, taps, length, _ = phase_shifts(x, out, geo.kernel, geo.stride, geo.pad, geo.dilation)
            acc = np.empty((num, channels, length), np.float32)
            depthwise.append((flat, taps, length, rng.random((channels, len(taps)), dtype=np.float32), acc,
                              np.empty_like(acc)))
        else:
            k = int(np.prod(geo.kernel)) * channels // group
            gemms.append((rng.random((group, c_out // group, k), dtype=np.float32),
                          rng.random((num, group, k, int(np.prod(out))), dtype=np.float32),
                          np.empty((num, group, c_out // group, int(np.prod(out))), np.float32)))

    def taps_only() -> None:
        for flat, taps, length, w, acc, tmp in depthwise:
            for t, (phase, off) in enumerate(taps):
                np.multiply(flat[..., phase, off:off + length], w[:, t:t + 1], out=tmp if t else acc)
                if t:
                    acc += tmp

    def gemm_only() -> None:
        for w, cols, y in gemms:
            np.matmul(w, cols, out=y)

    best = []
    for fn in (taps_only, gemm_only):
        fn()
        best.append(min(_seconds(fn) for _ in range(runs)) * 1e3)
    return best[0], best[1]


def _seconds(fn: Any) -> float:
    t0 = time.perf_counter()
    fn()
    return time.perf_counter() - t0


CHILD = """
import json, sys, tracemalloc
import numpy as np
sys.path.insert(0, {scripts!r})
import bench_forward as b
proto, model, dims = sys.argv[1:4]
x = np.random.default_rng(0).standard_normal(tuple(int(d) for d in dims.split(","))).astype(np.float32)
executor = b.caffecx_executor(proto, model)
fn = b.caffecx_call(executor)
fn(x)
tracemalloc.start()
fn(x)
peak = tracemalloc.get_traced_memory()[1]
print(json.dumps(sum(w.nbytes for ws in executor.weights for w in ws) + peak))
"""


def executor_peak(proto: Path, model: Path, shape: tuple[int, ...]) -> int:
    """The executor's peak in a fresh process: weights as cast + NumPy's peak allocation during one
    pass (tracemalloc traces NumPy's buffers)."""
    code = CHILD.format(scripts=str(REPO / "scripts"))
    res = subprocess.run([sys.executable, "-c", code, str(proto), str(model), ",".join(map(str, shape))],
                         capture_output=True, text=True, check=True)
    return int(res.stdout.strip().splitlines()[-1])


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--runs", type=int, default=7)
    ap.add_argument("--nets", default=",".join(NETS))
    ap.add_argument("--no-memory", action="store_true", help="skip the child processes measuring peak memory")
    ap.add_argument("--json", help="also write the rows here")
    ap.add_argument("--settle", type=float, default=0.25,
                    help="seconds each peer's turn waits for the other peers' threads to stop spinning (default 0.25)")
    args = ap.parse_args()
    import cv2

    cv2.setNumThreads(2)
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        for name in args.nets.split(","):
            proto, model, batch = prepare(name, Path(tmp))
            shape, ours = caffecx_runner(proto, model)
            theirs = opencv_runner(proto, model)
            onnx_rt = ort_runner(proto, model)
            x = np.random.default_rng(0).standard_normal(shape).astype(np.float32)
            a, b = ours(x), theirs(x).reshape(ours(x).shape)
            rel = float(np.abs(a - b).max() / max(np.abs(b).max(), 1e-30))
            rel_ort = float(np.abs(a - onnx_rt(x).reshape(a.shape)).max() / max(np.abs(a).max(), 1e-30))
            ms = time_pair({"caffecx": ours, "opencv": theirs, "ort": onnx_rt}, x, args.runs, args.settle)
            row = {"net": name, "batch": batch, "caffecx_ms": ms["caffecx"], "opencv_ms": ms["opencv"],
                   "ratio": ms["caffecx"] / ms["opencv"], "ort_ms": ms["ort"], "ratio_vs_ort": ms["caffecx"] / ms["ort"],
                   "caffe_ms": CAFFE_MS.get(name), "max_rel_diff": rel, "ort_rel_diff": rel_ort}
            row["floor_dw_ms"], row["floor_gemm_ms"] = numpy_floor_ms(proto, model, args.runs)
            row["floor_vs_ort"] = (row["floor_dw_ms"] + row["floor_gemm_ms"]) / ms["ort"]
            if not args.no_memory:
                row.update(floor_mb=live_floor_bytes(proto, model) / 2**20,
                           executor_peak_mb=executor_peak(proto, model, shape) / 2**20)
                row["peak_vs_floor"] = row["executor_peak_mb"] / row["floor_mb"]
            rows.append(row)
            print(json.dumps(row), file=sys.stderr)
    cols = ["net", "batch", "caffecx_ms", "opencv_ms", "ratio", "ort_ms", "ratio_vs_ort", "caffe_ms", "max_rel_diff",
            "ort_rel_diff", "floor_dw_ms", "floor_gemm_ms", "floor_vs_ort"]
    if not args.no_memory:
        cols += ["floor_mb", "executor_peak_mb", "peak_vs_floor"]
    print(" | ".join(cols))
    for r in rows:
        print(" | ".join("-" if r.get(c) is None else (f"{r[c]:.3g}" if isinstance(r[c], float) else str(r[c]))
                         for c in cols))
    if args.json:
        Path(args.json).write_text(json.dumps(rows, indent=1))


if __name__ == "__main__":
    main()
