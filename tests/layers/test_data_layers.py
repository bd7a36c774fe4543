"""Input and data-source layers: shapes from params, from the first LMDB Datum, image headers, HDF5."""

from __future__ import annotations

import struct
import zlib
from pathlib import Path

import lmdb
import numpy as np
import pytest
from datakit import write_lmdb
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
    write_lmdb(tmp_path / "db", [datum.SerializeToString()])
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


# -- forward -----------------------------------------------------------------------------------------

def forward(text: str, base=None, phase: str = "TEST", inputs=None, seed: int = 0, hints=None):
    """Set the source layer up (as the plan does, hints included) and run its forward."""
    from caffecx.layers import RunContext

    lp = text_format.Parse(text, caffe_pb2.LayerParameter())
    layer = layer_class(lp.type)(lp)
    dirs = [base] if base else [Path.cwd()]
    tops = layer.setup([], Context(base_dirs=dirs, phase=phase, input_shapes=hints or {}))
    tops = [(hints or {}).get(t, s) for t, s in zip(lp.top, tops, strict=True)]
    layer.bottom_shapes, layer.top_shapes, layer.phase = [], [tuple(t) for t in tops], phase
    assert layer.forward_refusal() is None
    run = RunContext(phase=phase, rng=np.random.default_rng(seed), inputs=inputs or {}, base_dirs=dirs)
    outs = layer.forward([], [], run)
    assert [o.shape for o in outs] == layer.top_shapes
    assert all(o.dtype == np.float32 for o in outs)
    return outs


def lmdb_of(path, datums) -> str:
    return str(write_lmdb(path, [d.SerializeToString() for d in datums]))


def png_file(path, rgb: np.ndarray) -> bytes:
    from PIL import Image

    Image.fromarray(rgb.astype(np.uint8)).save(path, format="PNG")
    return Path(path).read_bytes()


def test_lenet_test_data_layer_reads_the_first_batch_in_key_order() -> None:
    text = ('name: "mnist" type: "Data" top: "data" top: "label" transform_param { scale: 0.00390625 } '
            'data_param { source: "examples/mnist/mnist_test_lmdb" batch_size: 100 backend: LMDB }')
    data, label = forward(text, LENET)
    assert data.shape == (100, 1, 28, 28) and label.shape == (100,)
    assert 0 <= data.min() and data.max() <= 1 and data.max() > 0.9
    assert set(np.unique(label)) <= set(range(10)) and len(np.unique(label)) == 10
    env = lmdb.open(str(LENET / "examples/mnist/mnist_test_lmdb"), readonly=True, lock=False)
    with env.begin() as txn:
        raws = [v for _, v in zip(range(2), txn.cursor().iternext(keys=False, values=True), strict=False)]
    env.close()
    for i, raw in enumerate(raws):
        datum = caffe_pb2.Datum.FromString(raw)
        pixels = np.frombuffer(datum.data, np.uint8).reshape(1, 28, 28).astype(np.float32)
        assert np.array_equal(data[i], pixels * np.float32(0.00390625)) and label[i] == datum.label
    # --batch 4 replaces the batch: the first 4 records
    small, _ = forward(text, LENET, hints={"data": (4, 1, 28, 28), "label": (4,)})
    assert np.array_equal(small, data[:4])


def test_data_wraps_around_float_data_mean_values_and_centre_crop(tmp_path) -> None:
    # 2 float Datums of 2x3x4; batch 3 wraps to the first record; crop 2 in TEST -> offsets (0, 1)
    values = [np.arange(24, dtype=np.float32).reshape(2, 3, 4) + 100 * k for k in range(2)]
    datums = [caffe_pb2.Datum(channels=2, height=3, width=4, float_data=v.ravel().tolist(), label=k + 5)
              for k, v in enumerate(values)]
    src = lmdb_of(tmp_path / "db", datums)
    text = (f'type: "Data" top: "data" top: "label" transform_param {{ crop_size: 2 mean_value: 1 mean_value: 2 '
            f'scale: 0.5 }} data_param {{ source: "{src}" batch_size: 3 backend: LMDB }}')
    data, label = forward(text)
    assert label.tolist() == [5, 6, 5]
    for i, k in enumerate([0, 1, 0]):
        want = (values[k][:, 0:2, 1:3] - np.array([1, 2], np.float32)[:, None, None]) * np.float32(0.5)
        assert np.array_equal(data[i], want)


def test_encoded_datum_decodes_to_bgr(tmp_path) -> None:
    rgb = np.zeros((2, 3, 3), np.uint8)
    rgb[..., 0], rgb[..., 1], rgb[..., 2] = 10, 20, 30  # R, G, B
    encoded = png_file(tmp_path / "x.png", rgb)
    src = lmdb_of(tmp_path / "db", [caffe_pb2.Datum(encoded=True, data=encoded, label=1)])
    text = f'type: "Data" top: "data" data_param {{ source: "{src}" batch_size: 1 backend: LMDB }}'
    (data,) = forward(text)
    assert data.shape == (1, 3, 2, 3) and data[0, :, 0, 0].tolist() == [30, 20, 10]  # Caffe's BGR
    gray = text.replace("data_param", "transform_param { force_gray: true } data_param")
    (g,) = forward(gray, hints={"data": (1, 1, 2, 3)})
    assert np.all(g == round(0.299 * 10 + 0.587 * 20 + 0.114 * 30))


def test_mean_file_is_taken_at_the_uncropped_position(tmp_path) -> None:
    from caffecx.io.reader import array_to_blob

    image = np.arange(1 * 4 * 4, dtype=np.uint8).reshape(1, 4, 4) * 3
    mean = np.arange(16, dtype=np.float32).reshape(1, 1, 4, 4) / 4
    (tmp_path / "mean.binaryproto").write_bytes(array_to_blob(mean, legacy=True).SerializeToString())
    datum = caffe_pb2.Datum(channels=1, height=4, width=4, data=image.tobytes())
    src = lmdb_of(tmp_path / "db", [datum])
    text = (f'name: "m" type: "Data" top: "data" transform_param {{ crop_size: 2 mean_file: "mean.binaryproto" scale: 2 }} '
            f'data_param {{ source: "{src}" batch_size: 1 backend: LMDB }}')
    (data,) = forward(text, tmp_path)
    want = (image[:, 1:3, 1:3].astype(np.float32) - mean[0, :, 1:3, 1:3]) * 2
    assert np.array_equal(data[0], want)
    bad = np.zeros((1, 1, 3, 3), np.float32)
    (tmp_path / "mean.binaryproto").write_bytes(array_to_blob(bad, legacy=True).SerializeToString())
    with pytest.raises(ShapeError, match="mean file is 1x3x3, the data 1x4x4") as info:
        forward(text, tmp_path)
    assert info.value.location.layer == "m"


def test_mirror_is_drawn_per_item_and_train_crops_are_windows(tmp_path) -> None:
    image = np.arange(5 * 6, dtype=np.uint8).reshape(1, 5, 6)
    datum = caffe_pb2.Datum(channels=1, height=5, width=6, data=image.tobytes())
    src = lmdb_of(tmp_path / "db", [datum])
    text = (f'type: "Data" top: "data" transform_param {{ mirror: true }} '
            f'data_param {{ source: "{src}" batch_size: 16 backend: LMDB }}')
    (data,) = forward(text, seed=1)
    flipped = [bool(np.array_equal(d, image[:, :, ::-1])) for d in data]
    assert all(f or np.array_equal(d, image) for f, d in zip(flipped, data, strict=True))
    assert 0 < sum(flipped) < 16  # Caffe draws Rand(2) per item, whatever the phase
    crop = text.replace("mirror: true", "crop_size: 3")
    (train,) = forward(crop, phase="TRAIN", seed=2)
    windows = {(h, w) for h in range(3) for w in range(4)}
    seen = set()
    for d in train:
        match = [(h, w) for h, w in windows if np.array_equal(d, image[:, h:h + 3, w:w + 3])]
        assert match
        seen.add(match[0])
    assert len(seen) > 1
    (test,) = forward(crop)
    assert all(np.array_equal(d, image[:, 1:4, 1:4]) for d in test)


def test_fed_tops_replace_what_the_layer_reads(tmp_path) -> None:
    text = ('type: "Data" top: "data" top: "label" transform_param { scale: 0.00390625 } '
            'data_param { source: "examples/mnist/mnist_test_lmdb" batch_size: 2 backend: LMDB }')
    fed = {"data": np.ones((2, 1, 28, 28)), "label": np.array([3, 4])}
    data, label = forward(text, LENET, inputs=fed)
    assert np.all(data == 1) and label.tolist() == [3, 4]
    with pytest.raises(ShapeError, match=r"top 'data' is \(1, 1, 28, 28\) but the layer's top is \(2, 1, 28, 28\)"):
        forward(text, LENET, inputs={"data": np.ones((1, 1, 28, 28)), "label": np.zeros(2)})


def test_image_data_reads_the_list_resizes_and_labels(tmp_path) -> None:
    from caffecx.layers.datasource import resize_linear

    rng = np.random.default_rng(0)
    a = rng.integers(0, 256, (9, 12, 3), dtype=np.uint8)
    b = rng.integers(0, 256, (9, 12, 3), dtype=np.uint8)
    (tmp_path / "img").mkdir()
    png_file(tmp_path / "img" / "a b.png", a)  # a space in the name: the label is after the LAST space
    png_file(tmp_path / "img" / "b.png", b)
    (tmp_path / "list.txt").write_text("a b.png 3\nb.png 7\n")
    text = ('type: "ImageData" top: "data" top: "label" transform_param { mean_value: 10 } '
            'image_data_param { source: "list.txt" root_folder: "img/" batch_size: 3 }')
    data, label = forward(text, tmp_path)
    assert label.tolist() == [3, 7, 3]
    bgr = a[:, :, ::-1].transpose(2, 0, 1).astype(np.float32)
    assert np.array_equal(data[0], bgr - 10) and np.array_equal(data[2], data[0])
    resized = text.replace("batch_size: 3", "batch_size: 2 new_height: 5 new_width: 7 is_color: false")
    small, _ = forward(resized, tmp_path)
    from PIL import Image

    gray = np.asarray(Image.fromarray(a).convert("L"))[:, :, None]
    assert np.array_equal(small[0], resize_linear(gray, 5, 7).transpose(2, 0, 1).astype(np.float32) - 10)


def test_image_data_errors_are_located_and_do_not_echo_contents(tmp_path) -> None:
    (tmp_path / "bad.png").write_bytes(b"SECRET-CONTENT not an image")
    (tmp_path / "list.txt").write_text("bad.png 1\n")
    text = ('name: "img" type: "ImageData" top: "data" top: "label" '
            'image_data_param { source: "list.txt" batch_size: 1 new_height: 4 new_width: 4 }')
    with pytest.raises(ShapeError, match="cannot decode image 'bad.png'") as info:
        forward(text, tmp_path)
    assert info.value.location.layer == "img" and "SECRET" not in str(info.value)
    (tmp_path / "list.txt").write_text("missing.png 1\n")
    with pytest.raises(ShapeError, match="image '.*missing.png' not found"):
        forward(text, tmp_path)
    (tmp_path / "dir.png").mkdir()
    (tmp_path / "list.txt").write_text("dir.png 1\n")
    with pytest.raises(ShapeError, match="is not a regular file"):
        forward(text, tmp_path)


def test_resize_matches_opencv() -> None:
    cv2 = pytest.importorskip("cv2")
    from caffecx.layers.datasource import resize_linear

    rng = np.random.default_rng(0)
    for h, w, oh, ow, c in [(37, 53, 20, 31, 3), (375, 500, 256, 256, 3), (100, 80, 50, 40, 1), (20, 31, 37, 53, 3)]:
        img = rng.integers(0, 256, (h, w, c), dtype=np.uint8)
        ref = cv2.resize(img, (ow, oh)).reshape(oh, ow, c).astype(int)
        diff = np.abs(resize_linear(img, oh, ow).astype(int) - ref)
        assert diff.max() <= 1 and (diff > 0).mean() < 0.02
        if oh <= h and ow <= w:
            assert diff.max() == 0


def test_hdf5_data_forward_rows_wrap_and_transform_is_refused(tmp_path) -> None:
    h5py = pytest.importorskip("h5py")
    with h5py.File(tmp_path / "a.h5", "w") as f:
        f["data"] = np.arange(8, dtype=np.float64).reshape(2, 4)
        f["label"] = np.array([1, 2], dtype=np.int32)
    with h5py.File(tmp_path / "b.h5", "w") as f:
        f["data"] = 100 + np.arange(4, dtype=np.float64).reshape(1, 4)
        f["label"] = np.array([9], dtype=np.int32)
    (tmp_path / "list.txt").write_text("a.h5\nb.h5\n")
    text = 'type: "HDF5Data" top: "data" top: "label" hdf5_data_param { source: "list.txt" batch_size: 4 }'
    data, label = forward(text, tmp_path)
    assert label.tolist() == [1, 2, 9, 1]  # a's rows, then b's, then a again
    assert data[:, 0].tolist() == [0, 4, 100, 0]
    with pytest.raises(ShapeError, match="does not transform data"):
        setup(text.replace("hdf5_data_param", "transform_param { scale: 2 } hdf5_data_param"),
              Context(base_dirs=[tmp_path]))


def test_input_forward_feeds_and_names_what_is_wrong() -> None:
    text = 'name: "in" type: "Input" top: "data" input_param { shape { dim: 1 dim: 2 } }'
    (out,) = forward(text, inputs={"data": np.array([[1.5, 2.0]], np.float64)})
    assert out.tolist() == [[1.5, 2.0]]
    with pytest.raises(ShapeError, match=r"input 'data' \(1, 2\) was not given"):
        forward(text)
    with pytest.raises(ShapeError, match=r"input 'data' has shape \(2, 1\), the layer's top is \(1, 2\)"):
        forward(text, inputs={"data": np.zeros((2, 1))})


def test_dummy_data_fillers_and_legacy_dims() -> None:
    zero, = forward('type: "DummyData" top: "a" dummy_data_param { shape { dim: 2 dim: 3 } }')
    assert zero.shape == (2, 3) and not zero.any()
    one = ('type: "DummyData" top: "a" top: "b" dummy_data_param { shape { dim: 500 } '
           'data_filler { type: "gaussian" std: 2 } }')
    a, b = forward(one)
    assert not np.array_equal(a, b) and 1.6 < a.std() < 2.4  # one filler, drawn anew for each top
    per = ('type: "DummyData" top: "a" top: "b" dummy_data_param { shape { dim: 2 } shape { dim: 1 dim: 3 } '
           'data_filler { type: "constant" value: 4 } data_filler { type: "constant" value: -1 } }')
    a, b = forward(per)
    assert a.tolist() == [4, 4] and b.tolist() == [[-1, -1, -1]]
    with pytest.raises(ShapeError, match="Number of data fillers must be 0, 1 or equal"):
        setup(per.replace('top: "b"', 'top: "b" top: "c"'))
    legacy = 'type: "DummyData" top: "a" top: "b" dummy_data_param { num: 2 channels: 3 channels: 1 height: 4 width: 5 }'
    assert setup(legacy) == [(2, 3, 4, 5), (2, 1, 4, 5)]  # each legacy field once or once per top


def test_load_image_input_through_the_transform(tmp_path) -> None:
    from caffecx.layers.datasource import load_image_input, resize_linear

    rgb = np.random.default_rng(1).integers(0, 256, (10, 8, 3), dtype=np.uint8)
    png_file(tmp_path / "cat.png", rgb)
    tp = caffe_pb2.TransformationParameter(mean_value=[1, 2, 3], scale=0.5)
    out = load_image_input(tp, tmp_path / "cat.png", (2, 3, 6, 4))
    bgr = resize_linear(rgb[:, :, ::-1].copy(), 6, 4).transpose(2, 0, 1).astype(np.float32)
    want = (bgr - np.array([1, 2, 3], np.float32)[:, None, None]) * np.float32(0.5)
    assert out.shape == (2, 3, 6, 4) and np.array_equal(out[0], want) and np.array_equal(out[1], want)
    cropped = load_image_input(caffe_pb2.TransformationParameter(crop_size=6), tmp_path / "cat.png", (1, 3, 6, 6))
    assert np.array_equal(cropped[0], rgb[:, :, ::-1].transpose(2, 0, 1)[:, 2:8, 1:7])
    with pytest.raises(ShapeError, match="an image feeds"):
        load_image_input(tp, tmp_path / "cat.png", (1, 4, 6, 4))


# -- shapes assumed from the prototxt when the source is absent ----------------------------------------

def test_absent_source_assumes_the_shape_the_prototxt_determines() -> None:
    ctx = Context()
    text = ('name: "data" type: "Data" top: "data" top: "label" data_param { source: "nowhere_lmdb" batch_size: 50 } '
            'transform_param { crop_size: 224 mean_value: 104 mean_value: 117 mean_value: 123 }')
    assert setup(text, ctx) == [(50, 3, 224, 224), (50,)]
    assert ctx.assumed == [{"layer": "data", "top": "data", "shape": [50, 3, 224, 224],
                            "from": "N from batch_size, C from 3 mean_values, H,W from crop_size"}]
    gray = ('name: "d" type: "ImageData" top: "d" image_data_param { source: "no.txt" batch_size: 8 '
            'new_height: 32 new_width: 40 is_color: false }')
    assert setup(gray, Context()) == [(8, 1, 32, 40)]
    forced = 'type: "Data" top: "d" data_param { source: "x" batch_size: 2 } transform_param { force_color: true crop_size: 7 }'
    assert setup(forced, Context()) == [(2, 3, 7, 7)]


def test_a_present_mean_file_gives_channels_and_size(tmp_path) -> None:
    blob = caffe_pb2.BlobProto(shape=caffe_pb2.BlobShape(dim=[1, 3, 32, 30]), data=[0.0] * (3 * 32 * 30))
    (tmp_path / "mean.binaryproto").write_bytes(blob.SerializeToString())
    ctx = Context(base_dirs=[tmp_path])
    text = 'type: "Data" top: "d" data_param { source: "x" batch_size: 4 } transform_param { mean_file: "mean.binaryproto" }'
    assert setup(text, ctx) == [(4, 3, 32, 30)]
    assert ctx.assumed[0]["from"] == "N from batch_size, C from the mean file, H,W from the mean file"


def test_what_stays_undetermined_is_named_and_strict_data_refuses() -> None:

    alexnet = ('name: "data" type: "Data" top: "data" data_param { source: "val_lmdb" batch_size: 50 } '
               'transform_param { crop_size: 227 mean_file: "absent.binaryproto" }')
    with pytest.raises(ShapeError, match=r"does not determine C \(channels\): pass --input-shape "
                                         r"data=50,C,227,227 \(N is its batch_size, H,W its crop_size\)"):
        setup(alexnet, Context())
    one_mean = 'name: "d" type: "Data" top: "d" data_param { source: "x" batch_size: 9 } transform_param { mean_value: 5 }'
    with pytest.raises(ShapeError, match=r"does not determine C \(channels\) nor H,W"):
        setup(one_mean, Context())
    determined = alexnet.replace('mean_file: "absent.binaryproto"', "force_gray: true")
    assert setup(determined, Context()) == [(50, 1, 227, 227)]
    with pytest.raises(ShapeError) as refused:  # strict: the refusal names the source and the hint
        setup(determined, Context(assume_data_shapes=False))
    assert "not found" in refused.value.message
    assert "data=50,C,227,227 (N is its batch_size, H,W its crop_size)" in refused.value.message
    assert setup(determined, Context(input_shapes={"data": (2, 3, 5, 5)})) == [(2, 3, 5, 5)]  # a hint wins


def test_analyze_json_lists_assumed_inputs_for_a_corpus_net(capsys) -> None:
    from paths import CORPUS

    from caffecx.cli import main

    net = str(CORPUS / "prototxt" / "bvlc_googlenet__train_val.prototxt")
    assert main(["analyze", net, "--format", "json"]) == 0
    import json

    out = json.loads(capsys.readouterr().out)
    assert out["assumed_inputs"] == [{"layer": "data", "top": "data", "shape": [50, 3, 224, 224],
                                      "from": "N from batch_size, C from 3 mean_values, H,W from crop_size"}]
    assert out["layers"][0]["top_shapes"] == [[50, 3, 224, 224], [50]]
    assert out["totals"]["macs"] == 50 * 1_591_044_096  # GoogLeNet's 1.59 G MACs per 224x224 image
    assert main(["analyze", net]) == 0
    table = capsys.readouterr().out
    assert "data (assumed)" in table and "assumed: data=50,3,224,224" in table
    assert main(["analyze", net, "--strict-data"]) == 2
