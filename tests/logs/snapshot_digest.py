"""A compact digest of a parsed log's tables (shape, columns, dtypes, a hash of the values) for the
snapshot test: ``tests/data/logs/snapshot.json`` was written from the parser before its rewrite."""

from __future__ import annotations

import hashlib
from typing import Any

import pandas as pd

TABLES = ("train", "test", "outputs", "layers", "nets", "snapshots", "restores")


def frame_digest(frame: pd.DataFrame) -> dict[str, Any]:
    values = repr([(str(c), frame[c].tolist()) for c in frame.columns])
    return {"shape": list(frame.shape), "columns": [str(c) for c in frame.columns],
            "dtypes": [str(t) for t in frame.dtypes], "sha1": hashlib.sha1(values.encode()).hexdigest()}


def log_digest(frames: dict[str, pd.DataFrame]) -> dict[str, Any]:
    return {name: frame_digest(frame) for name, frame in frames.items()}


def frames_of(log: Any) -> dict[str, pd.DataFrame]:
    out = {name: getattr(log, name) for name in TABLES}
    out.update({f"missing_{k}": v for k, v in log.missing.items()})
    out["runs"] = pd.DataFrame([r.to_dict() for r in log.runs])
    out["messages"] = pd.DataFrame([m.__dict__ for m in log.messages])
    return out
