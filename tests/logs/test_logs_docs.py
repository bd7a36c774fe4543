"""The Python examples of docs/logs.md run, and print what their comments say."""

from __future__ import annotations

import contextlib
import io
import os
import re

import pytest
from paths import REPO

DOC = REPO / "docs" / "logs.md"
BLOCKS = re.findall(r"```python\n(.*?)```", DOC.read_text(), re.S)


def test_the_doc_has_examples() -> None:
    assert len(BLOCKS) >= 4


@pytest.mark.parametrize("code", BLOCKS, ids=[f"block{i}" for i in range(len(BLOCKS))])
def test_example_runs(code: str, monkeypatch) -> None:
    monkeypatch.chdir(REPO)
    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        exec(compile(code, str(DOC), "exec"), {})  # noqa: S102 - our own documentation
    printed = out.getvalue().splitlines()
    calls = [line for line in code.splitlines() if line.lstrip().startswith("print(")]
    assert len(printed) == len(calls)
    for call, got in zip(calls, printed, strict=True):
        if "#" in call:
            assert got == call.split("#", 1)[1].strip(), (call, got)
    if os.path.exists("/tmp/caffecx-lenet-curves.png"):
        os.remove("/tmp/caffecx-lenet-curves.png")
