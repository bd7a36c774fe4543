"""Errors are values with a location: file, line, column and layer name.

Nothing in the library prints or exits; the CLI formats a `CaffecxError` as
``path:line:col: layer 'conv2': message`` and exits with status 2.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Location:
    """Where a problem is: any part may be unknown (None)."""

    path: str | None = None
    line: int | None = None
    column: int | None = None
    layer: str | None = None

    def prefix(self) -> str:
        parts = []
        if self.path:
            pos = self.path
            if self.line is not None:
                pos += f":{self.line}"
                if self.column is not None:
                    pos += f":{self.column}"
            parts.append(pos)
        if self.layer:
            parts.append(f"layer '{self.layer}'")
        return ": ".join(parts)


class CaffecxError(Exception):
    """Base class of every error caffecx raises on bad input."""

    def __init__(
        self,
        message: str,
        *,
        path: str | None = None,
        line: int | None = None,
        column: int | None = None,
        layer: str | None = None,
    ) -> None:
        super().__init__(message)
        self.message = message
        self.location = Location(None if path is None else str(path), line, column, layer)

    def with_location(self, **kw: object) -> CaffecxError:
        """Return a copy of this error with the given location parts filled in where unknown."""
        loc = self.location
        merged = {
            "path": loc.path if loc.path is not None else kw.get("path"),
            "line": loc.line if loc.line is not None else kw.get("line"),
            "column": loc.column if loc.column is not None else kw.get("column"),
            "layer": loc.layer if loc.layer is not None else kw.get("layer"),
        }
        err = type(self).__new__(type(self))
        CaffecxError.__init__(err, self.message, **merged)  # type: ignore[arg-type]
        return err

    def __str__(self) -> str:
        prefix = self.location.prefix()
        return f"{prefix}: {self.message}" if prefix else self.message


class ParseError(CaffecxError):
    """Malformed text (prototxt, solver) or a corrupt binary file."""


class UpgradeError(CaffecxError):
    """A legacy definition that Caffe's upgrade rules cannot convert."""


class GraphError(CaffecxError):
    """A net that Caffe would refuse to build: unknown bottom, duplicate top, ..."""


class FilteredBlobError(GraphError):
    """A bottom made only by layers that the NetState's include/exclude rules leave out (a train-only
    data layer read in TEST): the net may be complete in another phase or stage."""


class ShapeError(CaffecxError):
    """A layer whose bottoms do not fit its shape rule (Caffe's CHECK failures at Reshape)."""


class WeightsError(CaffecxError):
    """Weights that do not match the net (missing layer, wrong blob count or shape)."""


class UnknownFieldWarning(UserWarning):
    """A prototxt field that no schema caffecx knows defines; it was skipped."""
