"""JSON and JSON Lines of a `CaffeLog`, written column by column (no Python dict per cell).

Numbers keep every digit (``repr``); a value that was not logged is ``null``; a logged ``nan``,
``inf``, ``-inf`` is the string ``"nan"``, ``"inf"``, ``"-inf"`` (JSON has no NaN), as in
`CaffeLog.to_json`.
"""

from __future__ import annotations

import json
from typing import IO

from caffecx.logs.tables import FIRST, ROW_TABLES, CaffeLog, row_json


def write_json(logs: list[CaffeLog], out: IO[str]) -> None:
    """``caffecx log --format json``: the keys of `CaffeLog.to_json`, the row tables written in bulk and
    streamed to ``out`` table by table (no copy of the whole document is held)."""
    out.write("[\n" if len(logs) > 1 else "")
    for k, log in enumerate(logs):
        out.write(("," if k else "") + "{\n")
        for i, (key, value) in enumerate(log.to_json(tables=False).items()):
            out.write((",\n" if i else "") + json.dumps(key) + ": ")
            if key in ROW_TABLES:
                rows = row_json(getattr(log, key), log.missing.get(key), FIRST.get(key))
                for piece in ("[\n", ",\n".join(rows), "\n]") if rows else ("[]",):
                    out.write(piece)
            elif isinstance(value, list) and value:  # nets, runs, errors: one per line (json's C encoder)
                out.write("[\n" + ",\n".join(json.dumps(item, allow_nan=False) for item in value) + "\n]")
            else:
                out.write(json.dumps(value, allow_nan=False))
        out.write("\n}\n")
    out.write("]\n" if len(logs) > 1 else "")


def write_jsonl(logs: list[CaffeLog], out: IO[str]) -> None:
    """``--format jsonl``: one row per line, each with its ``table`` and ``log``; nets as ``nets`` rows
    (with their layers), runs as ``runs`` rows."""
    for log in logs:
        for net in log.net_logs:
            out.write(json.dumps({"table": "nets", "log": log.path, **net.to_dict()}) + "\n")
        for run in log.runs:
            out.write(json.dumps({"table": "runs", "log": log.path, **run.to_dict()}) + "\n")
        for key in ROW_TABLES:
            rows = row_json(getattr(log, key), log.missing.get(key), FIRST.get(key), {"table": key, "log": log.path})
            if rows:
                out.write("\n".join(rows) + "\n")
