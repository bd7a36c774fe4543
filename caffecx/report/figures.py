"""Deterministic matplotlib output: the same figure gives the same SVG/PNG bytes on every run.

SVG: ``svg.hashsalt`` fixed (element ids), no ``Date`` metadata, text as paths in DejaVu Sans (the font
matplotlib ships, so no system font is picked). PNG: no ``Software`` metadata.
"""

from __future__ import annotations

import base64
import io
from collections.abc import Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:  # pragma: no cover
    from matplotlib.figure import Figure

STYLE: dict[str, Any] = {
    "svg.hashsalt": "caffecx",
    "svg.fonttype": "path",
    "font.family": "DejaVu Sans",
    "font.size": 9,
    "axes.titlesize": 10,
    "path.simplify": False,
}


@contextmanager
def style() -> Iterator[None]:
    """The rc settings every report figure is drawn and saved under."""
    import matplotlib

    with matplotlib.rc_context(STYLE):
        yield


def new_figure(width: float, height: float) -> Figure:
    """A pyplot-free figure with an Agg canvas."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    fig = Figure(figsize=(width, height), dpi=100)
    FigureCanvasAgg(fig)
    return fig


def figure_bytes(fig: Figure, fmt: str = "svg") -> bytes:
    """`fig` saved in format ``fmt`` (svg, png, pdf, eps, ps) as bytes, deterministically (no date, no
    software stamp, a fixed SVG id salt)."""
    buf = io.BytesIO()
    meta = {"Date": None} if fmt in ("svg", "pdf") else {"Software": None} if fmt == "png" else None
    with style():
        fig.savefig(buf, format=fmt, metadata=meta, bbox_inches="tight", dpi=100)
    return buf.getvalue()


def data_uri(data: bytes, mime: str = "image/svg+xml") -> str:
    return f"data:{mime};base64,{base64.b64encode(data).decode('ascii')}"
