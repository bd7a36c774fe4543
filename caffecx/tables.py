"""Plain-text and Markdown rendering of small tables (rows of dicts) for the CLI and reports."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any


def fmt_value(v: Any) -> str:
    """Human-readable cell: thousands separators for ints, 4 significant digits for floats."""
    if v is None:
        return "-"
    if isinstance(v, bool):
        return "yes" if v else "no"
    if isinstance(v, int):
        return f"{v:,}"
    if isinstance(v, float):
        if v != v:  # NaN: pandas' stand-in for a missing value
            return "-"
        if v.is_integer() and abs(v) < 1e15:
            return f"{int(v):,}"
        return f"{v:.4g}"
    if isinstance(v, (list, tuple)):
        if v and all(isinstance(x, (list, tuple)) for x in v):
            return " ".join("x".join(map(str, x)) if x else "()" for x in v)
        return ",".join(map(str, v))
    return str(v)


def render_text(rows: Sequence[dict[str, Any]], columns: Sequence[str]) -> str:
    """A fixed-width text table; numbers right-aligned."""
    cells = [[fmt_value(r.get(c)) for c in columns] for r in rows]
    widths = [max([len(c)] + [len(row[i]) for row in cells]) for i, c in enumerate(columns)]
    numeric = [all(isinstance(r.get(c), (int, float)) or r.get(c) is None for r in rows) for c in columns]

    def line(values: Sequence[str]) -> str:
        return "  ".join(v.rjust(w) if num else v.ljust(w)
                         for v, w, num in zip(values, widths, numeric, strict=True)).rstrip()

    out = [line(columns), line(["-" * w for w in widths])]
    out += [line(row) for row in cells]
    return "\n".join(out)


def render_markdown(rows: Sequence[dict[str, Any]], columns: Sequence[str]) -> str:
    """A GitHub-flavoured Markdown table."""
    numeric = [all(isinstance(r.get(c), (int, float)) or r.get(c) is None for r in rows) for c in columns]
    head = "| " + " | ".join(columns) + " |"
    sep = "| " + " | ".join("---:" if n else "---" for n in numeric) + " |"
    body = ["| " + " | ".join(fmt_value(r.get(c)).replace("|", "\\|") for c in columns) + " |" for r in rows]
    return "\n".join([head, sep, *body])
