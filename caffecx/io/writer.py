"""Writing Caffe's files: prototxt text and binary caffemodel, never leaving a partial file behind."""

from __future__ import annotations

import os
import tempfile
from pathlib import Path
from typing import Any

from google.protobuf import text_format

from caffecx.errors import CaffecxError


def to_text(message: Any) -> str:
    """Protobuf text in Caffe's layout (two-space indent, fields in schema order); parses back equal."""
    return text_format.MessageToString(message, as_utf8=True)


def write_atomic(path: str | os.PathLike[str], data: bytes) -> None:
    """Write `data` to `path` through a temporary file in the same folder, renamed into place.

    The file gets the mode a plain ``open(path, "w")`` would give it (an existing file's mode, else
    0666 less the umask), not the temporary file's private 0600."""
    target = Path(path)
    folder = target.parent if str(target.parent) else Path(".")
    if not folder.is_dir():
        raise CaffecxError("the output folder does not exist", path=str(folder))
    fd, tmp = tempfile.mkstemp(prefix=f".{target.name}.", dir=folder)
    try:
        with os.fdopen(fd, "wb") as fh:
            fh.write(data)
        os.chmod(tmp, _mode_for(target))
        os.replace(tmp, target)
    except OSError as err:
        Path(tmp).unlink(missing_ok=True)
        raise CaffecxError(f"cannot write: {err.strerror}", path=str(target)) from None


def _mode_for(target: Path) -> int:
    try:
        return target.stat().st_mode & 0o7777
    except OSError:
        mask = os.umask(0)
        os.umask(mask)
        return 0o666 & ~mask


def write_prototxt(message: Any, path: str | os.PathLike[str]) -> None:
    """Write a NetParameter / SolverParameter as prototxt text."""
    write_atomic(path, to_text(message).encode("utf-8"))


def write_caffemodel(net_param: Any, path: str | os.PathLike[str]) -> None:
    """Write a NetParameter (with blobs) as a binary .caffemodel."""
    write_atomic(path, net_param.SerializeToString())
