"""A small scanner for protobuf text format, used where `text_format` gives no positions.

`outline` finds the line and column of each top-level block and of the layers of a solver's inline
net (so layers can be located in their file) and names the top-level fields (to tell a net from a
solver); `field_extent` finds the extent of one field (to skip a field no schema defines while
keeping every other line and column where it was).
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


#: Top-level solver fields that hold a whole net inline: their layers are outlined too.
NET_BLOCKS = frozenset({"net_param", "train_net_param", "test_net_param"})


@dataclass(frozen=True)
class Block:
    """A block such as ``layer { name: "conv1" ... }``: its field, its ``name:`` value and where it opens.

    ``parent`` is the top-level net block it sits in (``net_param`` of a solver), or "" at top level.
    """

    field: str
    name: str
    line: int
    column: int
    parent: str = ""


def outline(text: str) -> tuple[list[str], list[Block]]:
    """A fast one-pass outline: (top-level field names, the top-level blocks and the blocks directly
    inside a solver's inline net (`NET_BLOCKS`)), each with its ``name:`` and its line and column.

    For ``layer { name: "conv1" ... }`` the block is ("layer", "conv1", line, column); a V0 net's
    ``layers { layer { name: ... } }`` takes the inner name. Only braces, field names and ``name:``
    values are matched, so it is cheap on large nets.
    """
    names: list[str] = []
    found: list[list] = []
    stack: list[str] = []  # field names of the open blocks
    owner: list[list | None] = []  # per open block: the recorded block it names, if any
    pending: tuple[str, int] | None = None
    for m in _OUTLINE.finditer(text):
        kind = m.lastgroup
        if kind == "value" or m.group("name"):
            depth = len(stack)
            if depth == 0:
                names.append("name")
                continue
            rec = owner[-1]
            if rec is None and depth >= 2 and stack[-1] == "layer" and stack[-2] == "layers":
                rec = owner[-2]  # V0: layers { layer { name: ... } }
            if rec is not None and not rec[1]:
                rec[1] = m.group("value")
        elif kind == "field":
            if not stack:
                names.append(m.group("field"))
            pending = (m.group("field"), m.start())
        elif kind == "open":
            rec = None
            if pending is not None and (not stack or (len(stack) == 1 and stack[0] in NET_BLOCKS)):
                rec = [pending[0], "", pending[1], stack[0] if stack else ""]
                found.append(rec)
            stack.append(pending[0] if pending is not None else "")
            owner.append(rec)
            pending = None
        elif kind == "close":
            if stack:
                stack.pop()
                owner.pop()
            pending = None
    blocks = []
    line, pos = 1, 0
    for field_name, block_name, start, parent in found:  # in file order: count newlines incrementally
        line += text.count("\n", pos, start)
        pos = start
        col = start - (text.rfind("\n", 0, start) + 1) + 1
        blocks.append(Block(field_name, block_name, line, col, parent))
    return names, blocks
