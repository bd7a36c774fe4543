"""The report as one self-contained HTML file: inline CSS, figures as data URIs, no script, no network.
Every text from the inputs is escaped."""

from __future__ import annotations

import re
from html import escape

from caffecx.report.figures import data_uri
from caffecx.report.model import Report
from caffecx.report.sections import Figure, Section, Table, sections
from caffecx.tables import fmt_value

CSS = """
body{font-family:"DejaVu Sans",Arial,sans-serif;font-size:14px;margin:0;color:#222;background:#fafafa}
header{background:#1f4e79;color:#fff;padding:14px 24px}header h1{margin:0;font-size:22px}
nav{padding:6px 24px;background:#e9eef4;position:sticky;top:0;font-size:13px}nav a{margin-right:14px;color:#1f4e79}
main{padding:8px 24px 40px}section{margin:18px 0}h2{border-bottom:2px solid #1f4e79;padding-bottom:3px}
table{border-collapse:collapse;margin:8px 0;font-size:12px;background:#fff}
th,td{border:1px solid #ccd;padding:3px 7px;vertical-align:top}th{background:#e9eef4;text-align:left}
td.n{text-align:right;font-variant-numeric:tabular-nums}tr:nth-child(even) td{background:#f4f6f9}
td.bad{color:#b00;font-weight:bold}caption{text-align:left;font-style:italic;padding:2px 0}
img{max-width:100%;background:#fff;border:1px solid #dde;margin:6px 0}.graph{max-height:900px;overflow:auto}
code{background:#eef;padding:0 3px}
#summary table,#breakdowns table{display:inline-table;margin-right:22px;vertical-align:top}
.graph,.fig{display:inline-block;vertical-align:top;margin-right:16px}
"""


def _text(s: str) -> str:
    """Escaped text; `backticks` become <code> (after escaping, so nothing in them is markup)."""
    return re.sub(r"`([^`]*)`", r"<code>\1</code>", escape(s))


def _cell(column: str, v: object) -> str:
    numeric = isinstance(v, (int, float)) and not isinstance(v, bool)
    bad = column == "status" and v != "match" or (column in ("ok", "finite") and v is False)
    cls = "n" if numeric else "bad" if bad else ""
    return f'<td class="{cls}">{escape(fmt_value(v))}</td>' if cls else f"<td>{escape(fmt_value(v))}</td>"


def table_html(t: Table) -> str:
    head = "".join(f"<th>{escape(c)}</th>" for c in t.columns)
    body = ["<tr>" + "".join(_cell(c, r.get(c)) for c in t.columns) + "</tr>" for r in t.rows]
    cap = f"<caption>{escape(t.caption)}</caption>" if t.caption else ""
    if t.fold is None or len(body) <= t.fold:
        return f"<table>{cap}<tr>{head}</tr>{''.join(body)}</table>"
    shown = f"<table>{cap}<tr>{head}</tr>{''.join(body[: t.fold])}</table>"
    rest = f"<table><tr>{head}</tr>{''.join(body[t.fold:])}</table>"
    return f"{shown}<details><summary>{len(body) - t.fold} more rows</summary>{rest}</details>"


def _item(report: Report, item: str | Table | Figure) -> str:
    if isinstance(item, Table):
        return table_html(item)
    if isinstance(item, Figure):
        uri = data_uri(report.figures[item.name])
        cls = ' class="graph"' if item.name == "graph.svg" else ' class="fig"'
        return f'<div{cls}><img src="{uri}" alt="{escape(item.alt)}"></div>'
    return f"<p>{_text(item)}</p>"


def _section(report: Report, s: Section) -> str:
    return f'<section id="{s.key}"><h2>{escape(s.title)}</h2>' + "\n".join(_item(report, i) for i in s.items) + \
        "</section>"


def to_html(report: Report) -> str:
    parts = sections(report)
    nav = "".join(f'<a href="#{s.key}">{escape(s.title)}</a>' for s in parts)
    body = "\n".join(_section(report, s) for s in parts)
    title = escape(f"caffecx report: {report.title}")
    return (f'<!DOCTYPE html>\n<html lang="en"><head><meta charset="utf-8"><title>{title}</title>'
            f'<meta name="viewport" content="width=device-width,initial-scale=1"><style>{CSS}</style></head>\n'
            f"<body><header><h1>{title}</h1></header><nav>{nav}</nav><main>\n{body}\n</main></body></html>\n")
