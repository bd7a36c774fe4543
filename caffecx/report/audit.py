"""Folder audit: every prototxt, caffemodel, log and mean file below a folder, one row each.

`audit_file` runs in a worker process and never raises: whatever goes wrong with a file (a located
`CaffecxError`, or any other exception) becomes that row's status. `audit_folder` walks the folder in
sorted order, fans the files out to a process pool, and returns the rows in that order; `write_audit`
writes ``audit.csv`` and ``index.html`` (and each net's report under ``reports/``) whole or not at all.
"""

from __future__ import annotations

import hashlib
import os
import re
import warnings
from collections.abc import Callable
from concurrent.futures import ProcessPoolExecutor, as_completed
from pathlib import Path
from typing import Any

from caffecx.errors import CaffecxError, FilteredBlobError

KINDS = {".prototxt": "prototxt", ".pbtxt": "prototxt", ".caffemodel": "caffemodel", ".log": "log",
         ".binaryproto": "mean", ".solverstate": "solverstate"}
COLUMNS = ["path", "kind", "net", "era", "phase", "status", "detail", "layers", "params", "macs", "memory_bytes", "assumed",
           "report"]


def walk(root: str | os.PathLike[str], skip: Path | None = None) -> list[Path]:
    """Every regular file below `root` (hidden ones and `skip` left out), sorted by relative path."""
    base = Path(root)
    out = []
    for path in base.rglob("*"):
        rel = path.relative_to(base)
        if any(part.startswith(".") for part in rel.parts) or not path.is_file() or path.is_symlink():
            continue
        if skip is not None and path.resolve().is_relative_to(skip):
            continue
        out.append(path)
    return sorted(out, key=lambda p: p.relative_to(base).as_posix())


def slug(rel: str) -> str:
    """A file-name-safe folder name for a file's report: its name's safe characters + a hash of its path."""
    stem = re.sub(r"[^A-Za-z0-9._-]+", "_", Path(rel).name)[:60].strip("._") or "file"
    return f"{stem}-{hashlib.sha1(rel.encode('utf-8')).hexdigest()[:8]}"


def _era(notes: list[str]) -> str:
    text = " ".join(notes)
    return "V0" if "V0LayerParameter" in text else "V1" if "V1LayerParameter" in text else "V2"


def _net_row(row: dict[str, Any], path: Path, report_dir: str | None, rel: str) -> None:
    from caffecx.analysis import analyze

    net = _load_audited(path, row)
    row["net"], row["era"] = net.name, _era(net.notes)
    result = analyze(net)
    t = result.totals()
    row.update(layers=t["layers"], params=t["params"], macs=t["macs"], memory_bytes=t["memory_bytes"])
    row["assumed"] = "; ".join(f"{a['top']}={','.join(map(str, a['shape']))}" for a in result.assumed_inputs)
    if result.unknown:
        from caffecx.layers import layer_class

        roots = [(n, ty, why) for n, ty, why in result.unknown if not why.startswith("shape of bottom")]
        after = len(result.unknown) - len(roots)
        row["status"] = "unknown layer types" if any(layer_class(ty) is None for _, ty, _ in roots) else "not set up"
        row["detail"] = "; ".join(f"layer '{n}' ({ty}): {why}" for n, ty, why in roots[:5]) + \
            (f" ({after} layer(s) after them not set up)" if after else "")
    if report_dir is not None:
        _write_net_report(row, path, Path(report_dir), rel)


def _load_audited(path: Path, row: dict[str, Any]) -> Any:
    """The net in the phase it is complete in: a caffemodel in TRAIN (Caffe saves the training net), a
    prototxt in TEST, or in TRAIN when its TEST net lacks a blob that only TRAIN layers make (a train
    net whose data layer is ``include { phase: TRAIN }``). The phase goes into the row."""
    from caffecx.graph import load_net

    row["phase"] = "TRAIN" if row["kind"] == "caffemodel" else "TEST"
    try:
        return load_net(path, phase=row["phase"])
    except FilteredBlobError:
        if row["phase"] == "TRAIN":
            raise
        row["phase"] = "TRAIN"
        return load_net(path, phase="TRAIN")


def _write_net_report(row: dict[str, Any], path: Path, report_dir: Path, rel: str) -> None:
    from caffecx.report import build_report, write_report
    from caffecx.report.model import Options

    try:
        weights = path if row["kind"] == "caffemodel" else None
        report = build_report(path, weights=weights, options=Options(phase=row["phase"]))
        write_report(report, report_dir / slug(rel))
        row["report"] = f"reports/{slug(rel)}/report.html"
    except CaffecxError as err:
        row["detail"] = "; ".join(filter(None, [row["detail"], f"no report: {err}"]))


def _log_row(row: dict[str, Any], path: Path) -> None:
    from caffecx.check import check_log
    from caffecx.logs import parse_log

    log = parse_log(path, workers=1)
    s = log.summary()
    row["net"] = next((r.net_name for r in log.runs if r.net_name), "")
    row["detail"] = f"{s['runs']} run(s), {s['nets']} net(s), {s['train_rows']} train rows, {s['test_rows']} test rows"
    if log.fatal:
        row["status"], row["detail"] = "fatal in log", f"{row['detail']}; {log.fatal}"
    if s["nets"]:
        checked = check_log(log)
        row["detail"] += "; check: " + ("every set-up line matched" if checked.ok else
                                        "; ".join(_net_verdict(n) for n in checked.nets if not n.ok))
        if row["status"] == "ok" and not checked.ok:
            row["status"] = "check mismatch" if any(n.disagrees for n in checked.nets) else "check incomplete"


def _net_verdict(net: Any) -> str:
    """One net's `check` verdict for the audit: its mismatching rows, what was left unchecked, or why it
    could not be checked (`caffecx.check.NetCheck`)."""
    mismatches = sum(r.status == "mismatch" for r in net.rows)
    unchecked = [f"{r.log_value} {r.quantity} ({r.analyzer_value})" if r.quantity == "layers not checked"
                 else f"{r.layer} {r.quantity}" for r in net.rows if r.status == "unknown"]
    parts = [f"{mismatches} mismatch(es)"] * bool(mismatches) + unchecked + [f"not checked: {net.error}"] * bool(net.error)
    return f"{net.label} {net.verdict}: " + ", ".join(parts)


def _mean_row(row: dict[str, Any], path: Path) -> None:
    from caffecx.io.reader import read_blobproto, read_solverstate

    if row["kind"] == "mean":
        row["detail"] = "shape " + "x".join(map(str, read_blobproto(path).shape))
    else:
        row["detail"] = f"iteration {read_solverstate(path).iter}"


def audit_file(path: str, root: str, report_dir: str | None = None) -> dict[str, Any]:
    """One row for one file (see the module docstring); never raises."""
    p = Path(path)
    rel = p.relative_to(root).as_posix()
    row: dict[str, Any] = {c: "" for c in COLUMNS}
    row.update(path=rel, kind=KINDS.get(p.suffix.lower(), "other"), status="ok")
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            if row["kind"] in ("prototxt", "caffemodel"):
                _net_row(row, p, report_dir, rel)
            elif row["kind"] == "log":
                _log_row(row, p)
            elif row["kind"] in ("mean", "solverstate"):
                _mean_row(row, p)
            else:
                row["status"] = "skipped"
                row["detail"] = "not a Caffe file kind (by its suffix)"
    except CaffecxError as err:
        row["status"], row["detail"] = "error", str(err)
    except Exception as err:  # noqa: BLE001 - an audit records every failure and goes on
        row["status"], row["detail"] = "crash", f"{type(err).__name__}: {err}"
    return row


def audit_folder(root: str | os.PathLike[str], *, report_dir: str | None = None, workers: int = 2,
                 skip: Path | None = None, progress: Callable[[int, int, str], None] | None = None
                 ) -> list[dict[str, Any]]:
    """Rows for every file below `root`, in sorted path order (see `audit_file`)."""
    base = Path(root)
    if not base.is_dir():
        raise CaffecxError("not a folder", path=str(root))
    files = walk(base, skip)
    rows: dict[str, dict[str, Any]] = {}
    with ProcessPoolExecutor(max_workers=max(1, workers)) as pool:
        futures = {pool.submit(audit_file, str(f), str(base), report_dir): f for f in files}
        for done, fut in enumerate(as_completed(futures), 1):
            f = futures[fut]
            try:
                row = fut.result()
            except Exception as err:  # noqa: BLE001 - a worker that died still leaves a row
                row = {c: "" for c in COLUMNS} | {"path": f.relative_to(base).as_posix(), "status": "crash",
                                                   "detail": f"{type(err).__name__}: {err}"}
            rows[row["path"]] = row
            if progress:
                progress(done, len(files), row["path"])
    return [rows[k] for k in sorted(rows)]
