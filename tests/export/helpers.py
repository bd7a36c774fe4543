"""Shared by the export tests: trained-like weights for deploy nets, onnxruntime runs of every blob."""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np
import onnx
from onnx import TensorProto, helper

from caffecx.plan import Plan


def trained_like(plan: Plan, seed: int = 7) -> Plan:
    """`plan` with every layer's blobs replaced by values shaped like a trained net's (deploy prototxts
    name no fillers, so Caffe's zeros would compare nothing): weights N(0, 1/fan_in), biases
    U(-0.1, 0.1), BatchNorm mean 0 / variance 1 / factor 1, Scale U(0.5, 1.5) (scripts/bench_forward.py's
    rule)."""
    rng = np.random.default_rng(seed)
    for planned in plan.layers:
        shapes = [b.shape for b in planned.param_blobs]
        if not shapes:
            continue
        if planned.type == "BatchNorm":
            arrays = [np.zeros(shapes[0]), np.ones(shapes[1]), np.ones(shapes[2])]
        elif planned.type == "Scale":
            arrays = [rng.uniform(0.5, 1.5, shapes[0]), *(rng.uniform(-0.1, 0.1, s) for s in shapes[1:])]
        else:
            fan_in = int(np.prod(shapes[0][1:])) if len(shapes[0]) > 1 else 1
            arrays = [rng.standard_normal(shapes[0]) / np.sqrt(max(fan_in, 1)),
                      *(rng.uniform(-0.1, 0.1, s) for s in shapes[1:])]
        planned.node.blobs = [a.astype(np.float32) for a in arrays]
    return plan


def expose_all(model: onnx.ModelProto, names: set[str]) -> onnx.ModelProto:
    """A copy of `model` whose graph also outputs every value named in `names` that a node makes."""
    out = onnx.ModelProto()
    out.CopyFrom(model)
    have = {o.name for o in out.graph.output}
    made = {o for node in out.graph.node for o in node.output}
    for name in sorted(names & made - have):
        out.graph.output.append(helper.make_tensor_value_info(name, TensorProto.FLOAT, None))
    return out


def run_ort(model: onnx.ModelProto, feeds: Mapping[str, np.ndarray]) -> dict[str, np.ndarray]:
    """Every graph output of `model` by onnxruntime (CPU), by name."""
    import onnxruntime as ort

    options = ort.SessionOptions()
    options.intra_op_num_threads = 2
    sess = ort.InferenceSession(model.SerializeToString(), options, providers=["CPUExecutionProvider"])
    names = [o.name for o in sess.get_outputs()]
    inputs = {i.name: np.asarray(feeds[i.name], dtype=np.float32) for i in sess.get_inputs()}
    return dict(zip(names, sess.run(names, inputs), strict=True))


def max_rel(a: np.ndarray, b: np.ndarray) -> float:
    """Largest difference relative to `b`'s largest magnitude (caffecx.blobdiff's measure)."""
    a, b = np.asarray(a, dtype=np.float64), np.asarray(b, dtype=np.float64)
    return float(np.abs(a.reshape(b.shape) - b).max() / max(float(np.abs(b).max()), 1e-30)) if b.size else 0.0
