"""``caffecx export NET [--weights W] -o OUT.onnx``: the net as an ONNX model (see `caffecx.export`).

The model is built and checked (``onnx.checker`` full check, strict shape inference against the plan)
in memory, then written whole or not at all; a layer ONNX cannot express is refused by name and line
and nothing is written.
"""

from __future__ import annotations

import argparse
import sys
from typing import TYPE_CHECKING

from caffecx.cli.cmd_analyze import add_net_arguments, input_shapes, load_net_from_args
from caffecx.cli.cmd_init import _same_file
from caffecx.errors import CaffecxError
from caffecx.io.outputs import check_target
from caffecx.plan import plan_net

if TYPE_CHECKING:
    import onnx


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("export", help="write the net as an ONNX model (weights as initializers)",
                       description="Export the net to ONNX with Caffe's semantics (pooling sizes and divisors, "
                                   "LRN, BatchNorm's factor, ...), checked by onnx.checker and shape inference.")
    add_net_arguments(p, weights_help=".caffemodel (default: the fillers' values, drawn with --seed)")
    p.add_argument("-o", "--output", required=True, help="the .onnx file to write")
    p.add_argument("--opset", type=int, default=None,
                   help="ONNX opset (default: caffecx.export.DEFAULT_OPSET, 18 today; 13 and up)")
    p.add_argument("--dynamic-batch", action="store_true", help="make the first axis of inputs and outputs symbolic")
    p.add_argument("--output-blob", action="append", default=[], metavar="BLOB", dest="output_blobs",
                   help="a graph output (repeatable; default: the net's outputs); layers no output needs are "
                        "left out, so a net ending in a layer ONNX cannot express exports up to its bottoms")
    p.add_argument("--input-blob", action="append", default=[], metavar="BLOB", dest="input_blobs",
                   help="cut the net at this blob: it becomes a graph input (repeatable)")
    p.add_argument("--seed", type=int, default=0, help="seed of the fillers for layers without weights")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from caffecx.export import DEFAULT_OPSET, export_onnx, write_onnx  # onnx loads in 0.6 s: only here

    if args.opset is None:
        args.opset = DEFAULT_OPSET
    check_target(args.output, suffixes=(".onnx",), what="output (-o)")
    if args.batch is not None and args.batch <= 0:
        raise CaffecxError("--batch must be a positive integer")
    if _same_file(args.output, args.net) or (args.weights and _same_file(args.output, args.weights)):
        raise CaffecxError("the output would overwrite an input file", path=args.output)
    net = load_net_from_args(args)
    plan = plan_net(net, batch=args.batch, input_shapes=input_shapes(args.input_shape))
    model = export_onnx(plan, opset=args.opset, dynamic_batch=args.dynamic_batch,
                        outputs=args.output_blobs or None, inputs=args.input_blobs or None, seed=args.seed)
    write_onnx(model, args.output)
    print(f"wrote {args.output}: {summary(model)}", file=sys.stderr)
    return 0


def summary(model: onnx.ModelProto) -> str:
    """One line: opset, node count, inputs and outputs with their shapes, weights."""
    def shape(vi: onnx.ValueInfoProto) -> str:
        dims = [d.dim_param or str(d.dim_value) for d in vi.type.tensor_type.shape.dim]
        return f"{vi.name} ({'x'.join(dims)})"

    values = sum(int(_count(t.dims)) for t in model.graph.initializer)
    return (f"opset {model.opset_import[0].version}, {len(model.graph.node)} nodes; "
            f"inputs {', '.join(shape(i) for i in model.graph.input)}; "
            f"outputs {', '.join(shape(o) for o in model.graph.output)}; "
            f"{len(model.graph.initializer)} initializers ({values:,} values)")


def _count(dims: list[int]) -> int:
    total = 1
    for d in dims:
        total *= int(d)
    return total
