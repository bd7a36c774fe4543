"""A small scanner for protobuf text format, used where `text_format` gives no positions.

`outline` finds the line of each top-level block (so layers can be located in their file) and names
the top-level fields (to tell a net from a solver); `field_extent` finds the extent of one field (to
skip a field no schema defines while keeping every other line and column where it was).
"""

from __future__ import annotations

import re
from dataclasses import dataclass

_TOKEN = re.compile(
    r"""
    (?P<ws>[ \t\r\n\f\v,;]+)
  | (?P<comment>\#[^\n]*)
  | (?P<string>"(?:[^"\\\n]|\\.)*"|'(?:[^'\\\n]|\\.)*')
  | (?P<ident>\[[^\]]*\]|[A-Za-z_][\w.]*)
  | (?P<number>[-+]?(?:0[xX][0-9a-fA-F]+|(?:\d+\.?\d*|\.\d+)(?:[eE][-+]?\d+)?[fF]?|inf|nan))
  | (?P<punct>[:{}<>\[\]-])
  | (?P<other>.)
    """,
    re.VERBOSE | re.DOTALL,
)


@dataclass(frozen=True)
class Token:
    kind: str
    text: str
    start: int
    end: int


def tokens(text: str) -> list[Token]:
    """Tokens of `text`, whitespace and comments dropped."""
    out = []
    for m in _TOKEN.finditer(text):
        kind = m.lastgroup or "other"
        if kind in ("ws", "comment"):
            continue
        out.append(Token(kind, m.group(), m.start(), m.end()))
    return out


def line_col(text: str, offset: int) -> tuple[int, int]:
    """1-based line and column of a character offset."""
    line = text.count("\n", 0, offset) + 1
    col = offset - (text.rfind("\n", 0, offset) + 1) + 1
    return line, col


def offset_of(text: str, line: int, col: int) -> int:
    """Character offset of a 1-based line and column."""
    pos = 0
    for _ in range(line - 1):
        nxt = text.find("\n", pos)
        if nxt < 0:
            return len(text)
        pos = nxt + 1
    return min(pos + max(col - 1, 0), len(text))


_OPEN = {"{": "}", "<": ">", "[": "]"}


def field_extent(text: str, start: int) -> int:
    """End offset of the field whose name starts at offset `start` (name, optional ':', value)."""
    toks = tokens(text[start:])
    if not toks:
        return start
    i = 1
    if i < len(toks) and toks[i].text == ":":
        i += 1
    if i >= len(toks):
        return start + toks[-1].end
    t = toks[i]
    if t.kind == "punct" and t.text in _OPEN:
        depth = 0
        for j in range(i, len(toks)):
            tj = toks[j]
            if tj.kind == "punct" and tj.text in _OPEN:
                depth += 1
            elif tj.kind == "punct" and tj.text in "}>]":
                depth -= 1
                if depth == 0:
                    return start + tj.end
        return len(text)
    if t.text == "-" and i + 1 < len(toks):
        return start + toks[i + 1].end
    end = t.end
    # adjacent string literals concatenate
    while t.kind == "string" and i + 1 < len(toks) and toks[i + 1].kind == "string":
        i += 1
        t = toks[i]
        end = t.end
    return start + end


def blank(text: str, start: int, end: int) -> str:
    """`text` with [start, end) replaced by spaces, newlines kept (positions stay valid)."""
    middle = "".join(c if c == "\n" else " " for c in text[start:end])
    return text[:start] + middle + text[end:]


_OUTLINE = re.compile(
    r"""
    \b(?P<name>name)\s*:\s*"(?P<value>(?:[^"\\\n]|\\.)*)"
  | (?P<string>"(?:[^"\\\n]|\\.)*"|'(?:[^'\\\n]|\\.)*')
  | (?P<comment>\#[^\n]*)
  | (?P<open>[{<])
  | (?P<close>[}>])
  | (?P<field>\b[A-Za-z_]\w*)\s*(?=[:{<])
    """,
    re.VERBOSE,
)


def outline(text: str) -> tuple[list[str], list[tuple[str, str, int]]]:
    """A fast one-pass outline: (top-level field names, [(field, name, line)] of each top-level block).

    For a block such as ``layer { name: "conv1" ... }`` the entry is ("layer", "conv1", its line).
    Only braces, field names and ``name:`` values are matched, so it is cheap on large nets.
    """
    names: list[str] = []
    blocks: list[tuple[str, str, int]] = []
    depth = 0
    pending: tuple[str, int] | None = None
    current: list | None = None
    inner = ""
    for m in _OUTLINE.finditer(text):
        kind = m.lastgroup
        if kind == "value" or m.group("name"):
            if depth == 0:
                names.append("name")
            elif current is not None and not current[1] and (depth == 1 or (depth == 2 and inner == "layer")):
                current[1] = m.group("value")  # depth 2: a V0 net's `layers { layer { name: ... } }`
        elif kind == "field":
            if depth == 0:
                names.append(m.group("field"))
                pending = (m.group("field"), m.start())
            elif depth == 1:
                inner = m.group("field")
        elif kind == "open":
            if depth == 0 and pending is not None:
                current = [pending[0], "", pending[1]]
                blocks.append(current)  # type: ignore[arg-type]
            depth += 1
        elif kind == "close":
            depth -= 1
            if depth == 0:
                current = None
                pending = None
    out = []
    for field_name, block_name, start in blocks:
        out.append((field_name, block_name, text.count("\n", 0, start) + 1))
    return names, out
