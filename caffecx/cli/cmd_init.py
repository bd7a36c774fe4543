"""``caffecx init NET -o W.caffemodel [--seed S]``: a caffemodel of the net's initial weights.

Every layer's blobs are drawn from the fillers its prototxt declares (Caffe's filler rules, NumPy's
random numbers; `caffecx.fillers`), and written as Caffe's ``Net::ToProto`` writes a snapshot: the net's
layers in set-up order (Split layers included, ``phase`` set), each with its blobs as ``shape { dim }`` and
float ``data``. The file loads in caffecx (``--weights``) and in OpenCV's ``readNetFromCaffe``. With
``--weights``, layers that file has keep its blobs (a fine-tuning start) and only the others are filled.
"""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

from caffecx.cli.cmd_analyze import add_net_arguments, input_shapes, load_net_from_args
from caffecx.errors import CaffecxError, ShapeError
from caffecx.io.outputs import check_target
from caffecx.io.writer import caffemodel_bytes, write_atomic
from caffecx.plan import Plan, plan_net
from caffecx.proto import caffe_pb2


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("init", help="write a .caffemodel of the net's initial (filler) weights",
                       description="Set the net up, fill every layer's blobs from its fillers (deterministic "
                                   "for a seed) and write them as a binary .caffemodel, whole or not at all.")
    add_net_arguments(p, weights_help=".caffemodel whose layers keep their blobs; only the other layers are filled")
    p.add_argument("-o", "--output", required=True, help="the .caffemodel to write")
    p.add_argument("--seed", type=int, default=0, help="seed of the fillers' random numbers (default 0)")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    if args.seed < 0:
        raise CaffecxError("--seed must be a non-negative integer")
    if args.batch is not None and args.batch <= 0:
        raise CaffecxError("--batch must be a positive integer")
    check_target(args.output, what="output (-o)")
    if _same_file(args.output, args.net) or (args.weights and _same_file(args.output, args.weights)):
        raise CaffecxError("the output would overwrite an input file", path=args.output)
    net = load_net_from_args(args)
    plan = plan_net(net, batch=args.batch, input_shapes=input_shapes(args.input_shape))
    data, filled, kept, values = initial_caffemodel(plan, args.seed)
    write_atomic(args.output, data)
    print(f"wrote {args.output}: {filled + kept} layers with blobs ({filled} filled with seed {args.seed}, "
          f"{kept} from --weights), {values:,} values", file=sys.stderr)
    return 0


def initial_caffemodel(plan: Plan, seed: int = 0) -> tuple[bytes, int, int, int]:
    """The caffemodel bytes for `plan` (loaded weights kept, the rest filled), with the counts of layers
    filled and kept and the number of values written. Raises a located error for a layer whose blobs
    cannot be known (a layer that could not be set up)."""
    for planned in plan.layers:
        if not planned.known:
            why = planned.note or "it could not be set up"
            raise planned.locate(ShapeError(f"{why}: its blobs cannot be known, so no weights can be "
                                            "written (pass --input-shape for a data source caffecx "
                                            "cannot read)"), plan.net.path)
    fills = plan.init_weights(seed)
    layers = []
    filled = kept = values = 0
    for planned in plan.layers:
        arrays = list(planned.weights) if planned.weights else fills.get(planned.name, [])
        if planned.param_blobs:
            kept += bool(planned.weights)
            filled += not planned.weights
        values += sum(int(a.size) for a in arrays)
        layers.append((planned.node.param, arrays))
    phase = caffe_pb2.TRAIN if plan.net.phase == "TRAIN" else caffe_pb2.TEST
    return caffemodel_bytes(plan.net.name, layers, phase), filled, kept, values


def _same_file(a: str, b: str) -> bool:
    try:
        return os.path.samefile(a, b)
    except (OSError, ValueError):
        return Path(a).resolve() == Path(b).resolve()
