"""Training curves of one or several Caffe logs on one figure (matplotlib, no pyplot state).

Three rows -- the displayed training loss (``Iteration N, loss = x``), every test output, and the
learning rate -- against iterations (left) and seconds since the start (right). Each log has its
own colour, so logs of several runs or experiments can be compared.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from caffecx.logs.tables import TEST_FIXED, CaffeLog

if TYPE_CHECKING:  # pragma: no cover
    from matplotlib.figure import Figure

_STYLES = ["-", "--", ":", "-."]


def _label(log: CaffeLog, i: int, labels: Sequence[str] | None) -> str:
    if labels is not None and i < len(labels):
        return labels[i]
    return Path(log.path).name if log.path else f"log {i}"


def plot_logs(logs: Sequence[CaffeLog], path: str | Path, labels: Sequence[str] | None = None,
              dpi: int = 100) -> Path:
    """Draw the curves of ``logs`` and save them as ``path`` (PNG, or any format matplotlib knows by
    the suffix), written whole or not at all. Returns the path written."""
    import io

    from caffecx.io.writer import write_atomic

    fig = curves_figure(logs, labels, dpi)
    out = Path(path)
    out.parent.mkdir(parents=True, exist_ok=True)
    buf = io.BytesIO()
    fig.savefig(buf, format=out.suffix.lstrip(".").lower() or "png")
    write_atomic(out, buf.getvalue())
    return out


def curves_figure(logs: Sequence[CaffeLog], labels: Sequence[str] | None = None, dpi: int = 100) -> Figure:
    """The figure `plot_logs` saves: axes ``[row, col]`` with rows loss / test outputs / lr and columns
    iterations / seconds. Loss is on a log axis when positive, the lr when it spans 10x or more."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    fig = Figure(figsize=(13, 10), dpi=dpi)
    FigureCanvasAgg(fig)
    axes = fig.subplots(3, 2, sharex="col")
    colors = [f"C{i % 10}" for i in range(len(logs))]
    for i, log in enumerate(logs):
        name = _label(log, i, labels)
        tr, te = log.train, log.test
        for col, xcol in enumerate(("iteration", "seconds")):
            if len(tr):
                x = tr[xcol].to_numpy(dtype=float, na_value=np.nan)
                y = tr["loss"].to_numpy(dtype=float)
                ok = ~np.isnan(x) & ~np.isnan(y)
                if ok.any():
                    axes[0, col].plot(x[ok], y[ok], color=colors[i], lw=1, label=f"{name} train loss")
                lr = tr["lr"].to_numpy(dtype=float)
                ok = ~np.isnan(x) & ~np.isnan(lr)
                if ok.any():
                    axes[2, col].plot(x[ok], lr[ok], color=colors[i], lw=1, label=f"{name} lr")
            if len(te):
                x = te[xcol].to_numpy(dtype=float, na_value=np.nan)
                nets = te["net"].to_numpy(dtype=float, na_value=-1)
                outputs = [c for c in te.columns if c not in TEST_FIXED]
                for k, out in enumerate(outputs):
                    y = te[out].to_numpy(dtype=float)
                    for net in np.unique(nets):
                        ok = (nets == net) & ~np.isnan(x) & ~np.isnan(y)
                        if ok.any():
                            suffix = f" (test net #{int(net)})" if len(np.unique(nets)) > 1 and net >= 0 else ""
                            axes[1, col].plot(x[ok], y[ok], _STYLES[k % len(_STYLES)], color=colors[i], lw=1,
                                              marker=".", label=f"{name} {out}{suffix}")
    titles = ("training loss", "test outputs", "learning rate")
    for row in range(3):
        for col in range(2):
            ax = axes[row, col]
            ax.grid(True, alpha=0.3)
            if col == 0:
                ax.set_ylabel(titles[row])
            if ax.has_data():
                if row in (0, 2) and _positive(ax, spread=1.0 if row == 0 else 10.0):
                    ax.set_yscale("log")  # (a step lr policy divides by 10: each step stays visible)
                if col == 1 or row == 1:
                    ax.legend(fontsize=7, loc="best")
    axes[2, 0].set_xlabel("iteration")
    axes[2, 1].set_xlabel("seconds since the start")
    fig.suptitle(", ".join(_label(log, i, labels) for i, log in enumerate(logs)), fontsize=10)
    fig.tight_layout()
    return fig


def _positive(ax: object, spread: float = 1.0) -> bool:
    """Every finite value plotted is > 0 and the largest is at least `spread` times the smallest."""
    ys = [line.get_ydata() for line in ax.get_lines()]  # type: ignore[attr-defined]
    vals = np.concatenate([np.asarray(y, dtype=float) for y in ys]) if ys else np.empty(0)
    vals = vals[np.isfinite(vals)]
    return bool(len(vals)) and bool((vals > 0).all()) and float(vals.max()) >= spread * float(vals.min())
