"""A small scanner for protobuf text format, used where `text_format` gives no positions.

`outline` finds the line and column of each top-level block and of the layers of a solver's inline
net (so layers can be located in their file) and names the top-level fields (to tell a net from a
solver); `field_extent` finds the extent of one field (to skip a field no schema defines while
keeping every other line and column where it was).
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass

_TOKEN = re.compile(
    r"""
    (?P<ws>[ \t\r\n\f\v,;]+)
  | (?P<comment>\#[^\n]*)
  | (?P<string>["'])
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


#: A run of a quoted string's body: plain characters and escapes, at most 1024 steps per match (the
#: regex engine keeps state per step of a repeated group: bounded steps keep memory constant).
_BODY = {q: re.compile(rf"(?:[^{q}\\\n]+|\\[^\n]){{0,1024}}") for q in "\"'"}


def string_end(text: str, start: int) -> int:
    """End offset of the quoted string opening at `start` (its closing quote included), or -1 when it
    is not closed on its line. Linear time, constant memory, whatever the string's length."""
    quote = text[start]
    body = _BODY[quote]
    pos = start + 1
    while True:
        m = body.match(text, pos)
        if m.end() == pos:
            break
        pos = m.end()
    return pos + 1 if pos < len(text) and text[pos] == quote else -1


def iter_tokens(text: str, pattern: re.Pattern[str] = _TOKEN) -> Iterator[tuple[str, int, int]]:
    """(kind, start, end) of every token of `text`, comments and whitespace included; a quoted string
    is one ``string`` token (an unclosed quote is ``other``)."""
    pos, n = 0, len(text)
    while pos < n:
        m = pattern.match(text, pos)
        if m is None:  # pragma: no cover - `other` matches any character
            return
        kind = m.lastgroup or "other"
        end = m.end()
        if kind == "string":
            closed = string_end(text, pos)
            kind, end = ("string", closed) if closed >= 0 else ("other", pos + 1)
        yield kind, pos, end
        pos = end


def tokens(text: str) -> list[Token]:
    """Tokens of `text`, whitespace and comments dropped."""
    return [Token(kind, text[a:b], a, b) for kind, a, b in iter_tokens(text) if kind not in ("ws", "comment")]


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


def _significant(text: str, start: int) -> Iterator[Token]:
    for kind, a, b in iter_tokens(text[start:]):
        if kind not in ("ws", "comment"):
            yield Token(kind, text[start + a:start + b], a, b)


def field_extent(text: str, start: int) -> int:
    """End offset of the field whose name starts at offset `start` (name, optional ':', value).
    Reads only as far as the field goes."""
    toks = _significant(text, start)
    if next(toks, None) is None:
        return start
    t = next(toks, None)
    if t is not None and t.text == ":":
        t = next(toks, None)
    if t is None:
        return len(text)
    if t.kind == "punct" and t.text in _OPEN:
        depth = 1
        for tj in toks:
            if tj.kind == "punct" and tj.text in _OPEN:
                depth += 1
            elif tj.kind == "punct" and tj.text in "}>]":
                depth -= 1
                if depth == 0:
                    return start + tj.end
        return len(text)
    if t.text == "-":
        nxt = next(toks, None)
        return start + (nxt.end if nxt is not None else t.end)
    end = t.end
    while t is not None and t.kind == "string":  # adjacent string literals concatenate
        end = t.end
        t = next(toks, None)
    return start + end


def blank(text: str, start: int, end: int) -> str:
    """`text` with [start, end) replaced by spaces, newlines kept (positions stay valid)."""
    middle = "".join(c if c == "\n" else " " for c in text[start:end])
    return text[:start] + middle + text[end:]


_OUTLINE = re.compile(
    r"""
    \b(?P<name>name)\s*:\s*(?=")
  | (?P<string>["'])
  | (?P<comment>\#[^\n]*)
  | (?P<open>[{<])
  | (?P<close>[}>])
  | (?P<field>\b[A-Za-z_]\w*)\s*(?=[:{<])
    """,
    re.VERBOSE,
)


def _outline_matches(text: str) -> Iterator[tuple[str, str | slice, int]]:
    """(kind, text, start) of what `outline` needs: ``name`` (with its value), field names, braces."""
    pos = 0
    while True:
        m = _OUTLINE.search(text, pos)
        if m is None:
            return
        kind = m.lastgroup or ""
        pos = m.end()
        if kind in ("name", "string"):
            quote = m.end() if kind == "name" else m.start()
            end = string_end(text, quote)
            if end < 0:
                pos = quote + 1
                continue
            pos = end
            if kind == "name":  # the value as a slice: sliced only where a block needs it
                yield "name", slice(quote + 1, end - 1), m.start()
        elif kind != "comment":
            yield kind, m.group(kind), m.start()


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


_last_outline: list = [None, None]  # (text, result) of the last call: a file is outlined once per read


def outline(text: str) -> tuple[list[str], list[Block]]:
    """See `_outline`; the last text's outline is reused (the reader asks twice per file)."""
    if _last_outline[0] is text:
        names, blocks = _last_outline[1]
        return list(names), list(blocks)
    result = _outline(text)
    _last_outline[:] = [text, (list(result[0]), list(result[1]))]
    return result


def _outline(text: str) -> tuple[list[str], list[Block]]:
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
    for kind, value, start in _outline_matches(text):
        if kind == "name":
            depth = len(stack)
            if depth == 0:
                names.append("name")
                continue
            rec = owner[-1]
            if rec is None and depth >= 2 and stack[-1] == "layer" and stack[-2] == "layers":
                rec = owner[-2]  # V0: layers { layer { name: ... } }
            if rec is not None and not rec[1] and isinstance(value, slice):
                rec[1] = text[value]
        elif kind == "field":
            assert isinstance(value, str)
            if not stack:
                names.append(value)
            pending = (value, start)
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
