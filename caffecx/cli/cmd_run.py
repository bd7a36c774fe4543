"""``caffecx run NET``: Caffe's forward pass in NumPy; write the blobs, compare them with a reference,
or print the best classes of a probability output."""

from __future__ import annotations

import argparse
import io
import sys
from pathlib import Path

import numpy as np

from caffecx.blobdiff import DEFAULT_TOLERANCE, BlobDiff, compare_blobs, read_reference
from caffecx.cli.cmd_analyze import add_net_arguments, input_shapes, load_net_from_args
from caffecx.errors import CaffecxError
from caffecx.io.outputs import check_target
from caffecx.io.writer import write_atomic
from caffecx.plan import plan_net
from caffecx.runtime import Executor, build_executor
from caffecx.tables import render_text

IMAGE_SUFFIXES = {".png", ".jpg", ".jpeg", ".bmp", ".gif", ".tif", ".tiff", ".webp", ".ppm", ".pgm"}


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("run", help="run the forward pass (NumPy) and write, compare or classify",
                       description="Run a net's forward pass as Caffe would, on the CPU with NumPy.")
    add_net_arguments(p, weights_help=".caffemodel (default: the fillers' values, drawn with --seed)")
    p.add_argument("--input", action="append", default=[], metavar="NAME=FILE",
                   help="an input blob from a .npy file, or an image through the input layer's transform_param "
                        "(repeatable; NAME may be left out when the net has one input)")
    p.add_argument("--blobs", choices=["outputs", "all"], default="outputs", help="blobs kept and written")
    p.add_argument("--out", help="write the kept blobs to this .npz (keys blob/<name>)")
    p.add_argument("--compare", metavar="REF.npz",
                   help="compare every blob with a reference npz (its input/ keys feed inputs not given)")
    p.add_argument("--tolerance", type=float, default=DEFAULT_TOLERANCE,
                   help=f"largest difference relative to a blob's largest magnitude (default {DEFAULT_TOLERANCE})")
    p.add_argument("--top", type=int, default=None, metavar="K", help="print the K best classes per sample")
    p.add_argument("--labels", help="class names, one per line (with --top)")
    p.add_argument("--iterations", type=int, default=1, metavar="N",
                   help="average the outputs over N passes, data layers reading successive batches "
                        "(as `caffe test -iterations N`)")
    p.add_argument("--dtype", choices=["float32", "float64"], default="float32")
    p.add_argument("--seed", type=int, default=0, help="seed of fillers and of TRAIN-phase randomness")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    if args.batch is not None and args.batch <= 0:
        raise CaffecxError("--batch must be a positive integer")
    if args.iterations < 1:
        raise CaffecxError("--iterations must be at least 1")
    if args.iterations > 1 and (args.blobs == "all" or args.compare):
        raise CaffecxError("--iterations averages the outputs: it does not go with --blobs all or --compare")
    if args.top is not None and args.top <= 0:
        raise CaffecxError("--top must be a positive integer")
    if args.out is not None:
        check_target(args.out, suffixes=(".npz",), what="--out file")
    reference, ref_inputs = read_reference(args.compare) if args.compare else ({}, {})
    labels = _read_labels(args.labels) if args.labels else None
    net = load_net_from_args(args)
    plan = plan_net(net, batch=args.batch, input_shapes=input_shapes(args.input_shape))
    executor = build_executor(plan, dtype=args.dtype, seed=args.seed)
    feeds = _feeds(executor, args.input, ref_inputs)
    keep = "all" if (args.blobs == "all" or args.compare) else "outputs"
    blobs = executor.forward(feeds, keep=keep)
    if args.iterations > 1:
        blobs = _averaged(executor, feeds, blobs, args.iterations)
    if args.out is not None:
        written = blobs if args.blobs == "all" else {k: blobs[k] for k in executor.outputs if k in blobs}
        buffer = io.BytesIO()
        np.savez(buffer, **{f"blob/{k}": v for k, v in written.items()})
        write_atomic(args.out, buffer.getvalue())
    status = 0
    if args.compare:
        status = _print_comparison(compare_blobs(blobs, reference, args.tolerance), args.tolerance)
    if args.top:
        _print_top(blobs, executor.outputs, args.top, labels)
    if not args.compare and not args.top:
        _print_summary(blobs, executor, args.out)
    return status


def _averaged(executor: Executor, feeds: dict[str, np.ndarray], first: dict[str, np.ndarray],
              iterations: int) -> dict[str, np.ndarray]:
    """Each output's mean over `iterations` passes (the first one given), as ``caffe test`` averages."""
    sums = {k: v.astype(np.float64) for k, v in first.items()}
    for _ in range(iterations - 1):
        for k, v in executor.forward(feeds).items():
            sums[k] += v
    return {k: (v / iterations).astype(first[k].dtype) for k, v in sums.items()}


def _feeds(executor: Executor, items: list[str], ref_inputs: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
    expected = executor.inputs
    feeds: dict[str, np.ndarray] = {}
    for item in items:
        name, sep, path = item.partition("=")
        if not sep:
            if len(expected) != 1:
                raise CaffecxError(f"--input {item!r}: name the blob (NAME=FILE); the net's inputs are "
                                   f"{', '.join(expected) or 'none'}")
            name, path = next(iter(expected)), item
        if name not in expected:
            raise CaffecxError(f"--input {item!r}: no input blob '{name}'; the net's inputs are "
                               f"{', '.join(expected) or 'none'}")
        feeds[name] = _read_input(executor, name, path)
    for name, array in ref_inputs.items():
        if name in expected and name not in feeds:
            feeds[name] = array
    return feeds


def _read_input(executor: Executor, name: str, path: str) -> np.ndarray:
    file = Path(path)
    if not file.is_file():
        raise CaffecxError(f"input '{name}': no such file", path=path)
    if file.suffix.lower() in IMAGE_SUFFIXES:
        from caffecx.layers.datasource import load_image_input

        planned = next(p for p in executor.plan.layers if name in p.node.tops)
        return load_image_input(planned.impl, path, executor.inputs[name], executor.dtype,
                                base_dirs=executor.plan.context.base_dirs)
    try:
        return np.load(file, allow_pickle=False)
    except (OSError, ValueError, EOFError) as err:
        raise CaffecxError(f"input '{name}': not a readable .npy array or image ({err})", path=path) from None


def _read_labels(path: str) -> list[str]:
    try:
        return Path(path).read_text(encoding="utf-8", errors="replace").splitlines()
    except OSError as err:
        raise CaffecxError(f"cannot read the labels ({err.strerror})", path=path) from None


def _print_comparison(rows: list[BlobDiff], tolerance: float) -> int:
    table = [{"blob": r.name, "shape": "x".join(map(str, r.shape)) if r.shape is not None else "-",
              "ref_shape": "x".join(map(str, r.ref_shape)) if r.ref_shape is not None else "-",
              "max_abs_diff": "-" if r.max_abs is None else f"{r.max_abs:.3g}",
              "max_rel_diff": "-" if r.max_rel is None else f"{r.max_rel:.3g}", "status": r.status}
             for r in rows]
    print(render_text(table, list(table[0]) if table else ["blob"]))
    bad = [r for r in rows if r.status not in ("ok", "no reference")]
    print(f"{len(rows) - len(bad)} of {len(rows)} blobs agree within {tolerance:g} of their largest magnitude"
          + (f"; {len(bad)} do not" if bad else ""))
    return 1 if bad else 0


def _print_top(blobs: dict[str, np.ndarray], outputs: list[str], k: int, labels: list[str] | None) -> None:
    name = next((o for o in outputs if o in blobs and blobs[o].ndim >= 2), None)
    if name is None:
        raise CaffecxError("--top needs an output blob with a class axis")
    scores = blobs[name].reshape(blobs[name].shape[0], -1)
    for n, row in enumerate(scores):
        best = np.argsort(-row, kind="stable")[:k]
        print(f"{name}[{n}]:")
        for rank, c in enumerate(best, 1):
            label = labels[c] if labels and c < len(labels) else ""
            print(f"  {rank}. class {c} {row[c]:.6g} {label}".rstrip())


def _print_summary(blobs: dict[str, np.ndarray], executor: Executor, out: str | None) -> None:
    """One line per kept blob: a scalar's value (a loss as Caffe's ``name = x (* w = wx loss)``), else
    its shape and range."""
    losses = executor.losses(blobs)
    for name, array in blobs.items():
        if array.size == 1:
            value = float(array.reshape(-1)[0])
            weighted = losses.get(name)
            tail = f" (* {weighted / value:g} = {weighted:g} loss)" if weighted is not None and value else ""
            print(f"{name} = {value:g}{tail}")
            continue
        finite = array[np.isfinite(array)]
        stats = (f"min {finite.min():.6g} max {finite.max():.6g} mean {finite.mean():.6g}"
                 if finite.size else "no finite values")
        print(f"{name}: {'x'.join(map(str, array.shape))} {stats}")
    if out:
        print(f"wrote {len(blobs)} blobs to {out}", file=sys.stderr)
