"""Reading, upgrading and writing Caffe's files.

>>> from caffecx.io import read_net_text, read_caffemodel, read_solver, to_text
"""

from caffecx.io.reader import (
    NetText,
    Solver,
    array_to_blob,
    blob_shape,
    blob_to_array,
    is_solver_text,
    parse_text,
    read_blobproto,
    read_caffemodel,
    read_net_text,
    read_solver,
    read_solverstate,
    read_source,
)
from caffecx.io.writer import to_text, write_atomic, write_caffemodel, write_prototxt

__all__ = [
    "NetText",
    "Solver",
    "array_to_blob",
    "blob_shape",
    "blob_to_array",
    "is_solver_text",
    "parse_text",
    "read_blobproto",
    "read_caffemodel",
    "read_net_text",
    "read_solver",
    "read_solverstate",
    "read_source",
    "to_text",
    "write_atomic",
    "write_caffemodel",
    "write_prototxt",
]
