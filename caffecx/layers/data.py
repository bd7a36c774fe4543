"""Data-reading layers: Data (LMDB), ImageData, HDF5Data, MemoryData, WindowData, AnnotatedData (SSD).

Caffe rule: the data top is (batch_size, C, H, W) of the first record after the transformer's crop;
a second top is the label, (batch_size,) — SSD's AnnotatedData gives (1, 1, 1, 8) for boxes.
LevelDB sources are not read (no LevelDB binding is a dependency): pass ``--input-shape``.

Forward: the batch Caffe's net reads — the first N records in key order (Data), the first N lines of
the list (ImageData), the first N rows (HDF5Data), wrapping to the start as Caffe's cursor does; each
further forward of the same layer reads the next N (Data, ImageData), as Caffe's cursor moves on —
through the DataTransformer (`Transformer`: crop, mirror, ``(x - mean) * scale``); labels as
floats. N is the planned batch (``--batch`` changes it). A top fed by the caller (``RunContext.inputs``)
replaces what the layer would read.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from caffecx.errors import CaffecxError
from caffecx.layers.base import Context, Layer, RunContext, Shape, register
from caffecx.layers.datasource import (
    HDF5_SUFFIXES,
    HEAD_BYTES,
    IMAGE_SUFFIXES,
    SourceMissing,
    Transformer,
    absent,
    assume_or_raise,
    batch_size,
    datum_chw,
    decode_image,
    find,
    first_lines,
    first_lmdb_value,
    hinted,
    image_list,
    image_size,
    listed,
    lmdb_values,
    lookup,
    read_file,
    read_head,
    regular_file,
    resize_linear,
    resolve,
    shape_hint,
    transformed,
)
from caffecx.proto import caffe_pb2


def _with_label(layer: Layer, data: Shape, label: Shape | None = None) -> list[Shape]:
    tops = [data]
    if len(layer.lp.top) > 1:
        tops.append(label if label is not None else (data[0],))
    return tops


def fed(layer: Layer, run: RunContext) -> list[np.ndarray] | None:
    """The caller's arrays for every top of a source layer (checked against the planned shapes), or
    None when some top is not fed (the layer then reads its source)."""
    tops = list(layer.lp.top)
    if not tops or any(t not in run.inputs for t in tops):
        return None
    return [checked(layer, t, run.inputs[t], want, run) for t, want in zip(tops, layer.top_shapes, strict=True)]


def checked(layer: Layer, top: str, value: Any, want: Shape, run: RunContext) -> np.ndarray:
    """`value` as the run's dtype, after checking its shape is the planned top shape."""
    array = np.asarray(value)
    if tuple(array.shape) != tuple(want):
        raise layer.fail(f"top '{top}' is {_dims(array.shape)} but the layer's top is {_dims(want)}")
    return array.astype(run.dtype, copy=False)


def _dims(shape: Any) -> str:
    return "(" + ", ".join(str(int(d)) for d in shape) + ")"


class _Source(Layer):
    """A data layer: shapes from a hint on its first top when given (``--input-shape``, a log's
    shapes), else from its source (`from_source`). Its forward reads ``read(n, run)``: n (C, H, W)
    records and their labels, transformed by the layer's DataTransformer."""

    is_source = True
    num_bottoms = (0, 0)
    num_tops = (1, 2)
    #: Records read by earlier forwards of this layer (its cursor).
    consumed: int = 0

    def setup(self, bottom_shapes: list[Shape], ctx: Context) -> list[Shape]:
        hint = hinted(self, ctx)
        if hint:
            return hint
        try:
            return self.from_source(ctx)
        except SourceMissing as err:
            return assume_or_raise(self, ctx, err, self.assumed_labels())

    def assumed_labels(self) -> list[Shape]:
        """The other tops' shapes beside an assumed data shape (Caffe's labels: (N,))."""
        n = batch_size(self.lp) or 1
        return [(n,)] * (len(self.lp.top) - 1)

    def from_source(self, ctx: Context) -> list[Shape]:
        raise NotImplementedError

    def read(self, n: int, run: RunContext) -> tuple[list[np.ndarray], list[float]]:
        raise self.fail(f"layer type '{self.lp.type}' has no forward pass in caffecx")

    def forward(self, bottoms: list[np.ndarray], blobs: list[np.ndarray], run: RunContext) -> list[np.ndarray]:
        given = fed(self, run)
        if given is not None:
            return given
        n = self.top_shapes[0][0]
        items, labels = self.read(n, run)
        self.consumed += n  # the next forward reads the next batch, as Caffe's data cursor moves on
        transform = Transformer(self, self.lp.transform_param, run.phase, run.base_dirs)
        tops = [transform(items, run.rng, run.dtype)]
        if len(self.lp.top) > 1:
            tops.append(np.asarray(labels, dtype=run.dtype))
        out = []
        for name, array, want in zip(self.lp.top, tops, self.top_shapes, strict=True):
            if name in run.inputs:
                array = run.inputs[name]
            out.append(checked(self, name, array, want, run))
        return out


class _DatumSource(_Source):

    def first_datum(self, ctx: Context, annotated: bool = False) -> object:
        p = self.lp.data_param
        path = resolve(self, ctx, p.source)
        if p.backend == caffe_pb2.DataParameter.LEVELDB and not (path / "data.mdb").exists():
            raise absent(self, f"'{p.source}' is a LevelDB: not readable here")
        try:
            raw = first_lmdb_value(path, self)
        except CaffecxError:
            raise
        except Exception as err:  # noqa: BLE001 - lmdb.Error and OS errors: name the source, not its bytes
            raise self.fail(f"cannot read LMDB '{p.source}' ({type(err).__name__}: not an LMDB Caffe "
                            "can open)") from None
        if raw is None:
            raise self.fail(f"LMDB '{p.source}' is empty")
        msg = caffe_pb2.AnnotatedDatum() if annotated else caffe_pb2.Datum()
        try:
            msg.ParseFromString(raw)
        except Exception:  # noqa: BLE001 - protobuf DecodeError
            raise self.fail(f"the first record of '{p.source}' is not a Datum") from None
        return msg.datum if annotated else msg

    def data_shape(self, ctx: Context, annotated: bool = False) -> Shape:
        datum = self.first_datum(ctx, annotated)
        c, h, w = transformed(self, *datum_chw(self, datum), self.lp.transform_param)
        return (int(self.lp.data_param.batch_size), c, h, w)

    def read(self, n: int, run: RunContext, annotated: bool = False) -> tuple[list[np.ndarray], list[float]]:
        """The first n Datum records of the LMDB (key order, wrapping), as (C, H, W) arrays, and labels."""
        p = self.lp.data_param
        path = find(self, run.base_dirs, p.source, "data source")
        if p.backend == caffe_pb2.DataParameter.LEVELDB and not (path / "data.mdb").exists():
            raise self.fail(f"'{p.source}' is a LevelDB: not readable here; feed the layer's tops instead")
        items, labels = [], []
        for k, raw in enumerate(lmdb_values(self, path, n, skip=self.consumed)):
            msg = caffe_pb2.AnnotatedDatum() if annotated else caffe_pb2.Datum()
            try:
                msg.ParseFromString(raw)
            except Exception:  # noqa: BLE001 - protobuf DecodeError
                raise self.fail(f"record {k} of '{p.source}' is not a Datum") from None
            datum = msg.datum if annotated else msg
            items.append(self.datum_array(datum, k))
            labels.append(float(datum.label))
        return items, labels

    def datum_array(self, datum: Any, k: int) -> np.ndarray:
        """One Datum as (C, H, W): an encoded image decoded (force_color / force_gray, else as stored),
        raw uint8 ``data``, or ``float_data``."""
        tp = self.lp.transform_param
        if datum.encoded:
            self.check(not (tp.force_color and tp.force_gray), "cannot set both force_color and force_gray")
            mode = "color" if tp.force_color else "gray" if tp.force_gray else "native"
            return decode_image(self, bytes(datum.data), mode, f"the image in record {k}").transpose(2, 0, 1)
        c, h, w = int(datum.channels), int(datum.height), int(datum.width)
        self.check(c > 0 and h >= 0 and w >= 0, f"record {k}: the Datum is {c}x{h}x{w}")
        if len(datum.data):
            raw = np.frombuffer(datum.data, dtype=np.uint8)
        else:
            raw = np.asarray(datum.float_data, dtype=np.float32)
        self.check(raw.size == c * h * w, f"record {k}: the Datum holds {raw.size} values for {c}x{h}x{w}")
        return raw.reshape(c, h, w)


@register("Data")
class Data(_DatumSource):
    """Caffe's ``Data`` layer over an LMDB of Datum records."""

    def from_source(self, ctx: Context) -> list[Shape]:
        return _with_label(self, self.data_shape(ctx))


@register("AnnotatedData")
class AnnotatedData(_DatumSource):
    """SSD's ``AnnotatedData``: data as Data; the label top is (1, 1, 1, 8) at set-up (boxes grow later)."""

    def from_source(self, ctx: Context) -> list[Shape]:
        return _with_label(self, self.data_shape(ctx, annotated=True), (1, 1, 1, 8))

    def assumed_labels(self) -> list[Shape]:
        return [(1, 1, 1, 8)] * (len(self.lp.top) - 1)

    def forward(self, bottoms: list[np.ndarray], blobs: list[np.ndarray], run: RunContext) -> list[np.ndarray]:
        """Only fed tops: SSD's box labels, batch samplers and resize_param are not reproduced."""
        given = fed(self, run)
        if given is None:
            raise self.fail("AnnotatedData is not read by caffecx (SSD's samplers and box labels are not "
                            f"reproduced); feed its tops: {', '.join(self.lp.top)}")
        return given


@register("ImageData")
class ImageData(_Source):
    """Caffe's ``ImageData``: a list file of ``path label`` lines; size from new_height/new_width or
    the first image's header; is_color → 3 channels, else 1."""

    def from_source(self, ctx: Context) -> list[Shape]:
        p = self.lp.image_data_param
        self.check((p.new_height == 0 and p.new_width == 0) or (p.new_height > 0 and p.new_width > 0),
                   "Current implementation requires new_height and new_width to be set at the same time.")
        listing = resolve(self, ctx, p.source)
        lines = image_list(first_lines(self, listing, "image list", 1))
        self.check(bool(lines), f"File is empty: {p.source}")
        channels = 3 if p.is_color else 1
        if p.new_height > 0 and p.new_width > 0:
            h, w = int(p.new_height), int(p.new_width)
        else:
            h, w = self._first_image_size(p.root_folder + lines[0][0], listing, ctx)
        c, h, w = transformed(self, channels, h, w, self.lp.transform_param)
        return _with_label(self, (int(p.batch_size), c, h, w))

    def _first_image_size(self, name: str, listing: Path, ctx: Context) -> tuple[int, int]:
        """(height, width) from the header of the list's first image (at most `HEAD_BYTES` read)."""
        shown = listed(name, "image", 1, self.lp.image_data_param.source, IMAGE_SUFFIXES)
        img = (lookup(self, ctx.base_dirs, name) if name else None) or listing.parent / name
        if not (img.exists() or img.is_symlink()):
            raise absent(self, f"could not open the first image ({shown})")
        size = image_size(read_head(self, img, "image", HEAD_BYTES, shown))
        if size is None:
            raise self.fail(f"{shown} is not a PNG, JPEG or BMP image (its header is not one)")
        self.check(size[1] > 0 and size[2] > 0, f"{shown} has a {size[1]}x{size[2]} header (no pixels)")
        return size[1], size[2]

    def read(self, n: int, run: RunContext) -> tuple[list[np.ndarray], list[float]]:
        """The first n lines of the list (after Caffe's shuffle / rand_skip, drawn with the run's
        generator), each image read as cv::imread does (BGR or gray) and resized with INTER_LINEAR to
        new_height x new_width when given."""
        p = self.lp.image_data_param
        listing = find(self, run.base_dirs, p.source, "image list")
        numbered, start = self._listed(p, listing, n, run)
        items, labels = [], []
        for k in range(self.consumed, self.consumed + n):
            line, (name, label) = numbered[(start + k) % len(numbered)]
            items.append(self._image(p, name, line, listing.parent, run.base_dirs))
            labels.append(float(label))
        return items, labels

    def _listed(self, p: Any, listing: Path, n: int, run: RunContext) -> tuple[list[tuple[int, tuple[str, int]]], int]:
        """The list's (line number, (name, label)) entries in reading order and the rand_skip start.
        Shuffled, the whole list is read (bounded); else only the lines this batch reaches."""
        def skip() -> int:
            return int(run.rng.integers(p.rand_skip)) if p.rand_skip else 0

        if p.shuffle:
            text = read_file(self, listing, "image list").decode("utf-8", errors="surrogateescape")
            numbered = list(enumerate(image_list(text), 1))
            self.check(bool(numbered), f"File is empty: {p.source}")
            numbered = [numbered[i] for i in run.rng.permutation(len(numbered))]
            start = skip()
        else:
            start = skip()
            text = first_lines(self, listing, "image list", start + self.consumed + n)
            numbered = list(enumerate(image_list(text), 1))
            self.check(bool(numbered), f"File is empty: {p.source}")
        self.check(start < len(numbered), "Not enough points to skip")
        return numbered, start

    def _image(self, p: Any, name: str, line: int, list_dir: Path, base_dirs: list[Path]) -> np.ndarray:
        source = p.root_folder + name
        shown = listed(source, "image", line, p.source, IMAGE_SUFFIXES)
        path = lookup(self, base_dirs, source) if source else None
        path = path or (list_dir / source)
        image = decode_image(self, read_file(self, path, "image", shown), "color" if p.is_color else "gray", shown)
        if p.new_height > 0 and p.new_width > 0:
            image = resize_linear(image, int(p.new_height), int(p.new_width))
        return image.transpose(2, 0, 1)


@register("HDF5Data")
class HDF5Data(Layer):
    """Caffe's ``HDF5Data``: the source lists .h5 files; each top is the dataset of its name, with the
    first axis replaced by batch_size (read with h5py when installed)."""

    is_source = True
    num_bottoms = (0, 0)
    num_tops = (1, None)

    def setup(self, bottom_shapes: list[Shape], ctx: Context) -> list[Shape]:
        self.check(not self.lp.HasField("transform_param"), "HDF5Data does not transform data.")
        hint = hinted(self, ctx)
        if hint and all(t in ctx.input_shapes for t in self.lp.top):
            return [tuple(ctx.input_shapes[t]) for t in self.lp.top]
        p = self.lp.hdf5_data_param
        listing = resolve(self, ctx, p.source)
        names = first_lines(self, listing, "HDF5 file list", 1).split()
        self.check(bool(names), f"Must have at least 1 HDF5 filename listed in {p.source}")
        h5py = self._h5py()
        shown = listed(names[0], "HDF5 file", 1, p.source, HDF5_SUFFIXES, "at entry")
        h5 = lookup(self, ctx.base_dirs, names[0]) or (listing.parent / names[0])
        if not (h5.exists() or h5.is_symlink()):
            raise self.fail(f"{shown} not found; pass {shape_hint(self)}")
        regular_file(self, h5, "HDF5 file", shown)
        out = []
        try:
            with h5py.File(h5, "r") as f:
                for top in self.lp.top:
                    item = self._dataset(h5py, f, top, shown)
                    out.append((int(p.batch_size), *(int(d) for d in item.shape[1:])))
        except CaffecxError:
            raise
        except Exception as err:  # noqa: BLE001 - h5py raises OSError, KeyError, RuntimeError, ...
            raise self.fail(f"cannot read {shown} ({type(err).__name__}: not an HDF5 file h5py can read)") \
                from None
        return out

    def _dataset(self, h5py: Any, f: Any, top: str, shown: str) -> Any:
        """The dataset named after `top` in an open HDF5 file: it must exist and have an axis to batch."""
        item = f.get(top)
        self.check(isinstance(item, h5py.Dataset), f"{shown} has no dataset '{top}'")
        self.check(item.ndim >= 1, f"dataset '{top}' of {shown} must have at least 1 axis")
        return item

    def _h5py(self) -> Any:
        try:
            import h5py
        except ImportError:
            raise self.fail(f"reading HDF5 needs h5py (pip install h5py), or pass {shape_hint(self)}") from None
        return h5py

    def forward(self, bottoms: list[np.ndarray], blobs: list[np.ndarray], run: RunContext) -> list[np.ndarray]:
        """The first N rows of each top's dataset: the files of the list in order, rows wrapping to the
        next file (to the first when one file), as Caffe's Next() walks them; shuffle permutes with the
        run's generator."""
        given = fed(self, run)
        if given is not None:
            return given
        p = self.lp.hdf5_data_param
        listing = find(self, run.base_dirs, p.source, "HDF5 file list")
        names = read_file(self, listing, "HDF5 file list").decode("utf-8", errors="surrogateescape").split()
        self.check(bool(names), f"Must have at least 1 HDF5 filename listed in {p.source}")
        if p.shuffle:
            names = [names[i] for i in run.rng.permutation(len(names))]
        n = self.top_shapes[0][0]
        parts: list[list[np.ndarray]] = [[] for _ in self.lp.top]
        got, index = 0, 0
        while got < n:
            shown = listed(names[index % len(names)], "HDF5 file", index % len(names) + 1, p.source,
                           HDF5_SUFFIXES, "at entry")
            rows = self._load(names[index % len(names)], shown, listing.parent, run, None if p.shuffle else n - got)
            take = min(n - got, rows[0].shape[0])
            order = run.rng.permutation(rows[0].shape[0])[:take] if p.shuffle else slice(0, take)
            for part, data in zip(parts, rows, strict=True):
                part.append(data[order])
            got, index = got + take, index + 1
        return [checked(self, t, np.concatenate(part), want, run)
                for t, part, want in zip(self.lp.top, parts, self.top_shapes, strict=True)]

    def _load(self, name: str, shown: str, list_dir: Path, run: RunContext, limit: int | None) -> list[np.ndarray]:
        """Every top's dataset of one HDF5 file (its first `limit` rows when given), as the run's float
        type (Caffe CHECKs equal row counts)."""
        h5py = self._h5py()
        path = lookup(self, run.base_dirs, name) or (list_dir / name)
        regular_file(self, path, "HDF5 file", shown)
        out, rows = [], set()
        try:
            with h5py.File(path, "r") as f:
                for top in self.lp.top:
                    item = self._dataset(h5py, f, top, shown)
                    rows.add(item.shape[0])
                    out.append(np.asarray(item[:limit] if limit else item[()], dtype=run.dtype))
        except CaffecxError:
            raise
        except Exception as err:  # noqa: BLE001 - h5py raises OSError, KeyError, RuntimeError, ...
            raise self.fail(f"cannot read {shown} ({type(err).__name__})") from None
        self.check(len(rows) == 1, f"the datasets of {shown} have different row counts {sorted(rows)}")
        self.check(out[0].shape[0] > 0, f"the datasets of {shown} are empty")
        return out


@register("MemoryData")
class MemoryData(_Source):
    """Caffe's ``MemoryData``: (batch_size, channels, height, width) and labels (batch_size,)."""

    def from_source(self, ctx: Context) -> list[Shape]:
        p = self.lp.memory_data_param
        return _with_label(self, (int(p.batch_size), int(p.channels), int(p.height), int(p.width)))

    def read(self, n: int, run: RunContext) -> tuple[list[np.ndarray], list[float]]:
        raise self.fail(f"MemoryData takes its arrays from the caller: feed {', '.join(self.lp.top)}")


@register("WindowData")
class WindowData(_Source):
    """Caffe's ``WindowData`` (R-CNN): (batch_size, 3, crop_size, crop_size) and labels (batch_size,)."""

    def from_source(self, ctx: Context) -> list[Shape]:
        crop = int(self.lp.transform_param.crop_size)
        self.check(crop > 0, "WindowData needs transform_param.crop_size > 0")
        return _with_label(self, (int(self.lp.window_data_param.batch_size), 3, crop, crop))

    def read(self, n: int, run: RunContext) -> tuple[list[np.ndarray], list[float]]:
        raise self.fail("WindowData's random windows are not reproduced by caffecx; feed "
                        f"{', '.join(self.lp.top)}")
