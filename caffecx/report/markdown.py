"""The report as Markdown (figures referenced by their file names beside report.md). Text from the
inputs is HTML-escaped (a Markdown viewer renders raw HTML)."""

from __future__ import annotations

from html import escape

from caffecx.report.model import Report
from caffecx.report.sections import Figure, Table, sections
from caffecx.tables import fmt_value


def _cell(v: object) -> str:
    return escape(fmt_value(v), quote=False).replace("|", "\\|").replace("\n", " ")


def table_markdown(t: Table) -> str:
    rows = t.rows if t.fold is None else t.rows[: t.fold]
    numeric = [all(isinstance(r.get(c), (int, float)) or r.get(c) is None for r in t.rows) for c in t.columns]
    lines = ([f"*{escape(t.caption)}*", ""] if t.caption else []) + [
        "| " + " | ".join(t.columns) + " |",
        "| " + " | ".join("---:" if n else "---" for n in numeric) + " |",
        *("| " + " | ".join(_cell(r.get(c)) for c in t.columns) + " |" for r in rows)]
    if len(rows) < len(t.rows):
        lines += ["", f"({len(t.rows) - len(rows)} more rows in report.html)"]
    return "\n".join(lines)


def to_markdown(report: Report) -> str:
    out = [f"# Report: {escape(report.title, quote=False)}", ""]
    for s in sections(report):
        out += [f"## {s.title}", ""]
        for item in s.items:
            if isinstance(item, Table):
                out.append(table_markdown(item))
            elif isinstance(item, Figure):
                out.append(f"![{item.alt}]({item.name})")
            else:
                out.append(escape(item, quote=False))
            out.append("")
    return "\n".join(out).rstrip("\n") + "\n"
