"""What data-reading layers share: finding their source, reading one record's size, the transform.

Caffe's data layers learn their top shape by reading the first record of their source (an LMDB
Datum, an image, an HDF5 dataset) and applying the DataTransformer's crop. When the source is absent
here, the shape comes from a hint (``--input-shape TOP=N,C,H,W``, or the shapes a log printed); the
hint for the first top wins over everything, and labels follow its batch size.

Without a hint, a layer whose source is absent takes the shape its prototxt determines (`assumed_shape`:
N from batch_size; H, W from crop_size, else new_height/new_width, else a present mean file; C from
force_color/force_gray, ImageData's is_color, the number of mean_values (two or more), else a present
mean file), recorded in ``Context.assumed``. What stays undetermined is named in the error. Assuming is
on by default; ``Context.assume_data_shapes = False`` (``plan_net(strict_data=True)``, the CLI's ``--strict-data``)
keep the refusal.
"""

from __future__ import annotations

import contextlib
import io
import os
import re
import stat
import struct
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np

from caffecx.errors import CaffecxError, ShapeError
from caffecx.layers.base import Context, Layer, Shape

_BATCH_PARAMS = ("data_param", "image_data_param", "hdf5_data_param", "window_data_param", "memory_data_param")


def batch_size(lp: Any) -> int | None:
    """The batch size a data layer's parameters state (``data_param.batch_size`` and its kin), if any."""
    return next((int(getattr(lp, f).batch_size) for f in _BATCH_PARAMS
                 if lp.HasField(f) and getattr(getattr(lp, f), "batch_size", 0)), None)


def shape_hint(layer: Layer, assumed: bool = False) -> str:
    """``--input-shape TOP=N,C,H,W`` with what the prototxt already says filled in (batch size, crop;
    with `assumed`, also the channels and sizes `assumed_shape` would take)."""
    lp = layer.lp
    top = lp.top[0] if len(lp.top) else "data"
    batch = batch_size(lp)
    tp = lp.transform_param
    crop = int(tp.crop_size) if lp.HasField("transform_param") else 0
    c, c_from = _channels(layer, None) if assumed else (None, "")
    size, hw_from = _height_width(layer, None) if assumed else (((crop, crop), "crop_size") if crop else (None, ""))
    n = "N" if batch is None else str(batch)
    hw = f"{size[0]},{size[1]}" if size else "H,W"
    known = [w for w, ok in (("N is its batch_size", batch is not None), (f"C its {c_from}", c is not None),
                             (f"H,W its {hw_from}", size is not None)) if ok]
    return f"--input-shape {top}={n},{'C' if c is None else c},{hw}" + (f" ({', '.join(known)})" if known else "")


class SourceMissing(ShapeError):
    """A data layer's source (or its first record) is not here: the shape must be hinted or assumed."""


def absent(layer: Layer, message: str) -> SourceMissing:
    """A `SourceMissing` located at `layer` whose message ends with the ``--input-shape`` to pass."""
    return SourceMissing(f"{message}; pass {shape_hint(layer)}", layer=layer.name)


def missing_source(layer: Layer, source: str, why: str = "not found") -> SourceMissing:
    return absent(layer, f"data source '{source}' {why} (looked in the cwd and the prototxt's folder)")


def mean_blob(layer: Layer, path: Path, what: str = "mean file") -> np.ndarray:
    """A mean file (any binaryproto BlobProto named by a prototxt, e.g. an infogain matrix, with `what`)
    as an array: a regular file of bounded size, every read or decode failure a located error naming
    the file, never its content."""
    from caffecx.io.reader import blob_to_array, parse_binary
    from caffecx.proto import caffe_pb2

    data = read_file(layer, path, what, limit=FILE_BYTES)
    blob = caffe_pb2.BlobProto()
    try:
        parse_binary(data, blob, what="binaryproto")
        return blob_to_array(blob)
    except CaffecxError as err:
        raise layer.fail(f"{what} '{path.name}': {err.message}") from None


def _mean_file_shape(layer: Layer, ctx: Context) -> tuple[int, int, int] | None:
    """(C, H, W) of the transform's mean file when it is present and readable, else None."""
    tp = layer.lp.transform_param
    if not (layer.lp.HasField("transform_param") and tp.HasField("mean_file")):
        return None
    try:
        path = lookup(layer, ctx.base_dirs, tp.mean_file)
        mean = None if path is None else mean_blob(layer, path)
    except CaffecxError:
        return None
    if mean is None:
        return None
    dims = (1,) * (4 - mean.ndim) + tuple(mean.shape) if mean.ndim <= 4 else tuple(mean.shape)
    return (int(dims[1]), int(dims[2]), int(dims[3])) if len(dims) == 4 else None


def _channels(layer: Layer, mean: tuple[int, int, int] | None) -> tuple[int | None, str]:
    lp, tp = layer.lp, layer.lp.transform_param
    if getattr(tp, "force_color", False):
        return 3, "force_color"
    if getattr(tp, "force_gray", False):
        return 1, "force_gray"
    if lp.type == "ImageData":
        return (3, "is_color") if lp.image_data_param.is_color else (1, "is_color: false")
    if len(tp.mean_value) > 1:
        return len(tp.mean_value), f"{len(tp.mean_value)} mean_values"
    if mean is not None:
        return mean[0], "the mean file"
    return None, ""


def _height_width(layer: Layer, mean: tuple[int, int, int] | None) -> tuple[tuple[int, int] | None, str]:
    lp, tp = layer.lp, layer.lp.transform_param
    crop = int(tp.crop_size)
    crop_h, crop_w = int(getattr(tp, "crop_h", 0) or crop), int(getattr(tp, "crop_w", 0) or crop)
    if crop_h and crop_w:
        return (crop_h, crop_w), "crop_size"
    if lp.type == "ImageData" and lp.image_data_param.new_height > 0 and lp.image_data_param.new_width > 0:
        return (int(lp.image_data_param.new_height), int(lp.image_data_param.new_width)), "new_height/new_width"
    resize = getattr(tp, "resize_param", None)
    if resize is not None and tp.HasField("resize_param") and resize.height > 0 and resize.width > 0:
        return (int(resize.height), int(resize.width)), "resize_param"
    if mean is not None:
        return (mean[1], mean[2]), "the mean file"
    return None, ""


def assumed_shape(layer: Layer, ctx: Context) -> tuple[Shape | None, list[str], list[str]]:
    """The data shape the prototxt determines: (N, C, H, W) or None, where each part came from, and
    the names of the parts that stay undetermined."""
    mean = _mean_file_shape(layer, ctx)
    n = batch_size(layer.lp)
    c, c_from = _channels(layer, mean)
    hw, hw_from = _height_width(layer, mean)
    missing = [name for name, ok in (("N (batch_size)", n), ("C (channels)", c), ("H,W (height, width)", hw))
               if not ok]
    sources = ["N from batch_size"] if n else []
    sources += [f"C from {c_from}"] if c else []
    sources += [f"H,W from {hw_from}"] if hw else []
    if missing:
        return None, sources, missing
    return (int(n), int(c), *hw), sources, []  # type: ignore[arg-type]


def assume_or_raise(layer: Layer, ctx: Context, err: SourceMissing, labels: list[Shape]) -> list[Shape]:
    """`err` re-raised unless assuming is on and the prototxt determines the data shape: then that
    shape (and `labels` for the other tops), recorded in ``ctx.assumed``."""
    if not ctx.assume_data_shapes:
        raise err
    shape, sources, missing = assumed_shape(layer, ctx)
    if shape is None:
        what = err.message.rsplit("; pass ", 1)[0]
        raise ShapeError(f"{what}; the prototxt does not determine {' nor '.join(missing)}: "
                         f"pass {shape_hint(layer, assumed=True)}", layer=layer.name)
    top = layer.lp.top[0] if len(layer.lp.top) else "data"
    ctx.assumed.append({"layer": layer.name, "top": top, "shape": list(shape), "from": ", ".join(sources)})
    return [shape, *labels]


def hinted(layer: Layer, ctx: Context) -> list[Shape] | None:
    """Top shapes from a hint on the first top (labels: (N,)), or None without a hint."""
    tops = list(layer.lp.top)
    if not tops or tops[0] not in ctx.input_shapes:
        return None
    first = tuple(ctx.input_shapes[tops[0]])
    out = [first]
    for t in tops[1:]:
        out.append(tuple(ctx.input_shapes.get(t, (first[0],))))
    return out


def transformed(layer: Layer, channels: int, height: int, width: int, tp: Any) -> tuple[int, int, int]:
    """The DataTransformer's InferBlobShape: crop_size crops both sides (crop_h/crop_w in SSD's fork)."""
    crop = int(tp.crop_size)
    crop_h = int(getattr(tp, "crop_h", 0) or crop)
    crop_w = int(getattr(tp, "crop_w", 0) or crop)
    if crop_h or crop_w:
        layer.check(height >= crop_h and width >= crop_w,
                    f"crop {crop_h}x{crop_w} is larger than the image {height}x{width}")
        height, width = crop_h or height, crop_w or width
    if getattr(tp, "force_color", False):
        channels = 3
    if getattr(tp, "force_gray", False):
        channels = 1
    return channels, height, width


def image_size(data: bytes) -> tuple[int, int, int] | None:
    """(channels, height, width) from a PNG, JPEG or BMP header; None when the format is not known."""
    if data[:8] == b"\x89PNG\r\n\x1a\n" and len(data) >= 26:
        width, height = struct.unpack(">II", data[16:24])
        color_type = data[25]
        channels = {0: 1, 2: 3, 3: 3, 4: 4, 6: 4}.get(color_type, 3)
        if color_type in (2, 3) and _png_has_trns(data):
            channels = 4  # IMREAD_UNCHANGED keeps a tRNS transparency as alpha
        return channels, height, width
    if data[:2] == b"BM" and len(data) >= 26:
        width, height = struct.unpack("<ii", data[18:26])
        return 3, abs(height), width
    if data[:2] == b"\xff\xd8":
        i = 2
        while i + 9 < len(data):
            if data[i] != 0xFF:
                i += 1
                continue
            marker = data[i + 1]
            if marker in (0xD8, 0x01) or 0xD0 <= marker <= 0xD7:
                i += 2
                continue
            (length,) = struct.unpack(">H", data[i + 2:i + 4])
            if 0xC0 <= marker <= 0xCF and marker not in (0xC4, 0xC8, 0xCC):
                height, width = struct.unpack(">HH", data[i + 5:i + 9])
                return (1 if data[i + 9] == 1 else 3), height, width  # CMYK/YCCK decode to BGR
            i += 2 + length
    return None


def _png_has_trns(data: bytes) -> bool:
    """Whether a tRNS chunk comes before the first IDAT of a PNG (within the bytes given)."""
    i = 8
    while i + 8 <= len(data):
        (length,) = struct.unpack(">I", data[i:i + 4])
        kind = data[i + 4:i + 8]
        if kind == b"tRNS":
            return True
        if kind in (b"IDAT", b"IEND"):
            return False
        i += 12 + length
    return False


def lmdb_path(layer: Layer, path: Path, what: str = "LMDB") -> Path:
    """`path` when it is an LMDB Caffe could open: a folder whose ``data.mdb`` is a regular file, or a
    regular file (a single-file LMDB); FIFOs and devices are never opened."""
    if path.is_dir():
        regular_file(layer, path / "data.mdb", f"{what} file")
    else:
        regular_file(layer, path, what)
    return path


def first_lmdb_value(path: Path, layer: Layer | None = None) -> bytes | None:
    """The first value of an LMDB environment, opened read-only without a lock file (with `layer`,
    a FIFO, a device or a folder without a regular ``data.mdb`` is refused first)."""
    import lmdb

    if layer is not None:
        lmdb_path(layer, path)
    env = lmdb.open(str(path), readonly=True, lock=False, subdir=path.is_dir(), max_readers=1)
    try:
        with env.begin() as txn:
            cursor = txn.cursor()
            return bytes(cursor.value()) if cursor.first() else None
    finally:
        env.close()


def datum_chw(layer: Layer, datum: Any) -> tuple[int, int, int]:
    """(channels, height, width) of a Datum, decoding the header of an encoded image."""
    if datum.encoded:
        size = image_size(bytes(datum.data))
        if size is None:
            raise layer.fail("the first Datum holds an encoded image of an unknown format")
        layer.check(size[1] > 0 and size[2] > 0,
                    f"the first Datum's image header gives a {size[1]}x{size[2]} image (no pixels)")
        return size
    return int(datum.channels), int(datum.height), int(datum.width)


def lookup(layer: Layer, base_dirs: list[Path], source: str) -> Path | None:
    """The first existing path for `source` among `base_dirs` (absolute as it is), else None; a name
    no file can have (a NUL byte, too long) is a located error."""
    if "\0" in source:
        raise layer.fail("a data source name contains a NUL byte")
    try:
        return Context(base_dirs=list(base_dirs)).resolve(source)
    except (OSError, ValueError) as err:
        raise layer.fail(f"a data source name cannot be looked up ({getattr(err, 'strerror', None) or err})") \
            from None


def resolve(layer: Layer, ctx: Context, source: str) -> Path:
    if not source:
        raise absent(layer, "the data layer names no source")
    path = lookup(layer, ctx.base_dirs, source)
    if path is None:
        raise missing_source(layer, source)
    return path


# -- reading data for a forward pass -----------------------------------------------------------------
# Caffe's image path runs through OpenCV: images decode to BGR (or gray) uint8, resize with
# cv::resize's INTER_LINEAR, and the DataTransformer then crops, subtracts the mean and scales.
# Sources are untrusted: only regular files are opened (non-blocking, so a FIFO swapped in after the
# check cannot hang), reads are bounded, and no message quotes a file's content (`listed` shows a name
# read from a list only when it looks like a file of the kind the list names).

#: At most this much of an image is read for its header at set-up.
HEAD_BYTES = 1 << 20
#: A line of a list longer than this is refused (a list's lines are paths).
LINE_BYTES = 1 << 16
#: A whole file (a list, an image, an HDF5 list) larger than this is refused.
FILE_BYTES = 1 << 30

IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg", ".jpe", ".bmp", ".dib", ".gif", ".tif", ".tiff", ".webp", ".ppm",
                  ".pgm", ".pbm", ".pnm", ".jp2", ".sr", ".ras", ".exr", ".hdr", ".pic")
HDF5_SUFFIXES = (".h5", ".hdf5", ".hdf", ".he5", ".h5py")


def listed(name: str, kind: str, line: int, source: str, suffixes: tuple[str, ...], unit: str = "on line") -> str:
    """How a message names a file read from a list: ``image 'a.png'`` when the name looks like one
    (printable, short, one of `suffixes`), else ``the image on line 3 of 'list.txt'`` (no content)."""
    plausible = (0 < len(name) <= 255 and name.isprintable() and name.lower().endswith(suffixes)
                 and name.encode("utf-8", "replace").decode("utf-8") == name)
    return f"{kind} '{name}'" if plausible else f"the {kind} {unit} {line} of '{source}'"


def regular_file(layer: Layer, path: Path, what: str, shown: str | None = None) -> Path:
    """`path` when it is a regular file (no devices, FIFOs or folders are opened), else a located error.
    `shown` replaces ``what 'path'`` in messages."""
    name = shown or f"{what} '{path}'"
    try:
        mode = path.stat().st_mode
    except (OSError, ValueError):
        raise layer.fail(f"{name} not found") from None
    if not stat.S_ISREG(mode):
        kind = "a folder" if stat.S_ISDIR(mode) else "a FIFO" if stat.S_ISFIFO(mode) else \
            "a device" if stat.S_ISCHR(mode) or stat.S_ISBLK(mode) else "a special file"
        raise layer.fail(f"{name} is not a regular file ({kind})")
    return path


def find(layer: Layer, base_dirs: list[Path], source: str, what: str) -> Path:
    """`source` looked up in `base_dirs` (absolute paths as they are), or a located error."""
    if not source:
        raise layer.fail(f"the layer names no {what}")
    path = lookup(layer, base_dirs, source)
    if path is None:
        raise layer.fail(f"{what} '{source}' not found (looked in the cwd and the prototxt's folder)")
    return path


@contextlib.contextmanager
def open_regular(layer: Layer, path: Path, what: str, shown: str | None = None) -> Iterator[io.BufferedReader]:
    """`path` opened for reading when it is a regular file: checked before opening, opened without
    blocking and checked again on the open descriptor; OS errors become located errors."""
    name = shown or f"{what} '{path}'"
    regular_file(layer, path, what, shown)
    try:
        fd = os.open(path, os.O_RDONLY | getattr(os, "O_NONBLOCK", 0) | getattr(os, "O_NOCTTY", 0))
    except OSError as err:
        raise layer.fail(f"cannot read {name}: {err.strerror}") from None
    try:
        if not stat.S_ISREG(os.fstat(fd).st_mode):
            raise layer.fail(f"{name} is not a regular file")
        fh = os.fdopen(fd, "rb")
    except BaseException:
        os.close(fd)
        raise
    with fh:
        try:
            yield fh
        except OSError as err:
            raise layer.fail(f"cannot read {name}: {err.strerror}") from None


def read_head(layer: Layer, path: Path, what: str, limit: int, shown: str | None = None) -> bytes:
    """At most the first `limit` bytes of a regular file."""
    with open_regular(layer, path, what, shown) as fh:
        return fh.read(limit)


def read_file(layer: Layer, path: Path, what: str, shown: str | None = None, limit: int = FILE_BYTES) -> bytes:
    """A whole regular file of at most `limit` bytes."""
    with open_regular(layer, path, what, shown) as fh:
        data = fh.read(limit + 1)
    if len(data) > limit:
        raise layer.fail(f"{shown or f'{what} {path.name!r}'} is larger than {limit} bytes")
    return data


def first_lines(layer: Layer, path: Path, what: str, count: int) -> str:
    """The first `count` lines of a regular text file (each at most `LINE_BYTES`), decoded as UTF-8
    with undecodable bytes kept as surrogates (they name files as bytes)."""
    lines = []
    with open_regular(layer, path, what) as fh:
        for k in range(count):
            line = fh.readline(LINE_BYTES + 1)
            if len(line) > LINE_BYTES:
                raise layer.fail(f"line {k + 1} of {what} '{path.name}' is longer than {LINE_BYTES} bytes "
                                 "(not a list of file names)")
            if not line:
                break
            lines.append(line)
    return b"".join(lines).decode("utf-8", errors="surrogateescape")


def lmdb_values(layer: Layer, path: Path, count: int, skip: int = 0) -> list[bytes]:
    """`count` values of an LMDB in key order after the first `skip` ones, wrapping to the first
    record as Caffe's cursor does; opened read-only without a lock file. A folder or a single-file LMDB."""
    import lmdb

    lmdb_path(layer, path)
    try:
        env = lmdb.open(str(path), readonly=True, lock=False, subdir=path.is_dir(), max_readers=1)
    except lmdb.Error as err:
        raise layer.fail(f"cannot open LMDB '{path.name}': {type(err).__name__}") from None
    out: list[bytes] = []
    try:
        with env.begin() as txn:
            cursor = txn.cursor()
            if not cursor.first():
                raise layer.fail(f"LMDB '{path.name}' is empty")
            records = txn.stat()["entries"]
            for _ in range(skip % records if records else 0):
                if not cursor.next():
                    cursor.first()
            while len(out) < count:
                out.append(bytes(cursor.value()))
                if not cursor.next():
                    cursor.first()
    except lmdb.Error as err:
        raise layer.fail(f"cannot read LMDB '{path.name}': {type(err).__name__}") from None
    finally:
        env.close()
    return out


def decode_image(layer: Layer, data: bytes, mode: str, what: str) -> np.ndarray:
    """An encoded image as OpenCV decodes it for Caffe: (H, W, C) uint8 in BGR(A) order.

    ``mode``: "color" (IMREAD_COLOR: 3 channels), "gray" (IMREAD_GRAYSCALE: 1 channel; a JPEG decodes
    straight to luma as libjpeg does), "native" (IMREAD_UNCHANGED: gray stays 1 channel, alpha kept as a
    4th channel). EXIF orientation is applied, as imread does. Decoding is Pillow's (libjpeg/libpng):
    values can differ from an OpenCV build by a JPEG decoder's rounding.
    """
    from PIL import Image, ImageOps, UnidentifiedImageError

    try:
        with Image.open(io.BytesIO(data)) as img:
            if mode == "gray" and img.format == "JPEG":
                img.draft("L", img.size)
            img = ImageOps.exif_transpose(img)
            img = _convert(layer, img, mode, what)
            array = np.asarray(img, dtype=np.uint8)
    except (UnidentifiedImageError, OSError, ValueError, SyntaxError, Image.DecompressionBombError):
        raise layer.fail(f"cannot decode {what} (not a readable image)") from None
    if array.ndim == 2:
        return array[:, :, None]
    if array.shape[2] == 3:
        return array[:, :, ::-1]
    return array[:, :, [2, 1, 0, 3]]


def _convert(layer: Layer, img: Any, mode: str, what: str) -> Any:
    if mode == "gray":
        return img.convert("L")
    if mode == "color":
        return img.convert("RGB")
    if img.mode in ("I;16", "I;16B", "I", "F"):
        raise layer.fail(f"{what} is not 8-bit (Caffe CHECKs unsigned byte images)")
    if img.mode in ("L", "1"):
        return img.convert("L")
    has_alpha = img.mode in ("RGBA", "LA", "PA") or "transparency" in img.info
    return img.convert("RGBA" if has_alpha else "RGB")


def _linear_taps(src: int, dst: int) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """cv::resize INTER_LINEAR along one axis: source taps and 11-bit fixed-point weights."""
    f = ((np.arange(dst, dtype=np.float64) + 0.5) * (src / dst) - 0.5).astype(np.float32)
    s = np.floor(f).astype(np.int64)
    f = f - s.astype(np.float32)
    edge = (s < 0) | (s >= src - 1)
    f[edge] = 0
    s = np.clip(s, 0, src - 1)
    w0 = np.rint((np.float32(1) - f) * np.float32(2048)).astype(np.int64)
    w1 = np.rint(f * np.float32(2048)).astype(np.int64)
    return s, np.minimum(s + 1, src - 1), w0, w1


def resize_linear(image: np.ndarray, height: int, width: int) -> np.ndarray:
    """OpenCV's ``cv::resize(src, dst, Size(width, height))`` (INTER_LINEAR) of an (H, W, C) uint8
    image: pixel-centre mapping, edge clamping, 11-bit weights, and the vertical pass rounded as
    OpenCV's SIMD code rounds it (``((S0>>4)*b0>>16) + ((S1>>4)*b1>>16) + 2 >> 2``). Checked equal to
    cv2.resize on downscales; upscales can differ by 1 on about 1% of the values."""
    if image.shape[:2] == (height, width):
        return image
    ys0, ys1, b0, b1 = _linear_taps(image.shape[0], height)
    xs0, xs1, a0, a1 = _linear_taps(image.shape[1], width)
    src = image.astype(np.int64)
    rows = src[:, xs0] * a0[None, :, None] + src[:, xs1] * a1[None, :, None]
    out = (((rows[ys0] >> 4) * b0[:, None, None] >> 16) + ((rows[ys1] >> 4) * b1[:, None, None] >> 16) + 2) >> 2
    return np.clip(out, 0, 255).astype(np.uint8)


class Transformer:
    """Caffe's DataTransformer for one layer: centre crop in TEST (random in TRAIN), random mirror when
    ``mirror`` is set (Caffe draws it in every phase), then ``(x - mean) * scale`` with the mean
    file's pixel at the same (uncropped) position, or one mean value per channel."""

    def __init__(self, layer: Layer, tp: Any, phase: str, base_dirs: list[Path]) -> None:
        self.layer, self.phase = layer, phase
        self.scale = float(tp.scale)
        self.mirror = bool(tp.mirror)
        self.crop = int(tp.crop_size)
        self.mean_values = [float(v) for v in tp.mean_value]
        self.mean: np.ndarray | None = None
        if tp.HasField("mean_file"):
            layer.check(not self.mean_values, "Cannot specify mean_file and mean_value at the same time")
            self.mean = self._mean_file(find(layer, base_dirs, tp.mean_file, "mean file"))

    def _mean_file(self, path: Path) -> np.ndarray:
        mean = mean_blob(self.layer, path)
        dims = (1,) * (4 - mean.ndim) + mean.shape if mean.ndim <= 4 else mean.shape
        self.layer.check(len(dims) == 4, f"mean file '{path.name}' is not a 4-axis blob ({list(mean.shape)})")
        return np.asarray(mean, dtype=np.float32).reshape(dims)[0]

    def __call__(self, items: list[np.ndarray], rng: np.random.Generator, dtype: Any) -> np.ndarray:
        """(N, C, h, w) from N (C, H, W) arrays (uint8 or float)."""
        shapes = {a.shape for a in items}
        if len(shapes) == 1:
            return self._batch(np.stack(items), rng, dtype)
        first = items[0].shape
        for k, a in enumerate(items):
            self.layer.check(a.shape[0] == first[0] and (self.crop or a.shape == first),
                             f"item {k} is {'x'.join(map(str, a.shape))}, the batch's first "
                             f"{'x'.join(map(str, first))} (Caffe shapes a batch by its first item)")
        return np.concatenate([self._batch(a[None], rng, dtype) for a in items])

    def _batch(self, data: np.ndarray, rng: np.random.Generator, dtype: Any) -> np.ndarray:
        n, c, h, w = data.shape
        self._check(c, h, w)
        mirror = rng.integers(0, 2, size=n).astype(bool) if self.mirror else np.zeros(n, bool)
        if self.crop and self.phase == "TRAIN":
            offsets = [(int(rng.integers(h - self.crop + 1)), int(rng.integers(w - self.crop + 1))) for _ in range(n)]
        else:
            offsets = [((h - self.crop) // 2, (w - self.crop) // 2)] * n if self.crop else [(0, 0)] * n
        out = np.stack([self._one(x, oh, ow, dtype) for x, (oh, ow) in zip(data, offsets, strict=True)]) \
            if len(set(offsets)) > 1 else self._one(data, *offsets[0], dtype)
        if mirror.any():
            out[mirror] = out[mirror][..., ::-1]
        return out

    def _check(self, c: int, h: int, w: int) -> None:
        self.layer.check(h >= self.crop and w >= self.crop, f"crop_size {self.crop} is larger than the {h}x{w} image")
        if self.mean is not None:
            self.layer.check(self.mean.shape == (c, h, w), f"the mean file is {'x'.join(map(str, self.mean.shape))}, "
                             f"the data {c}x{h}x{w} (Caffe CHECKs they are equal)")
        self.layer.check(len(self.mean_values) in (0, 1, c),
                         f"Specify either 1 mean_value or as many as channels: {c}")

    def _one(self, x: np.ndarray, oh: int, ow: int, dtype: Any) -> np.ndarray:
        """Crop at (oh, ow), subtract the mean, scale; in the run's float type, as Caffe's Dtype math."""
        t = np.dtype(dtype).type
        h, w = (self.crop, self.crop) if self.crop else x.shape[-2:]
        out = x[..., oh:oh + h, ow:ow + w].astype(dtype)
        if self.mean is not None:
            out -= self.mean[:, oh:oh + h, ow:ow + w].astype(dtype)
        elif self.mean_values:
            means = np.asarray(self.mean_values, dtype=dtype)
            out -= means[:, None, None] if len(means) > 1 else means[0]
        if self.scale != 1:
            out *= t(self.scale)
        return out


def image_list(text: str) -> list[tuple[str, int]]:
    """ImageData's list file as Caffe reads it: per line, the path is everything before the last space,
    the label its ``atoi`` after it (a line without a space is its own path and label)."""
    lines = text.split("\n")
    if lines and lines[-1] == "":
        lines.pop()
    out = []
    for line in lines:
        pos = line.rfind(" ")
        out.append((line[:pos] if pos >= 0 else line, _atoi(line[pos + 1:])))
    return out


def _atoi(text: str) -> int:
    m = re.match(r"\s*([+-]?\d+)", text)
    return int(m.group(1)) if m else 0


def load_image_input(layer_or_tp: Any, path: str | Path, shape: Shape, dtype: Any = np.float32,
                     base_dirs: list[Path] | None = None) -> np.ndarray:
    """One image file as the `shape` (N, C, H, W) array a layer's ``transform_param`` makes of it, for
    feeding an input (``caffecx run NET --input data=cat.jpg``). `layer_or_tp` is the source layer (its
    ``transform_param``, and ImageData's new_height/new_width) or a TransformationParameter.

    C = 3 decodes BGR as Caffe does, C = 1 gray. The image is resized (cv::resize INTER_LINEAR) to the
    layer's new_height x new_width, else the mean file's size, else (with crop_size) only when smaller
    than the crop, else to (H, W); then cropped in the centre, mean-subtracted and scaled as in TEST
    (no mirror), and repeated N times.
    """
    from caffecx.proto import caffe_pb2

    layer = layer_or_tp if isinstance(layer_or_tp, Layer) else Layer(caffe_pb2.LayerParameter(name="input"))
    tp = layer.lp.transform_param if isinstance(layer_or_tp, Layer) else layer_or_tp
    layer.check(len(shape) == 4 and shape[1] in (1, 3),
                f"an image feeds a (N, 1 or 3, H, W) blob, not {'x'.join(map(str, shape))}")
    image = decode_image(layer, read_file(layer, Path(path), "image"), "color" if shape[1] == 3 else "gray",
                         f"image '{Path(path).name}'")
    transform = Transformer(layer, tp, "TEST", list(base_dirs or [Path.cwd()]))
    transform.mirror = False
    ip = layer.lp.image_data_param
    if layer.lp.type == "ImageData" and ip.new_height > 0 and ip.new_width > 0:
        size = (int(ip.new_height), int(ip.new_width))
    elif transform.mean is not None:
        size = transform.mean.shape[1:]
    elif transform.crop:
        h, w = image.shape[:2]
        size = (h, w) if min(h, w) >= transform.crop else (max(h, transform.crop), max(w, transform.crop))
    else:
        size = tuple(shape[2:])
    chw = resize_linear(image, *size).transpose(2, 0, 1)
    out = transform([chw], np.random.default_rng(0), dtype)
    layer.check(out.shape[1:] == tuple(shape[1:]), f"the image gives {'x'.join(map(str, out.shape[1:]))}, "
                f"the blob needs {'x'.join(map(str, shape[1:]))}")
    return np.repeat(out, shape[0], axis=0)
