"""An audit's files: ``audit.csv`` (one row per file) and ``index.html`` (the same rows, each net linked
to its report), every text escaped."""

from __future__ import annotations

import csv
import io
import os
from collections import Counter
from html import escape
from pathlib import Path
from typing import Any

from caffecx.report.audit import COLUMNS
from caffecx.report.html import CSS
from caffecx.tables import fmt_value


def audit_csv(rows: list[dict[str, Any]]) -> bytes:
    buf = io.StringIO()
    w = csv.DictWriter(buf, COLUMNS, lineterminator="\n")
    w.writeheader()
    w.writerows(rows)
    return buf.getvalue().encode("utf-8")


def _cell(column: str, v: Any, row: dict[str, Any]) -> str:
    if column == "report" and v:
        return f'<td><a href="{escape(str(v))}">report</a></td>'
    if column == "status":
        cls = "" if v == "ok" else ' class="bad"'
        return f"<td{cls}>{escape(str(v))}</td>"
    numeric = isinstance(v, int) and not isinstance(v, bool)
    return f'<td class="n">{escape(fmt_value(v))}</td>' if numeric else f"<td>{escape(str(v))}</td>"


def audit_html(rows: list[dict[str, Any]], root: str) -> bytes:
    counts = Counter(r["status"] for r in rows)
    summary = ", ".join(f"{n} {escape(s)}" for s, n in sorted(counts.items()))
    head = "".join(f"<th>{escape(c)}</th>" for c in COLUMNS)
    body = "".join("<tr>" + "".join(_cell(c, r.get(c, ""), r) for c in COLUMNS) + "</tr>" for r in rows)
    title = escape(f"caffecx audit: {root}")
    return (f'<!DOCTYPE html>\n<html lang="en"><head><meta charset="utf-8"><title>{title}</title>'
            f"<style>{CSS}</style></head>\n<body><header><h1>{title}</h1></header><main>"
            f"<p>{len(rows)} files: {summary}. The same rows are in <a href=\"audit.csv\">audit.csv</a>.</p>"
            f"<table><tr>{head}</tr>{body}</table></main></body></html>\n").encode()


def write_audit(root: str | os.PathLike[str], out_dir: str | os.PathLike[str], *, reports: bool = True,
                workers: int = 2, progress: Any = None) -> tuple[Path, list[dict[str, Any]]]:
    """Audit `root` into `out_dir` (audit.csv, index.html, reports/): whole or not at all."""
    from caffecx.report.audit import audit_folder
    from caffecx.report.write import staged_folder, write_files

    with staged_folder(out_dir) as tmp:
        rows = audit_folder(root, report_dir=str(tmp / "reports") if reports else None, workers=workers,
                            skip=Path(out_dir).resolve(), progress=progress)
        write_files(tmp, {"audit.csv": audit_csv(rows), "index.html": audit_html(rows, str(root))})
    return Path(out_dir), rows
