"""Reports: one net's full audit as Markdown + self-contained HTML, net comparisons, rooflines, folder audits.

The library returns data (`build_report` -> `Report`, `compare_nets`, `roofline_rows`, `audit_folder`);
rendering (`to_markdown`, `to_html`) and writing (`write_report`: a temp folder beside the target, moved
into place only on success) are separate steps. The same inputs give byte-identical files unless the
caller asks for measured timings.
"""

from __future__ import annotations

from caffecx.report.model import Report, build_report
from caffecx.report.write import write_report

__all__ = ["Report", "build_report", "write_report"]
