"""Caffe's fillers (include/caffe/filler.hpp): values, CHECKs, fans, determinism of a net's init."""

from __future__ import annotations

import math

import numpy as np
import pytest
from google.protobuf import text_format

from caffecx.errors import CaffecxError
from caffecx.fillers import fill, layer_rng
from caffecx.graph import load_net
from caffecx.plan import plan_net
from caffecx.proto import caffe_pb2


def fp(text: str) -> caffe_pb2.FillerParameter:
    return text_format.Parse(text, caffe_pb2.FillerParameter())


def rng(seed: int = 0) -> np.random.Generator:
    return np.random.default_rng(seed)


def test_none_is_constant_zero_and_constant_takes_value() -> None:
    zero = fill(None, (2, 3), rng())
    assert zero.dtype == np.float32 and zero.shape == (2, 3) and not zero.any()
    assert np.all(fill(fp('type: "constant" value: 0.25'), (4,), rng(), np.float64) == 0.25)
    assert np.all(fill(fp(""), (3,), rng()) == 0)  # FillerParameter's default type is "constant"


def test_uniform_range_and_check() -> None:
    x = fill(fp('type: "uniform" min: -2 max: 3'), (20000,), rng())
    assert x.min() >= -2 and x.max() <= 3 and abs(x.mean() - 0.5) < 0.05
    with pytest.raises(CaffecxError, match="min 3 is greater than max 1"):
        fill(fp('type: "uniform" min: 3 max: 1'), (2,), rng())


def test_gaussian_moments_and_std_check() -> None:
    x = fill(fp('type: "gaussian" mean: 1 std: 0.5'), (100000,), rng(), np.float64)
    assert abs(x.mean() - 1) < 0.01 and abs(x.std() - 0.5) < 0.01
    with pytest.raises(CaffecxError, match="std must be > 0"):
        fill(fp('type: "gaussian" std: 0'), (2,), rng())


def test_sparse_gaussian_keeps_sparse_over_num_outputs() -> None:
    # shape (10, 5000): num_outputs = shape(0) = 10, keep probability 3/10
    x = fill(fp('type: "gaussian" std: 1 sparse: 3'), (10, 5000), rng())
    assert abs(np.count_nonzero(x) / x.size - 0.3) < 0.01
    with pytest.raises(CaffecxError, match="sparse 11 is more than"):
        fill(fp('type: "gaussian" sparse: 11'), (10, 2), rng())
    with pytest.raises(CaffecxError, match="[Ss]parsity not supported"):
        fill(fp('type: "xavier" sparse: 2'), (10, 2), rng())


@pytest.mark.parametrize(("norm", "n"), [("FAN_IN", 3 * 5 * 5), ("FAN_OUT", 8 * 5 * 5), ("AVERAGE", (75 + 200) / 2)])
def test_xavier_and_msra_fans(norm: str, n: float) -> None:
    shape = (8, 3, 5, 5)  # fan_in = count/shape(0) = 75, fan_out = count/shape(1) = 200
    x = fill(fp(f'type: "xavier" variance_norm: {norm}'), shape, rng())
    bound = math.sqrt(3 / n)
    assert np.abs(x).max() <= bound * (1 + 1e-6) and np.abs(x).max() > 0.95 * bound
    big = (400, 3, 5, 5)
    n_big = {"FAN_IN": 75, "FAN_OUT": 400 * 25, "AVERAGE": (75 + 400 * 25) / 2}[norm]
    m = fill(fp(f'type: "msra" variance_norm: {norm}'), big, rng(), np.float64)
    assert abs(m.std() / math.sqrt(2 / n_big) - 1) < 0.02


def test_xavier_one_axis_blob_uses_count_as_fan_out() -> None:
    x = fill(fp('type: "xavier" variance_norm: FAN_OUT'), (7,), rng(), np.float64)
    assert np.abs(x).max() <= math.sqrt(3 / 7)
    # inner-product layout (out, in) = (3, 1000): fan_in = count / shape(0) = 1000
    y = fill(fp('type: "xavier"'), (3, 1000), rng(), np.float64)
    assert 0.95 * math.sqrt(3 / 1000) < np.abs(y).max() <= math.sqrt(3 / 1000)


def test_bilinear_kernel_by_hand() -> None:
    # K = 3: f = 2, c = 0.5; 1 - |x/2 - 0.5| for x = 0, 1, 2 -> 0.5, 1, 0.5
    k3 = fill(fp('type: "bilinear"'), (2, 1, 3, 3), rng())
    axis = np.array([0.5, 1.0, 0.5], dtype=np.float32)
    assert np.array_equal(k3[1, 0], np.outer(axis, axis))
    # K = 4 (factor 2): f = 2, c = 0.75 -> 0.25, 0.75, 0.75, 0.25
    k4 = fill(fp('type: "bilinear"'), (1, 1, 4, 4), rng())
    a4 = np.array([0.25, 0.75, 0.75, 0.25], dtype=np.float32)
    assert np.array_equal(k4[0, 0], np.outer(a4, a4))
    with pytest.raises(CaffecxError, match="square"):
        fill(fp('type: "bilinear"'), (1, 1, 3, 4), rng())
    with pytest.raises(CaffecxError, match="4-D"):
        fill(fp('type: "bilinear"'), (3, 3), rng())


def test_positive_unitball_rows_sum_to_one() -> None:
    x = fill(fp('type: "positive_unitball"'), (4, 2, 3), rng(), np.float64)
    assert np.all(x >= 0) and np.allclose(x.reshape(4, -1).sum(axis=1), 1)


def test_unknown_filler_is_named() -> None:
    with pytest.raises(CaffecxError, match="unknown filler type 'glorot'"):
        fill(fp('type: "glorot"'), (2,), rng())


def test_same_generator_same_values_and_rng_is_per_layer_name() -> None:
    f = fp('type: "gaussian" std: 0.1')
    assert np.array_equal(fill(f, (5, 5), layer_rng(3, "conv1")), fill(f, (5, 5), layer_rng(3, "conv1")))
    assert not np.array_equal(fill(f, (5, 5), layer_rng(3, "conv1")), fill(f, (5, 5), layer_rng(4, "conv1")))
    assert not np.array_equal(fill(f, (5, 5), layer_rng(3, "conv1")), fill(f, (5, 5), layer_rng(3, "conv2")))


NET = """
name: "n"
layer { name: "data" type: "Input" top: "data" input_param { shape { dim: 2 dim: 3 dim: 8 dim: 8 } } }
layer { name: "conv1" type: "Convolution" bottom: "data" top: "c1"
        convolution_param { num_output: 4 kernel_size: 3 weight_filler { type: "xavier" } } }
layer { name: "ip" type: "InnerProduct" bottom: "c1" top: "ip"
        inner_product_param { num_output: 5 weight_filler { type: "gaussian" std: 0.01 } } }
"""


def test_init_weights_shapes_and_determinism() -> None:
    plan = plan_net(load_net(NET))
    a, b = plan.init_weights(7), plan.init_weights(7)
    assert list(a) == ["conv1", "ip"]
    for name in a:
        declared = [blob.shape for blob in plan.layer(name).param_blobs]
        assert [x.shape for x in a[name]] == declared
        assert all(np.array_equal(x, y) for x, y in zip(a[name], b[name], strict=True))
    # adding a layer in front does not change the others' values
    extra = NET.replace('layer { name: "conv1"', 'layer { name: "pre" type: "Convolution" bottom: "data" top: "p" '
                        'convolution_param { num_output: 2 kernel_size: 1 } }\nlayer { name: "conv1"')
    c = plan_net(load_net(extra)).init_weights(7)
    assert all(np.array_equal(x, y) for x, y in zip(a["ip"], c["ip"], strict=True))
    # a layer with loaded weights is not filled, and the others keep their values
    loaded = load_net(NET)
    loaded.layer("conv1").blobs = [np.ones(s.shape, np.float32) for s in plan.layer("conv1").param_blobs]
    d = plan_net(loaded).init_weights(7)
    assert list(d) == ["ip"] and all(np.array_equal(x, y) for x, y in zip(a["ip"], d["ip"], strict=True))
