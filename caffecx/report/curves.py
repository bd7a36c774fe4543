"""Training curves of one or several Caffe logs on one figure (matplotlib, no pyplot state).

Small multiples a reader takes in at a glance: one row for the displayed training loss (``Iteration N,
loss = x``), one row per test output (each on an axis of its own scale: an accuracy of 0-1 is not
flattened under a loss of 7), one row for the learning rate; against iterations (left) and time since
the start (right; in minutes or hours for long runs). One log: each row its own colour, the log's name
once in the title. Several logs: one colour per log, named once in the figure's legend; several test nets
of one log differ by line style.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from caffecx.logs.tables import TEST_FIXED, CaffeLog
from caffecx.report.figures import figure_bytes

if TYPE_CHECKING:  # pragma: no cover
    from matplotlib.figure import Figure

_STYLES = ["-", "--", ":", "-."]
_TIME_UNITS = ((3 * 3600, 3600.0, "hours"), (300, 60.0, "minutes"), (0, 1.0, "seconds"))


def _label(log: CaffeLog, i: int, labels: Sequence[str] | None) -> str:
    if labels is not None and i < len(labels):
        return labels[i]
    return Path(log.path).name if log.path else f"log {i}"


#: The suffixes `plot_logs` writes (matplotlib's formats that need nothing beyond matplotlib itself).
PLOT_SUFFIXES = (".png", ".svg", ".pdf", ".eps", ".ps")

#: At most this many points are drawn per curve (`decimate` keeps each bucket's min and max).
MAX_POINTS = 4000


def plot_logs(logs: Sequence[CaffeLog], path: str | Path, labels: Sequence[str] | None = None,
              dpi: int = 100) -> Path:
    """Draw the curves of ``logs`` and save them as ``path`` (its suffix one of `PLOT_SUFFIXES`),
    written whole or not at all. The target is checked before anything is drawn: an unknown suffix
    or a folder that cannot be written is a located `CaffecxError`. Returns the path written."""
    from caffecx.io.outputs import check_target, write_outputs

    out = check_target(path, suffixes=PLOT_SUFFIXES, make_parents=True, what="plot")
    data = figure_bytes(curves_figure(logs, labels, dpi), out.suffix.lstrip(".").lower())
    write_outputs({out: data}, make_parents=True)
    return out


def decimate(x: np.ndarray, y: np.ndarray, max_points: int = MAX_POINTS) -> tuple[np.ndarray, np.ndarray]:
    """At most about ``max_points`` of the points ``(x, y)``, in their order: the points are cut into
    ``(max_points - 2) // 2`` buckets of consecutive points and each bucket keeps its lowest and highest
    ``y`` (so a spike of one point stays), plus the first and last point. Shorter curves are returned
    as they are."""
    n = len(y)
    if n <= max_points:
        return x, y
    buckets = max(1, (max_points - 2) // 2)  # 2 points per bucket + the first and last: <= max_points
    size = -(-n // buckets)  # ceil
    full = n // size
    keep = [np.array([0, n - 1])]
    if full:
        block = y[:full * size].reshape(full, size)
        base = np.arange(full) * size
        keep += [base + np.argmin(block, axis=1), base + np.argmax(block, axis=1)]
    if full * size < n:
        tail = y[full * size:]
        keep.append(full * size + np.array([np.argmin(tail), np.argmax(tail)]))
    idx = np.unique(np.concatenate(keep))
    return x[idx], y[idx]


def test_outputs(logs: Sequence[CaffeLog]) -> list[str]:
    """Every test output column of the logs, in order of first appearance."""
    seen: dict[str, None] = {}
    for log in logs:
        for c in log.test.columns:
            if c not in TEST_FIXED:
                seen.setdefault(c)
    return list(seen)


def _time_unit(logs: Sequence[CaffeLog]) -> tuple[float, str]:
    longest = 0.0
    for log in logs:
        for frame in (log.train, log.test):
            if len(frame) and "seconds" in frame:
                s = frame["seconds"].to_numpy(dtype=float, na_value=np.nan)
                if np.isfinite(s).any():
                    longest = max(longest, float(np.nanmax(s)))
    return next((div, name) for limit, div, name in _TIME_UNITS if longest > limit)


def curves_figure(logs: Sequence[CaffeLog], labels: Sequence[str] | None = None, dpi: int = 100) -> Figure:
    """The figure `plot_logs` saves: axes ``[row, col]``, rows training loss / each test output / lr,
    columns iterations / time. Loss-like rows and the lr go on a log axis when positive and spanning 10x."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    outputs = test_outputs(logs)
    rows = ["training loss", *outputs, "learning rate"]
    fig = Figure(figsize=(12, 1.2 + 2.1 * len(rows)), dpi=dpi)
    FigureCanvasAgg(fig)
    axes = np.atleast_2d(fig.subplots(len(rows), 2, sharex="col", squeeze=False))
    div, unit = _time_unit(logs)
    several = len(logs) > 1
    for i, log in enumerate(logs):
        colors = [f"C{i % 10}"] * len(rows) if several else [f"C{k % 10}" for k in range(len(rows))]
        for col, xcol in enumerate(("iteration", "seconds")):
            scale = div if xcol == "seconds" else 1.0
            _train_curves(axes[:, col], log, xcol, scale, colors)
            _test_curves(axes[1:-1, col], log, outputs, xcol, scale, colors[1:-1])
    _finish(fig, axes, rows, unit)
    names = [_label(log, i, labels) for i, log in enumerate(logs)]
    if several:
        handles = [axes[0, 0].plot([], [], color=f"C{i % 10}", lw=1.5)[0] for i in range(len(logs))]
        fig.legend(handles, names, loc="upper center", ncol=min(4, len(names)), fontsize=8,
                   bbox_to_anchor=(0.5, 1.0 - 0.35 / fig.get_figheight()), frameon=False)
        fig.suptitle(f"{len(logs)} logs", fontsize=11)
    else:
        fig.suptitle(names[0] if names else "", fontsize=11)
    fig.tight_layout(rect=(0, 0, 1, 1 - (0.6 if several else 0.25) / fig.get_figheight()))
    return fig


def _xy(frame: Any, xcol: str, ycol: str, scale: float, mask: np.ndarray | None = None) -> tuple[Any, Any]:
    x = frame[xcol].to_numpy(dtype=float, na_value=np.nan) / scale
    y = frame[ycol].to_numpy(dtype=float, na_value=np.nan)
    ok = ~np.isnan(x) & ~np.isnan(y) & (mask if mask is not None else True)
    return x[ok], y[ok]


def _train_curves(column: Any, log: CaffeLog, xcol: str, scale: float, colors: list[str]) -> None:
    tr = log.train
    if not len(tr):
        return
    for ax, ycol, color in ((column[0], "loss", colors[0]), (column[-1], "lr", colors[-1])):
        x, y = decimate(*_xy(tr, xcol, ycol, scale))
        if len(x):
            ax.plot(x, y, color=color, lw=1)


def _test_curves(column: Any, log: CaffeLog, outputs: list[str], xcol: str, scale: float,
                 colors: list[str]) -> None:
    te = log.test
    if not len(te):
        return
    nets = te["net"].to_numpy(dtype=float, na_value=-1)
    kinds = np.unique(nets)
    for k, out in enumerate(outputs):
        if out not in te:
            continue
        for j, net in enumerate(kinds):
            x, y = decimate(*_xy(te, xcol, out, scale, nets == net))
            if len(x):
                label = f"test net #{int(net)}" if len(kinds) > 1 and net >= 0 else None
                column[k].plot(x, y, _STYLES[j % len(_STYLES)], color=colors[k], lw=1.2, marker=".", ms=4,
                               label=label)


def _finish(fig: Any, axes: Any, rows: list[str], unit: str) -> None:
    for r, title in enumerate(rows):
        for c in range(2):
            ax = axes[r, c]
            ax.grid(True, alpha=0.3)
            if c == 0:
                ax.set_ylabel(title, fontsize=9)
            if ax.has_data():
                lossy = r == 0 or "loss" in title
                if (lossy or r == len(rows) - 1) and _positive(ax, spread=10.0):
                    ax.set_yscale("log")  # (a step lr policy divides by 10: each step stays visible)
                if c == 1 and any(line.get_label()[:1] != "_" for line in ax.get_lines()):
                    ax.legend(fontsize=7, loc="best")
    axes[-1, 0].set_xlabel("iteration")
    axes[-1, 1].set_xlabel(f"{unit} since the start")


def _positive(ax: object, spread: float = 1.0) -> bool:
    """Every finite value plotted is > 0 and the largest is at least `spread` times the smallest."""
    ys = [line.get_ydata() for line in ax.get_lines()]  # type: ignore[attr-defined]
    vals = np.concatenate([np.asarray(y, dtype=float) for y in ys]) if ys else np.empty(0)
    vals = vals[np.isfinite(vals)]
    return bool(len(vals)) and bool((vals > 0).all()) and float(vals.max()) >= spread * float(vals.min())
