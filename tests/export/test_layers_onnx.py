"""Each layer mapping against the executor, on small nets built for the Caffe-vs-ONNX differences:
ceil-mode pooling with the clip rule and asymmetric end pads, AVE divisors at the border, LRN both ways,
grouped/dilated (de)convolution, broadcast axes, and the fork layers."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

pytest.importorskip("onnxruntime")

from helpers import max_rel, run_ort, trained_like  # noqa: E402

from caffecx.export import export_onnx, inferred_shapes  # noqa: E402
from caffecx.graph import load_net  # noqa: E402
from caffecx.plan import plan_net  # noqa: E402
from caffecx.runtime import executor_for  # noqa: E402


def _input(name: str, *shape: int) -> str:
    dims = " ".join(f"dim: {d}" for d in shape)
    return f'layer {{ name: "{name}" type: "Input" top: "{name}" input_param {{ shape {{ {dims} }} }} }}\n'


def _pool(name: str, params: str) -> str:
    return f'layer {{ name: "{name}" type: "Pooling" bottom: "x" top: "{name}" pooling_param {{ {params} }} }}\n'


POOLS = [
    "pool: MAX kernel_size: 3 stride: 2",             # ceil mode: 112 -> 56 style overrun
    "pool: AVE kernel_size: 3 stride: 2",
    "pool: AVE kernel_size: 4 stride: 2 pad: 1",      # clip rule drops the last window
    "pool: MAX kernel_size: 4 stride: 2 pad: 1",
    "pool: AVE kernel_size: 3 stride: 2 pad: 1",
    "pool: AVE kernel_size: 2 stride: 3 pad: 1",      # stride > kernel
    "pool: MAX kernel_size: 2 stride: 3 pad: 1",
    "pool: AVE kernel_h: 3 kernel_w: 2 stride_h: 2 stride_w: 1 pad_h: 1 pad_w: 0",
    "pool: AVE global_pooling: true",
    "pool: MAX global_pooling: true",
    "pool: AVE kernel_size: 5 stride: 1 pad: 2",
    "pool: AVE kernel_size: 3 stride: 2 round_mode: FLOOR",
]

CASES = {
    "pooling": _input("x", 2, 3, 11, 10) + "".join(_pool(f"p{i}", p) for i, p in enumerate(POOLS)),
    "pooling_even": _input("x", 1, 2, 12, 12) + "".join(_pool(f"p{i}", p) for i, p in enumerate(POOLS)),
    "lrn": _input("x", 2, 7, 6, 5)
    + 'layer { name: "a" type: "LRN" bottom: "x" top: "a" lrn_param { local_size: 5 alpha: 0.3 beta: 0.75 k: 2 } }\n'
    + 'layer { name: "w" type: "LRN" bottom: "x" top: "w" lrn_param { local_size: 3 alpha: 0.5 beta: 0.6 '
      'norm_region: WITHIN_CHANNEL } }\n',
    "conv": _input("x", 1, 4, 9, 8)
    + 'layer { name: "c" type: "Convolution" bottom: "x" top: "c" convolution_param { num_output: 6 kernel_size: 3 '
      'stride: 2 pad: 1 dilation: 2 group: 2 } }\n'
    + 'layer { name: "t" type: "Convolution" bottom: "x" top: "t" convolution_param { num_output: 2 kernel_size: 4 '
      'stride: 3 } }\n'
    + 'layer { name: "d" type: "Deconvolution" bottom: "x" top: "d" convolution_param { num_output: 6 kernel_size: 3 '
      'stride: 2 pad: 1 dilation: 2 group: 2 } }\n'
    + 'layer { name: "d2" type: "Deconvolution" bottom: "x" top: "d2" convolution_param { num_output: 3 kernel_h: 4 '
      'kernel_w: 2 stride_h: 2 stride_w: 3 pad_h: 1 pad_w: 0 } }\n',
    "affine": _input("x", 2, 3, 4, 5) + _input("g", 3, 4)
    + 'layer { name: "s1" type: "Scale" bottom: "x" top: "s1" scale_param { axis: 1 num_axes: 2 bias_term: true } }\n'
    + 'layer { name: "s2" type: "Scale" bottom: "x" top: "s2" scale_param { axis: 0 num_axes: 0 } }\n'
    + 'layer { name: "s3" type: "Scale" bottom: "x" bottom: "g" top: "s3" scale_param { axis: 1 } }\n'
    + 'layer { name: "b1" type: "Bias" bottom: "x" top: "b1" bias_param { axis: -1 num_axes: 1 } }\n'
    + 'layer { name: "bn" type: "BatchNorm" bottom: "x" top: "bn" }\n'
    + 'layer { name: "bn2" type: "BatchNorm" bottom: "x" top: "bn2" batch_norm_param { use_global_stats: false } }\n'
    + 'layer { name: "ip" type: "InnerProduct" bottom: "x" top: "ip" inner_product_param { num_output: 3 axis: 2 } }\n'
    + 'layer { name: "pr" type: "PReLU" bottom: "x" top: "pr" }\n'
    + 'layer { name: "sm" type: "Softmax" bottom: "x" top: "sm" softmax_param { axis: 2 } }\n'
    + 'layer { name: "n1" type: "Normalize" bottom: "x" top: "n1" norm_param { across_spatial: true } }\n'
    + 'layer { name: "n2" type: "Normalize" bottom: "x" top: "n2" norm_param { across_spatial: false '
      'channel_shared: false } }\n'
    + 'layer { name: "mvn" type: "MVN" bottom: "x" top: "mvn" }\n',
    "shapes": _input("x", 2, 6, 4, 4) + _input("y", 2, 6, 3, 2)
    + 'layer { name: "am" type: "ArgMax" bottom: "x" top: "am" argmax_param { top_k: 3 out_max_val: true } }\n'
    + 'layer { name: "am2" type: "ArgMax" bottom: "x" top: "am2" argmax_param { top_k: 2 axis: 1 } }\n'
    + 'layer { name: "cr" type: "Crop" bottom: "x" bottom: "y" top: "cr" crop_param { axis: 2 offset: 1 offset: 2 } }\n'
    + 'layer { name: "pe" type: "Permute" bottom: "x" top: "pe" permute_param { order: 0 order: 2 order: 3 order: 1 } }\n'
    + 'layer { name: "sh" type: "ShuffleChannel" bottom: "x" top: "sh" shuffle_channel_param { group: 3 } }\n'
    + 'layer { name: "up" type: "Upsample" bottom: "x" top: "up" upsample_param { scale: 2 } }\n'
    + 'layer { name: "in" type: "Interp" bottom: "x" top: "in" interp_param { zoom_factor: 3 } }\n'
    + 'layer { name: "in2" type: "Interp" bottom: "x" top: "in2" interp_param { height: 3 width: 5 pad_beg: -1 '
      'pad_end: 0 } }\n'
    + 'layer { name: "sl" type: "Slice" bottom: "x" top: "sa" top: "sb" top: "sc" slice_param { axis: 1 '
      'slice_point: 2 slice_point: 4 } }\n'
    + 'layer { name: "el" type: "Eltwise" bottom: "sa" bottom: "sc" top: "el" eltwise_param { coeff: 0.5 coeff: -2 } }\n'
    + 'layer { name: "ep" type: "Eltwise" bottom: "sa" bottom: "sc" bottom: "sa" top: "ep" '
      'eltwise_param { operation: PROD } }\n'
    + 'layer { name: "ti" type: "Tile" bottom: "x" top: "ti" tile_param { axis: 1 tiles: 2 } }\n'
    + 'layer { name: "re" type: "Reduction" bottom: "x" top: "re" reduction_param { operation: SUMSQ axis: 1 } }\n'
    + 'layer { name: "r0" type: "Reduction" bottom: "x" top: "r0" reduction_param { operation: MEAN axis: 0 '
      'coeff: 3 } }\n'
    + 'layer { name: "sp" type: "SPP" bottom: "x" top: "sp" spp_param { pyramid_height: 3 pool: MAX } }\n'
    + 'layer { name: "fl" type: "Flatten" bottom: "x" top: "fl" flatten_param { axis: 2 } }\n',
    "neurons": _input("x", 2, 3, 4, 5)
    + "".join(f'layer {{ name: "{n}" type: "{t}" bottom: "x" top: "{n}" {p} }}\n' for n, t, p in [
        ("relu", "ReLU", "relu_param { negative_slope: 0.1 }"), ("elu", "ELU", "elu_param { alpha: 0.7 }"),
        ("bnll", "BNLL", ""), ("pw", "Power", "power_param { power: 2 scale: 0.5 shift: 1 }"),
        ("pw0", "Power", "power_param { power: 3 scale: 0 shift: 2 }"),
        ("ex", "Exp", "exp_param { base: 2 scale: 0.5 shift: 1 }"),
        ("lg", "Log", "log_param { base: 10 scale: 3 shift: 20 }"), ("th", "Threshold", "threshold_param { threshold: 0.2 }"),
        ("cl", "Clip", "clip_param { min: -0.5 max: 0.4 }"), ("sw", "Swish", "swish_param { beta: 1.5 }"),
        ("dr", "Dropout", "dropout_param { dropout_ratio: 0.3 }"), ("ab", "AbsVal", ""), ("sg", "Sigmoid", ""),
        ("tn", "TanH", "")]),
    "recurrent": _input("x", 4, 2, 3) + _input("cont", 4, 2) + _input("xs", 2, 5) + _input("h0", 1, 2, 4)
    + _input("c0", 1, 2, 4) + _input("gates", 1, 2, 16) + _input("cont1", 1, 2)
    + 'layer { name: "lstm" type: "LSTM" bottom: "x" bottom: "cont" top: "lstm" recurrent_param { num_output: 4 } }\n'
    + 'layer { name: "lstm_s" type: "LSTM" bottom: "x" bottom: "cont" bottom: "xs" bottom: "h0" bottom: "c0" '
      'top: "lstm_s" top: "lstm_h" top: "lstm_c" recurrent_param { num_output: 4 expose_hidden: true } }\n'
    + 'layer { name: "rnn" type: "RNN" bottom: "x" bottom: "cont" bottom: "xs" top: "rnn" '
      'recurrent_param { num_output: 3 } }\n'
    + 'layer { name: "rnn_h" type: "RNN" bottom: "x" bottom: "cont" bottom: "h0" top: "rnn_h" top: "rnn_hT" '
      'recurrent_param { num_output: 4 expose_hidden: true } }\n'
    + 'layer { name: "unit" type: "LSTMUnit" bottom: "c0" bottom: "gates" bottom: "cont1" top: "unit_c" '
      'top: "unit_h" }\n',
    "roi": _input("x", 1, 3, 12, 14) + _input("rois", 3, 5)
    + 'layer { name: "roi" type: "ROIPooling" bottom: "x" bottom: "rois" top: "roi" roi_pooling_param { pooled_h: 3 '
      'pooled_w: 2 spatial_scale: 0.5 } }\n',
}


def _feeds(plan_inputs: dict[str, tuple[int, ...]]) -> dict[str, np.ndarray]:
    rng = np.random.default_rng(3)
    feeds = {k: rng.standard_normal(s).astype(np.float32) for k, s in plan_inputs.items()}
    for name in ("cont", "cont1"):  # sequence-continuation flags, a stream restarting on the way
        if name in feeds:
            feeds[name] = (rng.random(feeds[name].shape) > 0.3).astype(np.float32)
    if "rois" in feeds:
        feeds["rois"] = np.array([[0, 1, 2, 20, 18], [0, 5, 0, 9, 3], [0, 0, 0, 27, 23]], dtype=np.float32)
    return feeds


@pytest.mark.parametrize("case", sorted(CASES))
def test_mapping_equals_the_executor(case: str, tmp_path: Path) -> None:
    proto = tmp_path / f"{case}.prototxt"
    proto.write_text(f'name: "{case}"\n{CASES[case]}')
    plan = trained_like(plan_net(load_net(proto)))
    executor = executor_for(plan)
    feeds = _feeds(executor.required_inputs)
    want = executor.forward(feeds, keep="all")
    model = export_onnx(plan)
    got = run_ort(model, feeds)
    assert set(got) == set(plan.net.outputs)
    bad = {name: max_rel(got[name], want[name]) for name in got if max_rel(got[name], want[name]) > 1e-4}
    assert not bad
    shapes = inferred_shapes(model)
    assert {n: shapes[n] for n in got} == {n: list(plan.blob_shapes[n]) for n in got}


def test_pooling_never_uses_ceil_mode_and_ave_divides_as_caffe(tmp_path: Path) -> None:
    proto = tmp_path / "p.prototxt"
    proto.write_text(CASES["pooling"])
    model = export_onnx(load_net(proto))
    pools = [n for n in model.graph.node if n.op_type in ("MaxPool", "AveragePool")]
    assert pools and all(a.name != "ceil_mode" or a.i == 0 for n in pools for a in n.attribute)
    assert {n.op_type for n in model.graph.node} >= {"Pad", "Mul", "GlobalAveragePool", "GlobalMaxPool"}


def test_recurrent_layers_export_unrolled_and_refuse_a_dynamic_batch(tmp_path: Path, capsys) -> None:
    from caffecx.cli import main

    net = Path(__file__).resolve().parents[1] / "data" / "lstm_nested.prototxt"
    assert main(["export", str(net), "-o", str(tmp_path / "lstm.onnx")]) == 0
    executor = executor_for(trained_like(plan_net(load_net(net))))
    plan = executor.plan
    feeds = {"data": np.random.default_rng(5).standard_normal((3, 2, 4)).astype(np.float32),
             "cont": np.array([[0, 0], [1, 0], [1, 1]], dtype=np.float32)}
    got = run_ort(export_onnx(plan), feeds)["ip"]
    assert max_rel(got, executor.forward(feeds)["ip"]) < 1e-5
    assert main(["export", str(net), "-o", str(tmp_path / "dyn.onnx"), "--dynamic-batch"]) == 2
    assert "layer 'lstm1': a layer that sets up a net of its own (an unrolled recurrent net) has fixed shapes" in capsys.readouterr().err
    assert not (tmp_path / "dyn.onnx").exists()
