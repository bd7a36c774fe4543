"""Reading Caffe's files: text prototxt (nets and solvers), binary caffemodel / solverstate / binaryproto.

Every reader returns upgraded, current-format messages (see `caffecx.io.upgrade`) and raises a
located `CaffecxError` for bad input: ``file:line:col`` for malformed text, the file for corrupt
binaries, never a traceback from inside protobuf.
"""

from __future__ import annotations

import os
import re
import warnings
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
from google.protobuf import message as pb_message
from google.protobuf import text_format

from caffecx.errors import ParseError, UnknownFieldWarning, WeightsError
from caffecx.io import textscan
from caffecx.proto import caffe_pb2

Source = str | os.PathLike[str]

#: Top-level fields only a SolverParameter has (a file is a solver when it uses any of them).
_NET_ONLY = {"layer", "layers", "input", "input_dim", "input_shape", "force_backward", "name", "state"}


def _names_file(source: str) -> bool:
    try:
        return os.path.lexists(source)
    except (OSError, ValueError):
        return False


def _looks_like_text(source: Source) -> bool:
    """A str holding prototxt rather than naming a file: it has a newline, a brace or ``name: value``,
    and names no existing file (a file called ``a: b.prototxt`` is a path)."""
    return (isinstance(source, str) and ("\n" in source or "{" in source or ": " in source)
            and not _names_file(source))


def _check_source_type(source: object, what: str = "a path or prototxt text") -> None:
    if not isinstance(source, (str, os.PathLike)):
        raise TypeError(f"expected {what}, got {type(source).__name__}")


def read_source(source: Source) -> tuple[str, str | None]:
    """(text, path) of a prototxt given as a path or as the text itself (a str naming an existing
    file is a path). Bytes that are not UTF-8 are read as Caffe reads them (see `decode_text`)."""
    _check_source_type(source)
    if _looks_like_text(source):
        return str(source), None
    path = Path(source)
    if path.is_dir():
        raise ParseError("is a directory, not a prototxt file", path=str(path))
    if not path.exists():
        raise ParseError("no such file", path=str(path))
    if not path.is_file():
        raise ParseError("is not a regular file (a FIFO, socket or device is not read)", path=str(path))
    try:
        data = path.read_bytes()
    except OSError as err:
        raise ParseError(f"cannot read: {err.strerror}", path=str(path)) from None
    return decode_text(data, str(path)), str(path)


def decode_text(data: bytes, path: str | None = None) -> str:
    """Prototxt bytes as text. Caffe's parser reads bytes: comments may hold any bytes (Latin-1 and GBK
    comments are common in model-zoo files) and quoted strings keep theirs. So bytes that are not
    UTF-8 are blanked in comments and read as Latin-1 characters in strings (one character per byte:
    columns stay Caffe's); anywhere else they are a `ParseError` at their ``file:line:col``."""
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError:
        pass
    text = data.decode("utf-8", "surrogateescape")
    parts: list[str] = []
    for kind, start, end in textscan.iter_tokens(text):
        piece = text[start:end]
        if _UNDECODED.search(piece):
            if kind == "comment":
                piece = _UNDECODED.sub(" ", piece)
            elif kind == "string":
                piece = _UNDECODED.sub(lambda m: chr(ord(m.group()) - 0xDC00), piece)
            else:
                bad = start + _UNDECODED.search(piece).start()
                line, col = textscan.line_col(text, bad)
                byte = ord(text[bad]) - 0xDC00
                raise ParseError(f"byte 0x{byte:02X} is not UTF-8 text and stands outside a comment or a "
                                 "quoted string (binary .caffemodel files are read with read_caffemodel)",
                                 path=path, line=line, column=col)
        parts.append(piece)
    return "".join(parts)


#: The characters `surrogateescape` makes of undecodable bytes.
_UNDECODED = re.compile("[\udc80-\udcff]")


#: A glog line (``I0405 18:22:46.263157 13500 net.cpp:157] ...``, glog >= 0.6: ``I20261122 ...``) or a
#: shell's ``+ caffe train ...`` trace opening the text: a training log handed over as a prototxt.
_GLOG_START = re.compile(r"\A\s*(?:[IWEF]\d{4}(?:\d{4})? \d\d:\d\d:\d\d\.\d+ |Log file created at: )")


def _strip_error_prefix(msg: str) -> str:
    # protobuf formats "L:C : message" (sometimes with the offending line quoted); keep the message.
    head, sep, rest = msg.partition(" : ")
    if sep and head.replace(":", "").isdigit():
        msg = rest
        if msg.startswith("'") and "': " in msg:
            msg = msg.split("': ", 1)[1]
    return msg.rstrip(".")


def parse_text(
    text: str, message: pb_message.Message, *, path: str | None = None, strict: bool = False
) -> list[str]:
    """Parse protobuf text into `message`; return the warnings for skipped unknown fields.

    A field that no schema caffecx knows (a fork's private extension) is skipped and reported as
    ``file:line:col: unknown field 'x' in caffe.LayerParameter (skipped)``; with ``strict`` it is an
    error. Anything else malformed raises `ParseError` located at Caffe's line and column.
    """
    if _GLOG_START.match(text):
        raise ParseError("this is a Caffe log, not a prototxt: read it with `caffecx log`, or check it "
                         "against a net with `caffecx check [NET] LOG`", path=path, line=1, column=1)
    skipped: list[str] = []
    while True:
        try:
            text_format.Parse(text, message, allow_unknown_extension=False)
            return skipped
        except text_format.ParseError as err:
            line, col = err.GetLine(), err.GetColumn()
            msg = _strip_error_prefix(str(err))
            if line is None or col is None or "has no field named" not in msg or strict:
                raise ParseError(msg, path=path, line=line, column=col) from None
            start = textscan.offset_of(text, line, col)
            end = textscan.field_extent(text, start)
            if end <= start:
                raise ParseError(msg, path=path, line=line, column=col) from None
            name = msg.split('no field named "', 1)[-1].rstrip('"')
            owner = msg.split('"', 2)[1] if msg.count('"') >= 2 else "message"
            where = f"{path or '<text>'}:{line}:{col}"
            note = f"{where}: unknown field '{name}' in {owner} (skipped)"
            skipped.append(note)
            warnings.warn(note, UnknownFieldWarning, stacklevel=2)
            text = textscan.blank(text, start, end)
            message.Clear()


#: Where a layer stands in its file: (layer name, line, column) of its ``layer {`` keyword.
LayerPosition = tuple[str, int, int]


def _layer_lines(text: str, parent: str = "") -> list[LayerPosition]:
    """(layer name, line, column) of each `layer {` / `layers {` block of a net, in file order;
    ``parent`` names a solver's inline net block (``net_param``) whose layers are wanted instead."""
    _, blocks = textscan.outline(text)
    return [(b.name, b.line, b.column) for b in blocks
            if b.field in ("layer", "layers") and b.parent == parent]


def is_solver_text(text: str) -> bool:
    """True when the text is a SolverParameter: judged by its top-level field names, not the file name."""
    names = set(textscan.outline(text)[0])
    solver_fields = set(caffe_pb2.SolverParameter.DESCRIPTOR.fields_by_name)
    return bool(names & (solver_fields - _NET_ONLY)) and not names & {"layer", "layers"}


@dataclass
class NetText:
    """A net read from text: the upgraded NetParameter, and where each layer stood in the file."""

    param: Any
    path: str | None
    layer_lines: list[LayerPosition] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)


def read_net_text(source: Source, *, strict: bool = False, phase: str | None = None,
                  _solvers: tuple[str, ...] = ()) -> NetText:
    """Read a net prototxt (path or text), upgraded to the current format as Caffe's reader does.

    A solver file given here yields its net (``net_param`` / ``train_net_param``, or the file it names);
    for ``phase="TEST"``, its first separate test net (``test_net_param`` / ``test_net``) when it has one,
    as Caffe's solver builds test net #0.
    """
    from caffecx.io.upgrade import upgrade_net

    text, path = read_source(source)
    if is_solver_text(text):
        solver = read_solver(source, strict=strict, _solvers=_solvers)
        if phase == "TEST" and solver.test_net is not None:
            return solver.test_net
        if solver.net is None:
            why = solver.notes[-1] if solver.notes else "it names no net (net, train_net, net_param, train_net_param)"
            raise ParseError(f"cannot read the solver's net: {why}", path=path)
        return solver.net
    net = caffe_pb2.NetParameter()
    skipped = parse_text(text, net, path=path, strict=strict)
    lines = _layer_lines(text)
    upgraded, notes = _upgrade(upgrade_net, net, path)
    return NetText(upgraded, path, lines, list(notes), skipped)


#: Bytes no prototxt holds (control characters other than whitespace): a binary protobuf file has them.
_BINARY_BYTES = re.compile(rb"[\x00-\x08\x0e-\x19\x1c-\x1f]")


def is_binary_model(source: Source) -> bool:
    """True when `source` names a binary protobuf file (a .caffemodel) rather than prototxt text:
    by its suffix, else by a control byte (NUL, ...) in its first 4 KB. Bytes that are merely not UTF-8
    (a Latin-1 or GBK comment) do not make a file binary."""
    if not isinstance(source, (str, os.PathLike)) or _looks_like_text(source):
        return False
    path = Path(source)
    if not path.is_file():
        return False
    if path.suffix.lower() in (".caffemodel", ".binaryproto", ".solverstate"):
        return True
    try:
        with open(path, "rb") as f:
            head = f.read(4096)
    except OSError:
        return False
    return _BINARY_BYTES.search(head) is not None


def read_net_model(source: Source) -> tuple[NetText, Any]:
    """The net stored in a binary .caffemodel (Caffe saves the whole NetParameter: layers, their
    params and rules, and the blobs): (the structure without blobs, the model with them)."""
    try:
        model = read_caffemodel(source)
    except ParseError as err:
        if Path(source).suffix.lower() == ".caffemodel":
            raise
        raise ParseError(f"neither prototxt text nor a readable .caffemodel ({err.message})",
                         path=str(source)) from None
    structure = caffe_pb2.NetParameter()
    structure.CopyFrom(model)
    for layer in structure.layer:
        del layer.blobs[:]
    notes = ["the net is the one stored in the weights file (as Caffe saved it after training)"]
    return NetText(structure, str(source), [], notes, []), model


def _upgrade(fn: Any, msg: Any, path: str | None) -> tuple[Any, list[str]]:
    from caffecx.errors import CaffecxError

    try:
        out, notes = fn(msg, os.path.basename(path) if path else "")
    except CaffecxError as err:
        raise err.with_location(path=path) from None
    return out, list(notes)


@dataclass
class Solver:
    """A solver file: its upgraded SolverParameter and the train net it names (resolved and read)."""

    param: Any
    path: str | None
    net: NetText | None
    net_path: str | None
    notes: list[str] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)
    #: test net #0 when the solver names one apart from its train net (``test_net_param`` / ``test_net``)
    test_net: NetText | None = None


def resolve_relative(name: str, relative_to: str | None) -> Path | None:
    """Caffe opens paths relative to the cwd; we also try the referring file's folder."""
    p = Path(name)
    if p.is_absolute():
        return p if p.exists() else None
    candidates = [Path.cwd() / p]
    if relative_to:
        candidates.append(Path(relative_to).resolve().parent / p)
    return next((c for c in candidates if c.exists()), None)


#: How many solvers may name one another in a chain (a solver whose net: is a solver, ...).
MAX_SOLVER_CHAIN = 16


def _enter_solver(path: str | None, chain: tuple[str, ...]) -> tuple[str, ...]:
    """`chain` (the solver files being read, outermost first) with `path` added; a solver met again is a
    cycle, refused naming the files (Caffe would read them forever)."""
    if path is None:
        return chain
    key = os.path.realpath(path)
    if key in chain or len(chain) >= MAX_SOLVER_CHAIN:
        names = [os.path.relpath(p) if not os.path.relpath(p).startswith("..") else p for p in (*chain, key)]
        why = "a cycle" if key in chain else f"more than {MAX_SOLVER_CHAIN} solvers deep"
        raise ParseError(f"the solvers' net:/train_net:/test_net: files form {why}: {' -> '.join(names)}",
                         path=chain[-1] if chain else path)
    return (*chain, key)


def read_solver(source: Source, *, strict: bool = False, _solvers: tuple[str, ...] = ()) -> Solver:
    """Read a solver prototxt, upgrade it (``solver_type`` enum → ``type``) and read its train net.

    ``net:`` / ``train_net:`` resolve against the cwd, then the solver's folder. Solvers that name one
    another in a cycle are refused (`ParseError` naming the files).
    """
    from caffecx.io.upgrade import upgrade_net, upgrade_solver

    text, path = read_source(source)
    chain = _enter_solver(path, _solvers)
    solver = caffe_pb2.SolverParameter()
    skipped = parse_text(text, solver, path=path, strict=strict)
    solver, notes = _upgrade(upgrade_solver, solver, path)
    net: NetText | None = None
    net_path: str | None = None
    if solver.HasField("net_param") or solver.HasField("train_net_param"):
        block = "net_param" if solver.HasField("net_param") else "train_net_param"
        upgraded, net_notes = _upgrade(upgrade_net, getattr(solver, block), path)
        net = NetText(upgraded, path, _layer_lines(text, block), net_notes, [])
    elif solver.net or solver.train_net:
        name = solver.net or solver.train_net
        resolved = resolve_relative(name, path)
        if resolved is None:
            notes.append(f"the solver's net file '{name}' was not found (tried the cwd and the solver's folder)")
        else:
            net_path = str(resolved)
            net = read_net_text(resolved, strict=strict, _solvers=chain)
    test_net: NetText | None = None
    if len(solver.test_net_param):
        upgraded, test_notes = _upgrade(upgrade_net, solver.test_net_param[0], path)
        test_net = NetText(upgraded, path, _layer_lines(text, "test_net_param"), test_notes, [])
    elif len(solver.test_net):
        resolved = resolve_relative(solver.test_net[0], path)
        if resolved is None:
            notes.append(f"the solver's test net file '{solver.test_net[0]}' was not found "
                         "(tried the cwd and the solver's folder)")
        else:
            test_net = read_net_text(resolved, strict=strict, phase="TEST", _solvers=chain)
    return Solver(solver, path, net, net_path, notes, skipped, test_net)


# -- binary files ----------------------------------------------------------------------------------

def _read_bytes(path: Source) -> tuple[bytes, str]:
    _check_source_type(path, "a path (str or os.PathLike)")
    p = Path(path)
    if p.is_dir():
        raise ParseError("is a directory, not a file", path=str(p))
    if not p.exists():
        raise ParseError("no such file", path=str(p))
    if not p.is_file():
        raise ParseError("is not a regular file (a FIFO, socket or device is not read)", path=str(p))
    try:
        return p.read_bytes(), str(p)
    except OSError as err:
        raise ParseError(f"cannot read: {err.strerror}", path=str(p)) from None


def parse_binary(data: bytes, message: pb_message.Message, *, path: str | None = None, what: str = "") -> None:
    """Decode binary protobuf into `message`, turning protobuf's DecodeError into a located ParseError."""
    try:
        message.ParseFromString(data)
    except (pb_message.DecodeError, RuntimeError, ValueError) as err:
        raise ParseError(
            f"corrupt or truncated {what or message.DESCRIPTOR.name} ({len(data)} bytes): {err}", path=path
        ) from None


def read_caffemodel(path: Source) -> Any:
    """Read a binary .caffemodel as an upgraded NetParameter (V0/V1 weight files upgrade too).

    Each blob's data length is checked against its shape, so a file truncated at a field boundary
    (which protobuf would accept silently) is reported rather than loaded short.
    """
    from caffecx.io.upgrade import upgrade_net

    data, spath = _read_bytes(path)
    net = caffe_pb2.NetParameter()
    parse_binary(data, net, path=spath, what="caffemodel")
    if not (len(net.layer) or len(net.layers)) and len(data):
        raise ParseError("not a caffemodel: no layers decoded", path=spath)
    net, _ = _upgrade(upgrade_net, net, spath)
    for layer in net.layer:
        for i, blob in enumerate(layer.blobs):
            try:
                _check_blob(blob)
            except WeightsError as err:
                raise WeightsError(f"blob {i}: {err.message}", path=spath, layer=layer.name) from None
    return net


def blob_shape(blob: Any) -> tuple[int, ...]:
    """A BlobProto's shape, as Caffe's Blob::FromProto reads it: the legacy num/channels/height/width
    when any is set, else the `shape` field (no dims at all = a 0-axis blob of one element)."""
    if any(blob.HasField(f) for f in ("num", "channels", "height", "width")):
        return (blob.num, blob.channels, blob.height, blob.width)
    return tuple(int(d) for d in blob.shape.dim)


def _check_blob(blob: Any) -> tuple[tuple[int, ...], int]:
    """(shape, element count) of a BlobProto that Caffe's Blob::FromProto would accept, else
    `WeightsError` with Caffe's reason (negative, too many or int-overflowing dims; data length)."""
    from caffecx.limits import blob_shape_problem

    shape = blob_shape(blob)
    problem = blob_shape_problem(shape, proto=not blob.HasField("num"))
    if problem is not None:
        raise WeightsError(f"the blob's shape {list(shape)} is refused by Caffe: {problem}")
    n = 1
    for d in shape:
        n *= d
    size = len(blob.double_data) or len(blob.data)
    if size != n:
        field_name = "double_data" if len(blob.double_data) else "data"
        raise WeightsError(f"blob data has {size} values but its shape {list(shape)} holds {n} "
                           f"(Check failed: count_ == proto.{field_name}_size() ({n} vs. {size}))")
    return shape, n


def blob_to_array(blob: Any) -> np.ndarray:
    """A BlobProto's data as a numpy array of its shape (float32, or float64 for double_data)."""
    if not isinstance(blob, caffe_pb2.BlobProto):
        raise TypeError(f"expected a caffe_pb2.BlobProto, got {type(blob).__name__}")
    shape, _ = _check_blob(blob)
    if len(blob.double_data):
        arr = np.asarray(blob.double_data, dtype=np.float64)
    else:
        arr = np.asarray(blob.data, dtype=np.float32)
    return arr.reshape(shape)


def array_to_blob(arr: np.ndarray, *, legacy: bool = False) -> Any:
    """A numpy array as a BlobProto (float32 `data`, float64 `double_data`)."""
    blob = caffe_pb2.BlobProto()
    a = np.asarray(arr)
    if legacy and a.ndim <= 4:
        dims = (1,) * (4 - a.ndim) + a.shape
        blob.num, blob.channels, blob.height, blob.width = (int(d) for d in dims)
    else:
        blob.shape.dim.extend(int(d) for d in a.shape)
    if a.dtype == np.float64:
        blob.double_data.extend(a.ravel().tolist())
    else:
        blob.data.extend(a.astype(np.float32).ravel().tolist())
    return blob


def read_blobproto(path: Source) -> np.ndarray:
    """Read a .binaryproto (e.g. a mean file) as a numpy array."""
    data, spath = _read_bytes(path)
    blob = caffe_pb2.BlobProto()
    parse_binary(data, blob, path=spath, what="binaryproto")
    try:
        return blob_to_array(blob)
    except WeightsError as err:
        raise err.with_location(path=spath) from None


def read_solverstate(path: Source) -> Any:
    """Read a binary .solverstate as a SolverState message."""
    data, spath = _read_bytes(path)
    state = caffe_pb2.SolverState()
    parse_binary(data, state, path=spath, what="solverstate")
    return state
