"""Property-based fuzzing of the readers (issue 11): mutated corpus prototxts and mutated LeNet weights.

Invariant: a `CaffecxError` or a result, never another exception, never a hang. Bounded (a few dozen
examples per property, no deadline per example but a time bound per call) so the folder runs in well
under a minute.
"""

from __future__ import annotations

import tempfile
import time
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from paths import CORPUS, LENET, REPO

from caffecx.errors import CaffecxError
from caffecx.graph import load_net
from caffecx.io import read_caffemodel, read_net_text, to_text
from caffecx.proto import caffe_pb2

PROTOTXTS = sorted(p for p in (CORPUS / "prototxt").glob("*.prototxt") if p.stat().st_size < 100_000)
WEIGHTS = LENET / "lenet_iter_1000.caffemodel"
LENET_NET = REPO / "prototxt" / "lenet.prototxt"
FUZZ = settings(max_examples=60, deadline=None, derandomize=True,
                suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
TIME_BOUND = 10.0  # seconds per call: far beyond any real file here, well before a hang

pytestmark = [pytest.mark.skipif(not PROTOTXTS or not WEIGHTS.is_file(), reason="../shared corpus not present"),
              pytest.mark.filterwarnings("ignore::caffecx.errors.UnknownFieldWarning")]


def _cut(data: bytes, a: int, b: int) -> bytes:
    return data[: a % (len(data) + 1)]


def _duplicate(data: bytes, a: int, b: int) -> bytes:
    i, j = sorted((a % (len(data) + 1), b % (len(data) + 1)))
    return data[:j] + data[i:j] + data[j:]


def _flip(data: bytes, a: int, b: int) -> bytes:
    if not data:
        return data
    out = bytearray(data)
    for k in range(1 + b % 8):
        out[(a + k * 7919) % len(out)] ^= 1 << ((b + k) % 8)
    return bytes(out)


def _swap_lines(data: bytes, a: int, b: int) -> bytes:
    lines = data.split(b"\n")
    i, j = a % len(lines), b % len(lines)
    lines[i], lines[j] = lines[j], lines[i]
    return b"\n".join(lines)


def _delete_span(data: bytes, a: int, b: int) -> bytes:
    i, j = sorted((a % (len(data) + 1), b % (len(data) + 1)))
    return data[:i] + data[j:]


def _insert_byte(data: bytes, a: int, b: int) -> bytes:
    i = a % (len(data) + 1)
    return data[:i] + bytes([b % 256]) + data[i:]


MUTATIONS = [_cut, _duplicate, _flip, _swap_lines, _delete_span, _insert_byte]


def _outcome(call) -> object:  # noqa: ANN001
    """`call()`'s result, or None for a CaffecxError; anything else fails the property. Timed."""
    started = time.perf_counter()
    try:
        return call()
    except CaffecxError:
        return None
    finally:
        assert time.perf_counter() - started < TIME_BOUND


@FUZZ
@given(source=st.sampled_from(PROTOTXTS or [LENET_NET]),
       steps=st.lists(st.tuples(st.sampled_from(MUTATIONS), st.integers(0, 2**31), st.integers(0, 2**31)),
                      min_size=1, max_size=3))
def test_mutated_prototxt_reads_or_is_refused(source: Path, steps: list) -> None:
    data = source.read_bytes()
    for mutate, a, b in steps:
        data = mutate(data, a, b)
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / source.name
        path.write_bytes(data)
        net_text = _outcome(lambda: read_net_text(path))
        if net_text is not None:
            text = to_text(net_text.param)  # a result is a whole message that prints
            assert isinstance(text, str)
        _outcome(lambda: load_net(path, phase="TRAIN"))
        _outcome(lambda: load_net(path, phase="TEST"))


@FUZZ
@given(text=st.text(alphabet=st.sampled_from(list('layer{}name:"\'#\n\\ topbtm_0129.-[]<>,;')), max_size=400))
def test_prototxt_shaped_noise_reads_or_is_refused(text: str) -> None:
    _outcome(lambda: read_net_text(text))
    _outcome(lambda: load_net(text))


@FUZZ
@given(steps=st.lists(st.tuples(st.sampled_from([_cut, _flip, _delete_span, _insert_byte, _duplicate]),
                                st.integers(0, 2**31), st.integers(0, 2**31)), min_size=1, max_size=3))
def test_mutated_caffemodel_reads_or_is_refused(steps: list) -> None:
    data = WEIGHTS.read_bytes()
    for mutate, a, b in steps:
        data = mutate(data, a, b)
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "w.caffemodel"
        path.write_bytes(data)
        _outcome(lambda: read_caffemodel(path))
        _outcome(lambda: load_net(LENET_NET, weights=path))


_MODEL = caffe_pb2.NetParameter()


@FUZZ
@given(layer=st.integers(0, 20), blob=st.integers(0, 3),
       dims=st.lists(st.integers(-(2**63), 2**63 - 1) | st.integers(-3, 600), max_size=40),
       legacy=st.booleans(), keep_data=st.booleans())
def test_caffemodel_shape_edits_read_or_are_refused(layer: int, blob: int, dims: list[int], legacy: bool,
                                                     keep_data: bool) -> None:
    if not len(_MODEL.layer):
        _MODEL.ParseFromString(WEIGHTS.read_bytes())
    model = caffe_pb2.NetParameter()
    model.CopyFrom(_MODEL)
    with_blobs = [lp for lp in model.layer if len(lp.blobs)]
    target = with_blobs[layer % len(with_blobs)].blobs
    b = target[blob % len(target)]
    b.ClearField("shape")
    if legacy:
        four = [*(d % 2**31 - (2**30 if d < 0 else 0) for d in dims[:4])] + [1] * 4
        b.num, b.channels, b.height, b.width = four[:4]
    else:
        b.shape.dim.extend(dims)
    if not keep_data:
        b.ClearField("data")
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "w.caffemodel"
        path.write_bytes(model.SerializeToString())
        _outcome(lambda: read_caffemodel(path))
        net = _outcome(lambda: load_net(LENET_NET, weights=path))
        if net is not None:
            from caffecx.plan import plan_net

            _outcome(lambda: plan_net(net))
