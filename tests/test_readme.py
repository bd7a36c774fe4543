"""The README's examples run as written (from the repository root)."""

from __future__ import annotations

import re
import shlex
from pathlib import Path

import pytest
from paths import REPO

from caffecx.cli import main

README = (REPO / "README.md").read_text()
SH = [line.strip() for block in re.findall(r"```sh\n(.*?)```", README, re.S) for line in block.splitlines()
      if line.strip().startswith("caffecx ")]
PY = re.findall(r"```python\n(.*?)```", README, re.S)


def test_readme_has_examples() -> None:
    assert len(SH) >= 8 and len(PY) >= 3
    assert "python -m pip install -e . && caffecx report -o out/report" in README
    assert "python -m pip install -e '.[test]' && python -m pytest" in README


@pytest.mark.parametrize("command", SH)
def test_cli_example_runs(command, monkeypatch, tmp_path, capsys) -> None:
    monkeypatch.chdir(REPO)
    args = shlex.split(command)[1:]
    args = [str(tmp_path / a.rsplit("/", 1)[-1]) if a.startswith(("/tmp/", "out/")) else a for a in args]
    assert main(args) == 0
    written = [a for a in args if a.startswith(str(tmp_path))]
    assert capsys.readouterr().out or all(Path(w).stat().st_size for w in written)


@pytest.mark.parametrize("block", range(len(PY)))
def test_python_example_runs(block, monkeypatch, capsys) -> None:
    monkeypatch.chdir(REPO)
    exec(compile(PY[block], f"README.md python block {block}", "exec"), {})
    printed = capsys.readouterr().out.splitlines()
    expected = [c.split("#", 1)[1].strip() for c in PY[block].splitlines() if "print(" in c and "# " in c]
    for line, comment in zip(printed, expected, strict=False):
        head = comment.split(" ")[0].rstrip(":")
        assert head in line, (line, comment)
