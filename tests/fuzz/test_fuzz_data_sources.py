"""Property-based fuzzing of the data-source readers (issue 11): mutated images (PNG, JPEG, BMP made
with Pillow), mutated ImageData / HDF5Data lists, mutated Datum records in a tiny LMDB, and mutated
mean binaryprotos, each through a data layer's set-up and forward.

Invariant: a result or a `CaffecxError` located at the layer, never another exception, never a hang
(every call is timed), and no message quoting a marker planted in the files.
"""

from __future__ import annotations

import io
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
from datakit import write_lmdb
from google.protobuf import text_format
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from PIL import Image

from caffecx.errors import CaffecxError
from caffecx.layers import Context, RunContext, layer_class
from caffecx.layers.datasource import image_size
from caffecx.proto import caffe_pb2

FUZZ = settings(max_examples=50, deadline=None, derandomize=True, database=None,
                suppress_health_check=[HealthCheck.too_slow])
TIME_BOUND = 5.0
MARKER = "SECRET"


def _image_bytes(fmt: str, mode: str, width: int, height: int) -> bytes:
    rng = np.random.default_rng(width * 31 + height)
    channels = {"L": 1, "RGB": 3, "RGBA": 4}[mode]
    pixels = rng.integers(0, 256, (height, width, channels), dtype=np.uint8)
    img = Image.fromarray(pixels[:, :, 0] if channels == 1 else pixels, mode)
    if fmt == "JPEG" and mode == "RGBA":
        img = img.convert("RGB")
    buf = io.BytesIO()
    img.save(buf, format=fmt)
    return buf.getvalue()


def _mutate(data: bytes, steps: list[tuple[int, int, int]]) -> bytes:
    """Byte flips, cuts, deleted spans, inserted bytes and a duplicated span: one per step."""
    for kind, a, b in steps:
        n = len(data) + 1
        i, j = sorted((a % n, b % n))
        if kind == 0 and data:
            k = a % len(data)
            data = data[:k] + bytes([data[k] ^ (1 << (b % 8))]) + data[k + 1:]
        elif kind == 1:
            data = data[:i]
        elif kind == 2:
            data = data[:i] + data[j:]
        elif kind == 3:
            data = data[:i] + bytes([b % 256]) + data[i:]
        else:
            data = data[:j] + data[i:j] + data[j:]
    return data


MUTATION_STEPS = st.lists(st.tuples(st.integers(0, 4), st.integers(0, 2**20), st.integers(0, 2**20)),
                          min_size=1, max_size=4)
IMAGES = st.builds(_image_bytes, st.sampled_from(["PNG", "JPEG", "BMP"]), st.sampled_from(["L", "RGB", "RGBA"]),
                   st.integers(1, 9), st.integers(1, 9))


def _timed(call: Callable[[], Any]) -> Any:
    """`call()`'s result, or the `CaffecxError` it raised (located, no marker); anything else fails."""
    started = time.perf_counter()
    try:
        return call()
    except CaffecxError as err:
        assert err.location.layer == "src", str(err)
        assert MARKER not in str(err)
        return err
    finally:
        assert time.perf_counter() - started < TIME_BOUND


def _setup_and_forward(text: str, base: Path) -> None:
    """The layer's set-up, then (when it set up) its forward on the shapes it gave."""
    lp = text_format.Parse(text, caffe_pb2.LayerParameter())
    layer = layer_class(lp.type)(lp)
    tops = _timed(lambda: layer.setup([], Context(base_dirs=[base], assume_data_shapes=False)))
    if isinstance(tops, CaffecxError):
        return
    assert all(isinstance(d, int) for shape in tops for d in shape)
    if any(d < 0 or d > 64 for shape in tops for d in shape):
        return  # a header that claims a huge image: set-up's answer is checked by the planner
    layer.bottom_shapes, layer.top_shapes, layer.phase = [], [tuple(t) for t in tops], "TEST"
    run = RunContext(phase="TEST", rng=np.random.default_rng(0), base_dirs=[base])
    outs = _timed(lambda: layer.forward([], [], run))
    if not isinstance(outs, CaffecxError):
        assert [o.shape for o in outs] == layer.top_shapes


def _image_layer(extra: str = "") -> str:
    return ('name: "src" type: "ImageData" top: "data" top: "label" '
            f'image_data_param {{ source: "list.txt" batch_size: 2 {extra} }}')


def _data_layer(extra: str = "") -> str:
    return ('name: "src" type: "Data" top: "data" top: "label" '
            f'{extra} data_param {{ source: "db" batch_size: 2 backend: LMDB }}')


@FUZZ
@given(image=IMAGES, steps=MUTATION_STEPS, is_color=st.booleans(), resize=st.booleans())
def test_mutated_images_set_up_and_read_or_are_refused(image: bytes, steps: list, is_color: bool,
                                                       resize: bool) -> None:
    data = _mutate(image, steps)
    size = image_size(data)
    assert size is None or (len(size) == 3 and all(isinstance(v, int) for v in size))
    with tempfile.TemporaryDirectory() as tmp:
        base = Path(tmp)
        (base / "a.img").write_bytes(data)
        (base / "list.txt").write_text("a.img 1\n")
        extra = ("" if is_color else "is_color: false ") + ("new_height: 4 new_width: 5" if resize else "")
        _setup_and_forward(_image_layer(extra), base)


LIST_LINES = st.one_of(st.just("a.png 1"), st.just("a.png"), st.just(""), st.just(f"{MARKER}:x:0:0:/root"),
                       st.text(max_size=30), st.just("missing.jpg 3"), st.just("a.png notanumber"),
                       st.just(" 7"), st.just("a.png\r"))


@FUZZ
@given(lines=st.lists(LIST_LINES, min_size=0, max_size=5), steps=st.lists(
    st.tuples(st.integers(0, 4), st.integers(0, 2**12), st.integers(0, 2**12)), max_size=2),
    root=st.sampled_from(["", "./", "sub/", "/"]))
def test_mutated_lists_set_up_and_read_or_are_refused(lines: list[str], steps: list, root: str) -> None:
    raw = _mutate("\n".join(lines).encode("utf-8", "surrogateescape"), steps) if steps else \
        "\n".join(lines).encode("utf-8", "surrogateescape")
    with tempfile.TemporaryDirectory() as tmp:
        base = Path(tmp)
        (base / "sub").mkdir()
        png = _image_bytes("PNG", "RGB", 5, 4)
        (base / "a.png").write_bytes(png)
        (base / "sub" / "a.png").write_bytes(png)
        (base / "list.txt").write_bytes(raw)
        _setup_and_forward(_image_layer(f'root_folder: "{root}"'), base)
        hdf5 = ('name: "src" type: "HDF5Data" top: "data" top: "label" '
                'hdf5_data_param { source: "list.txt" batch_size: 2 }')
        _setup_and_forward(hdf5, base)


def _datum(kind: int, image: bytes, c: int, h: int, w: int) -> bytes:
    if kind == 0:
        return caffe_pb2.Datum(encoded=True, data=image, label=1).SerializeToString()
    if kind == 1:
        return caffe_pb2.Datum(channels=c, height=h, width=w, data=bytes(max(0, c * h * w) % 4096),
                               label=2).SerializeToString()
    return caffe_pb2.Datum(channels=c, height=h, width=w, float_data=[0.5] * (max(0, c * h * w) % 512),
                           label=3).SerializeToString()


def _varint(value: int) -> bytes:
    out = bytearray()
    while True:
        low, value = value & 0x7F, value >> 7
        out.append(low | (0x80 if value else 0))
        if not value:
            return bytes(out)


DIMS = st.integers(-3, 6) | st.sampled_from([2**31 - 1, -(2**31), 2**16])


@FUZZ
@given(kind=st.integers(0, 2), image=IMAGES, dims=st.tuples(DIMS, DIMS, DIMS), steps=st.lists(
    st.tuples(st.integers(0, 4), st.integers(0, 2**12), st.integers(0, 2**12)), max_size=3),
    annotated=st.booleans(), second=st.booleans())
def test_mutated_lmdb_records_set_up_and_read_or_are_refused(kind: int, image: bytes, dims: tuple, steps: list,
                                                             annotated: bool, second: bool) -> None:
    record = _mutate(_datum(kind, image, *dims), steps) if steps else _datum(kind, image, *dims)
    if annotated:  # the (mutated) Datum as field 1 of an AnnotatedDatum
        record = b"\x0a" + _varint(len(record)) + record
    with tempfile.TemporaryDirectory() as tmp:
        base = Path(tmp)
        write_lmdb(base / "db", [record, _datum(1, b"", 1, 2, 2)] if second else [record])
        text = _data_layer()
        _setup_and_forward(text.replace('"Data"', '"AnnotatedData"') if annotated else text, base)


def _mean(c: int, h: int, w: int) -> bytes:
    blob = caffe_pb2.BlobProto()
    blob.shape.dim.extend([1, c, h, w])
    blob.data.extend([1.0] * (c * h * w))
    return blob.SerializeToString()


@FUZZ
@given(dims=st.tuples(st.integers(1, 3), st.integers(1, 4), st.integers(1, 4)), steps=MUTATION_STEPS,
       legacy=st.booleans())
def test_mutated_mean_files_read_or_are_refused(dims: tuple, steps: list, legacy: bool) -> None:
    if legacy:
        blob = caffe_pb2.BlobProto(num=1, channels=dims[0], height=dims[1], width=dims[2])
        blob.data.extend([2.0] * (dims[0] * dims[1] * dims[2]))
        mean = blob.SerializeToString()
    else:
        mean = _mean(*dims)
    with tempfile.TemporaryDirectory() as tmp:
        base = Path(tmp)
        (base / "mean.binaryproto").write_bytes(_mutate(mean, steps) + MARKER.encode())
        write_lmdb(base / "db", [_datum(1, b"", 1, 3, 3)])
        _setup_and_forward(_data_layer('transform_param { mean_file: "mean.binaryproto" }'), base)
