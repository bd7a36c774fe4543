"""What data-reading layers share: finding their source, reading one record's size, the transform.

Caffe's data layers learn their top shape by reading the first record of their source (an LMDB
Datum, an image, an HDF5 dataset) and applying the DataTransformer's crop. When the source is absent
here, the shape comes from a hint (``--input-shape TOP=N,C,H,W``, or the shapes a log printed); the
hint for the first top wins over everything, and labels follow its batch size.
"""

from __future__ import annotations

import struct
from pathlib import Path
from typing import Any

from caffecx.layers.base import Context, Layer, Shape

_BATCH_PARAMS = ("data_param", "image_data_param", "hdf5_data_param", "window_data_param", "memory_data_param")


def batch_size(lp: Any) -> int | None:
    """The batch size a data layer's parameters state (``data_param.batch_size`` and its kin), if any."""
    return next((int(getattr(lp, f).batch_size) for f in _BATCH_PARAMS
                 if lp.HasField(f) and getattr(getattr(lp, f), "batch_size", 0)), None)


def shape_hint(layer: Layer) -> str:
    """``--input-shape TOP=N,C,H,W`` with what the prototxt already says filled in (batch size, crop)."""
    lp = layer.lp
    top = lp.top[0] if len(lp.top) else "data"
    batch = batch_size(lp)
    n = "N" if batch is None else str(batch)
    tp = lp.transform_param
    crop = int(tp.crop_size) if lp.HasField("transform_param") else 0
    hw = f"{crop},{crop}" if crop else "H,W"
    known = [w for w, ok in (("N is its batch_size", n != "N"), ("H,W its crop_size", bool(crop))) if ok]
    return f"--input-shape {top}={n},C,{hw}" + (f" ({', '.join(known)})" if known else "")


def missing_source(layer: Layer, source: str, why: str = "not found") -> Exception:
    return layer.fail(f"data source '{source}' {why} (looked in the cwd and the prototxt's folder); "
                      f"pass {shape_hint(layer)}")


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
        channels = {0: 1, 2: 3, 3: 3, 4: 1, 6: 3}.get(color_type, 3)
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
                return data[i + 9], height, width
            i += 2 + length
    return None


def first_lmdb_value(path: Path) -> bytes | None:
    """The first value of an LMDB environment, opened read-only without a lock file."""
    import lmdb

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
        return size
    return int(datum.channels), int(datum.height), int(datum.width)


def resolve(layer: Layer, ctx: Context, source: str) -> Path:
    if not source:
        raise layer.fail(f"the data layer names no source; pass {shape_hint(layer)}")
    path = ctx.resolve(source)
    if path is None:
        raise missing_source(layer, source)
    return path
