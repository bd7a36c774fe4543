"""Caffe's own limits on blobs, checked where Caffe checks them (``Blob::Reshape``).

A blob has at most ``kMaxBlobAxes`` (32) axes, no negative dimension, at most ``INT_MAX`` elements,
and each dimension is a C ``int``. Caffe stops with a fatal ``Check failed: ...``; caffecx raises a
`ShapeError` with the same reason, which the plan locates at the layer (`check_blob_shapes`).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence

from caffecx.errors import ShapeError

INT_MAX = 2**31 - 1
INT_MIN = -(2**31)
MAX_BLOB_AXES = 32  # kMaxBlobAxes, include/caffe/blob.hpp


def blob_shape_problem(shape: Sequence[int], *, proto: bool = False) -> str | None:
    """Why Caffe's ``Blob::Reshape`` refuses `shape` (its CHECK's text), or None when it accepts it.

    ``proto`` words the axes check as ``Reshape(const BlobShape&)`` does (a shape read from a file)."""
    if len(shape) > MAX_BLOB_AXES:
        what = "shape.dim_size()" if proto else "shape.size()"
        return f"Check failed: {what} <= kMaxBlobAxes ({len(shape)} vs. {MAX_BLOB_AXES})"
    count = 1
    for dim in shape:
        dim = int(dim)
        if dim > INT_MAX or dim < INT_MIN:
            return f"dimension {dim} does not fit Caffe's int (Blob::Reshape takes int dimensions)"
        if dim < 0:
            return f"Check failed: shape[i] >= 0 ({dim} vs. 0)"
        if count != 0 and dim > INT_MAX // count:
            return (f"Check failed: shape[i] <= 2147483647 / count_ ({dim} vs. {INT_MAX // count}) "
                    "blob size exceeds INT_MAX")
        count *= dim
    return None


def check_blob_shape(shape: Sequence[int], what: str = "blob", *, proto: bool = False) -> None:
    """Raise `ShapeError` (Caffe's reason, naming `what`) when Caffe would refuse a blob of `shape`."""
    problem = blob_shape_problem(shape, proto=proto)
    if problem is not None:
        dims = " ".join(str(int(d)) for d in shape[: MAX_BLOB_AXES + 1])
        raise ShapeError(f"{what} of shape [{dims}{' ...' if len(shape) > MAX_BLOB_AXES + 1 else ''}]: {problem}")


def check_blob_shapes(tops: Iterable[str], shapes: Iterable[Sequence[int]], params: Iterable[Sequence[int]] = ()
                      ) -> None:
    """Every top blob (by name) and parameter blob of one layer set up, as Caffe reshapes them."""
    for name, shape in zip(tops, shapes, strict=False):
        check_blob_shape(shape, f"top '{name}'")
    for i, shape in enumerate(params):
        check_blob_shape(shape, f"parameter blob {i}")
