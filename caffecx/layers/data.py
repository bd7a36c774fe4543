"""Data-reading layers: Data (LMDB), ImageData, HDF5Data, MemoryData, WindowData, AnnotatedData (SSD).

Caffe rule: the data top is (batch_size, C, H, W) of the first record after the transformer's crop;
a second top is the label, (batch_size,) — SSD's AnnotatedData gives (1, 1, 1, 8) for boxes.
LevelDB sources are not read (no LevelDB binding is a dependency): pass ``--input-shape``.
"""

from __future__ import annotations

from caffecx.layers.base import Context, Layer, Shape, register
from caffecx.layers.datasource import (
    datum_chw,
    first_lmdb_value,
    hinted,
    image_size,
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


class _Source(Layer):
    """A data layer: shapes from a hint on its first top when given (``--input-shape``, a log's
    shapes), else from its source (`from_source`)."""

    is_source = True
    num_bottoms = (0, 0)
    num_tops = (1, 2)

    def setup(self, bottom_shapes: list[Shape], ctx: Context) -> list[Shape]:
        return hinted(self, ctx) or self.from_source(ctx)

    def from_source(self, ctx: Context) -> list[Shape]:
        raise NotImplementedError


class _DatumSource(_Source):

    def first_datum(self, ctx: Context, annotated: bool = False) -> object:
        p = self.lp.data_param
        path = resolve(self, ctx, p.source)
        if p.backend == caffe_pb2.DataParameter.LEVELDB and not (path / "data.mdb").exists():
            raise self.fail(f"'{p.source}' is a LevelDB: not readable here; pass {shape_hint(self)}")
        try:
            raw = first_lmdb_value(path)
        except Exception as err:  # lmdb.Error and OS errors: name the source
            raise self.fail(f"cannot read LMDB '{p.source}': {err}") from None
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


@register("ImageData")
class ImageData(_Source):
    """Caffe's ``ImageData``: a list file of ``path label`` lines; size from new_height/new_width or
    the first image's header; is_color → 3 channels, else 1."""

    def from_source(self, ctx: Context) -> list[Shape]:
        p = self.lp.image_data_param
        listing = resolve(self, ctx, p.source)
        lines = [ln.strip() for ln in listing.read_text(errors="replace").splitlines() if ln.strip()]
        self.check(bool(lines), f"File is empty: {p.source}")
        first = lines[0].rsplit(None, 1)[0] if len(lines[0].split()) > 1 else lines[0]
        channels = 3 if p.is_color else 1
        if p.new_height > 0 and p.new_width > 0:
            h, w = int(p.new_height), int(p.new_width)
        else:
            img = ctx.resolve(p.root_folder + first) or (listing.parent / (p.root_folder + first))
            if not img.exists():
                raise self.fail(f"could not open the first image '{p.root_folder + first}'; "
                                f"pass {shape_hint(self)}")
            size = image_size(img.read_bytes()[:65536])
            if size is None:
                raise self.fail(f"unknown image format: '{img}'")
            h, w = size[1], size[2]
        c, h, w = transformed(self, channels, h, w, self.lp.transform_param)
        return _with_label(self, (int(p.batch_size), c, h, w))


@register("HDF5Data")
class HDF5Data(Layer):
    """Caffe's ``HDF5Data``: the source lists .h5 files; each top is the dataset of its name, with the
    first axis replaced by batch_size (read with h5py when installed)."""

    is_source = True
    num_bottoms = (0, 0)
    num_tops = (1, None)

    def setup(self, bottom_shapes: list[Shape], ctx: Context) -> list[Shape]:
        hint = hinted(self, ctx)
        if hint and all(t in ctx.input_shapes for t in self.lp.top):
            return [tuple(ctx.input_shapes[t]) for t in self.lp.top]
        p = self.lp.hdf5_data_param
        listing = resolve(self, ctx, p.source)
        names = [ln.strip() for ln in listing.read_text(errors="replace").splitlines() if ln.strip()]
        self.check(bool(names), f"File is empty: {p.source}")
        try:
            import h5py
        except ImportError:
            raise self.fail(f"reading HDF5 needs h5py (pip install h5py), or pass {shape_hint(self)}") from None
        h5 = ctx.resolve(names[0]) or (listing.parent / names[0])
        if not h5.exists():
            raise self.fail(f"HDF5 file '{names[0]}' not found; pass {shape_hint(self)}")
        with h5py.File(h5, "r") as f:
            out = []
            for top in self.lp.top:
                self.check(top in f, f"HDF5 file '{h5.name}' has no dataset '{top}'")
                out.append((int(p.batch_size), *(int(d) for d in f[top].shape[1:])))
        return out


@register("MemoryData")
class MemoryData(_Source):
    """Caffe's ``MemoryData``: (batch_size, channels, height, width) and labels (batch_size,)."""

    def from_source(self, ctx: Context) -> list[Shape]:
        p = self.lp.memory_data_param
        return _with_label(self, (int(p.batch_size), int(p.channels), int(p.height), int(p.width)))


@register("WindowData")
class WindowData(_Source):
    """Caffe's ``WindowData`` (R-CNN): (batch_size, 3, crop_size, crop_size) and labels (batch_size,)."""

    def from_source(self, ctx: Context) -> list[Shape]:
        crop = int(self.lp.transform_param.crop_size)
        self.check(crop > 0, "WindowData needs transform_param.crop_size > 0")
        return _with_label(self, (int(self.lp.window_data_param.batch_size), 3, crop, crop))
