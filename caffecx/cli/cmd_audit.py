"""``caffecx audit DIR``: every prototxt / caffemodel / log below a folder, one CSV row and one HTML index
row each (a report per net), never stopping on a bad file."""

from __future__ import annotations

import argparse
import sys
from collections import Counter

from caffecx.errors import CaffecxError


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("audit", help="audit a folder of prototxts/caffemodels/logs: CSV + HTML index + reports",
                       description="Walk DIR with a process pool; one row per file (kind, net, era, status with "
                                   "the error's location, params, MACs, memory); each net's report linked.")
    p.add_argument("dir", metavar="DIR", help="folder to walk")
    p.add_argument("-o", "--out", default="out/audit", metavar="OUT", help="output folder (default out/audit)")
    p.add_argument("--no-reports", action="store_true", help="only the CSV and the index, no per-net reports")
    p.add_argument("--workers", type=int, default=2, help="worker processes (default 2)")
    p.set_defaults(func=run)


def _progress(done: int, total: int, name: str) -> None:
    width = 30
    filled = width * done // max(1, total)
    sys.stderr.write(f"\r[{'#' * filled}{'.' * (width - filled)}] {done}/{total} {name[-40:]:<40}")
    if done == total:
        sys.stderr.write("\n")
    sys.stderr.flush()


def run(args: argparse.Namespace) -> int:
    from caffecx.report.audit_index import write_audit
    from caffecx.report.write import check_report_folder

    check_report_folder(args.out, "audit folder")  # before walking DIR
    if args.workers < 1:
        raise CaffecxError(f"--workers must be at least 1, not {args.workers}")
    out, rows = write_audit(args.dir, args.out, reports=not args.no_reports, workers=args.workers,
                            progress=_progress)
    counts = Counter(r["status"] for r in rows)
    print(f"{len(rows)} files: " + ", ".join(f"{n} {s}" for s, n in sorted(counts.items())))
    print(f"wrote {out / 'audit.csv'} and {out / 'index.html'}", file=sys.stderr)
    return 0
