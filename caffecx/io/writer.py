"""Writing Caffe's files: prototxt text and binary caffemodel, never leaving a partial file behind."""

from __future__ import annotations

import os
from typing import Any

from google.protobuf import text_format


def to_text(message: Any) -> str:
    """Protobuf text in Caffe's layout (two-space indent, fields in schema order); parses back equal."""
    return text_format.MessageToString(message, as_utf8=True)


def write_atomic(path: str | os.PathLike[str], data: bytes, *, suffixes: tuple[str, ...] | None = None) -> None:
    """Write `data` to `path` whole or not at all (`caffecx.io.outputs`): through a temporary folder
    beside it, renamed into place. The folder must exist; a bad target is a located `CaffecxError`.

    The file gets the mode a plain ``open(path, "w")`` would give it (an existing file's mode, else
    0666 less the umask), not a temporary file's private 0600."""
    from caffecx.io.outputs import Outputs

    with Outputs() as out:
        out.add(path, data, suffixes=suffixes)


def write_prototxt(message: Any, path: str | os.PathLike[str]) -> None:
    """Write a NetParameter / SolverParameter as prototxt text."""
    write_atomic(path, to_text(message).encode("utf-8"))


def write_caffemodel(net_param: Any, path: str | os.PathLike[str]) -> None:
    """Write a NetParameter (with blobs) as a binary .caffemodel."""
    write_atomic(path, net_param.SerializeToString())


# -- caffemodel from arrays -------------------------------------------------------------------------
# Blobs are encoded directly (packed float32, as Caffe's Blob<float>::ToProto writes them): building
# them through protobuf's repeated fields costs seconds per ten million values.

def _varint(value: int) -> bytes:
    out = bytearray()
    while True:
        byte = value & 0x7F
        value >>= 7
        if value:
            out.append(byte | 0x80)
        else:
            out.append(byte)
            return bytes(out)


def _field(number: int, payload: bytes) -> bytes:
    """One length-delimited protobuf field (wire type 2)."""
    return _varint(number << 3 | 2) + _varint(len(payload)) + payload


def blob_bytes(array: Any) -> bytes:
    """A serialized BlobProto: ``shape { dim ... }`` then packed float32 ``data`` (Blob::ToProto)."""
    import numpy as np

    a = np.asarray(array)
    shape = b"".join(_varint(int(d)) for d in a.shape)
    data = np.ascontiguousarray(a, dtype="<f4").tobytes()
    return _field(7, _field(1, shape) if a.ndim else b"") + (_field(5, data) if data else b"")


def layer_bytes(layer_param: Any, blobs: list[Any], phase: int | None = None) -> bytes:
    """A serialized LayerParameter: `layer_param` (its own blobs dropped; ``phase`` set when unset, as
    Net::Init does) followed by `blobs` as its ``blobs`` field."""
    lp = type(layer_param)()
    lp.CopyFrom(layer_param)
    lp.ClearField("blobs")
    if phase is not None and not lp.HasField("phase"):
        lp.phase = phase
    return lp.SerializeToString() + b"".join(_field(7, blob_bytes(b)) for b in blobs)


def caffemodel_bytes(name: str, layers: list[tuple[Any, list[Any]]], phase: int | None = None) -> bytes:
    """A binary NetParameter as Caffe's ``Net::ToProto`` writes it: the net's name, then every layer
    (``(LayerParameter, [arrays])`` pairs, in the net's order) with its blobs."""
    head = _field(1, name.encode("utf-8")) if name else b""
    return head + b"".join(_field(100, layer_bytes(lp, blobs, phase)) for lp, blobs in layers)
