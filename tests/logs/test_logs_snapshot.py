"""Every table of every log of logs/, ../shared/corpus and the fixtures is what the parser gave before
its rewrite (tests/data/logs/snapshot.json: shape, columns, dtypes and a hash of the values)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from paths import REPO, SHARED
from snapshot_digest import frames_of, log_digest

from caffecx.logs import parse_log

SNAPSHOT = json.loads((REPO / "tests" / "data" / "logs" / "snapshot.json").read_text())


def _path(key: str) -> Path:
    return SHARED / key.removeprefix("SHARED/") if key.startswith("SHARED/") else REPO / key


@pytest.mark.parametrize("key", sorted(SNAPSHOT))
def test_tables_unchanged(key: str) -> None:
    path = _path(key)
    if not path.exists():
        pytest.skip(f"{path} is not here")
    got = log_digest(frames_of(parse_log(path, workers=1, require_glog=False)))
    want = SNAPSHOT[key]
    for table in want:
        assert got[table] == want[table], (key, table)
