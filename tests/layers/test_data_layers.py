"""Input and data-source layers: shapes from params, from the first LMDB Datum, image headers, HDF5."""

from __future__ import annotations

import struct
import zlib

import lmdb
import numpy as np
import pytest
from google.protobuf import text_format
from paths import LENET

from caffecx.errors import ShapeError
from caffecx.layers import Context, layer_class
from caffecx.layers.datasource import image_size
from caffecx.proto import caffe_pb2


def setup(text: str, ctx: Context | None = None):
    lp = text_format.Parse(text, caffe_pb2.LayerParameter())
    return layer_class(lp.type)(lp).setup([], ctx or Context())


def png_bytes(width: int, height: int, color_type: int = 2) -> bytes:
    def chunk(kind: bytes, body: bytes) -> bytes:
        return struct.pack(">I", len(body)) + kind + body + struct.pack(">I", zlib.crc32(kind + body))

    header = struct.pack(">IIBBBBB", width, height, 8, color_type, 0, 0, 0)
    raw = b"".join(b"\x00" + b"\x00" * (width * 3) for _ in range(height))
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", zlib.compress(raw)) + chunk(b"IEND", b"")


def test_input_one_shape_for_all_or_one_per_top() -> None:
    assert setup('type: "Input" top: "a" top: "b" input_param { shape { dim: 2 dim: 3 } }') == [(2, 3), (2, 3)]
    two = 'type: "Input" top: "a" top: "b" input_param { shape { dim: 2 } shape { dim: 5 dim: 1 } }'
    assert setup(two) == [(2,), (5, 1)]
    with pytest.raises(ShapeError, match="once per top"):
        setup('type: "Input" top: "a" top: "b" top: "c" input_param { shape { dim: 1 } shape { dim: 2 } }')


def test_dummy_data_legacy_fields() -> None:
    text = 'type: "DummyData" top: "x" dummy_data_param { num: 4 channels: 3 height: 5 width: 6 }'
    assert setup(text) == [(4, 3, 5, 6)]


def test_data_reads_the_first_datum_of_the_real_lmdb() -> None:
    ctx = Context(base_dirs=[LENET])
    text = ('name: "mnist" type: "Data" top: "data" top: "label" transform_param { scale: 0.00390625 } '
            'data_param { source: "examples/mnist/mnist_train_lmdb" batch_size: 64 backend: LMDB }')
    assert setup(text, ctx) == [(64, 1, 28, 28), (64,)]  # the log: output data size: 64,1,28,28
    cropped = text.replace("scale: 0.00390625", "crop_size: 20")
    assert setup(cropped, ctx) == [(64, 1, 20, 20), (64,)]


def test_data_with_an_encoded_datum(tmp_path) -> None:
    datum = caffe_pb2.Datum(encoded=True, data=png_bytes(7, 5), label=3)
    env = lmdb.open(str(tmp_path / "db"), map_size=1 << 20)
    with env.begin(write=True) as txn:
        txn.put(b"00000000", datum.SerializeToString())
    env.close()
    text = f'type: "Data" top: "data" data_param {{ source: "{tmp_path / "db"}" batch_size: 2 backend: LMDB }}'
    assert setup(text) == [(2, 3, 5, 7)]


def test_missing_source_names_layer_and_source_and_accepts_a_hint() -> None:
    text = 'name: "d" type: "Data" top: "data" top: "label" data_param { source: "nowhere_lmdb" batch_size: 8 }'
    with pytest.raises(ShapeError, match="nowhere_lmdb.*--input-shape data=8,C,H,W") as info:
        setup(text)
    assert info.value.location.layer == "d"
    assert setup(text, Context(input_shapes={"data": (8, 3, 32, 32)})) == [(8, 3, 32, 32), (8,)]


def test_image_data_reads_the_first_image_header(tmp_path) -> None:
    (tmp_path / "a.png").write_bytes(png_bytes(12, 9))
    (tmp_path / "list.txt").write_text("a.png 1\n")
    ctx = Context(base_dirs=[tmp_path])
    text = 'type: "ImageData" top: "data" top: "label" image_data_param { source: "list.txt" batch_size: 4 }'
    assert setup(text, ctx) == [(4, 3, 9, 12), (4,)]
    resized = text.replace("batch_size: 4", "batch_size: 4 new_height: 6 new_width: 5 is_color: false")
    assert setup(resized, ctx) == [(4, 1, 6, 5), (4,)]


def test_image_headers() -> None:
    assert image_size(png_bytes(3, 2)) == (3, 2, 3)
    jpeg = (b"\xff\xd8\xff\xe0\x00\x10JFIF\x00\x01\x01\x00\x00\x01\x00\x01\x00\x00"
            b"\xff\xc0\x00\x11\x08\x00\x20\x00\x30\x03\x01\x22\x00\x02\x11\x01\x03\x11\x01")
    assert image_size(jpeg) == (3, 32, 48)
    bmp = b"BM" + b"\x00" * 16 + struct.pack("<ii", 10, -7)
    assert image_size(bmp) == (3, 7, 10)


def test_hdf5_data(tmp_path) -> None:
    h5py = pytest.importorskip("h5py")
    with h5py.File(tmp_path / "train.h5", "w") as f:
        f["data"] = np.zeros((100, 4), dtype=np.float32)
        f["label"] = np.zeros((100,), dtype=np.float32)
    (tmp_path / "train.txt").write_text("train.h5\n")
    text = 'type: "HDF5Data" top: "data" top: "label" hdf5_data_param { source: "train.txt" batch_size: 10 }'
    assert setup(text, Context(base_dirs=[tmp_path])) == [(10, 4), (10,)]


def test_hdf5_data_without_h5py_asks_for_a_shape(tmp_path, monkeypatch) -> None:
    import sys

    (tmp_path / "train.txt").write_text("train.h5\n")
    monkeypatch.setitem(sys.modules, "h5py", None)  # as if h5py were not installed
    text = 'type: "HDF5Data" top: "data" top: "label" hdf5_data_param { source: "train.txt" batch_size: 10 }'
    with pytest.raises(ShapeError, match=r"needs h5py \(pip install h5py\), or pass --input-shape data=10,C,H,W"):
        setup(text, Context(base_dirs=[tmp_path]))
    assert setup(text, Context(base_dirs=[tmp_path], input_shapes={"data": (10, 4), "label": (10,)})) == [
        (10, 4), (10,)]


def test_window_and_memory_data() -> None:
    window = ('type: "WindowData" top: "data" top: "label" transform_param { crop_size: 227 } '
              'window_data_param { source: "w.txt" batch_size: 128 }')
    assert setup(window) == [(128, 3, 227, 227), (128,)]
    memory = 'type: "MemoryData" top: "d" top: "l" memory_data_param { batch_size: 5 channels: 2 height: 3 width: 4 }'
    assert setup(memory) == [(5, 2, 3, 4), (5,)]
