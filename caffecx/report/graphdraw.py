"""The net drawn as a graph: Graphviz ``dot`` when it is on PATH, else a layered SVG drawn here.

Nodes are layers (Split layers left out: their consumers link to the producer; in-place layers such as
ReLU are folded into the node of the layer whose top they modify), edges are blobs. Every label is
escaped for XML (and for DOT's quoted strings).
"""

from __future__ import annotations

import shutil
import subprocess
from dataclasses import dataclass, field
from html import escape

from caffecx.analysis import Analysis
from caffecx.tables import fmt_value


@dataclass
class Node:
    key: int
    lines: list[str]
    parents: list[int] = field(default_factory=list)
    depth: int = 0


def graph_nodes(result: Analysis) -> list[Node]:
    """The drawn nodes, in Caffe's order, each with its parents' keys."""
    nodes: list[Node] = []
    producer: dict[str, int] = {}
    for row in result.layers:
        parents = sorted({producer[b] for b in row.bottoms if b in producer})
        if row.shares_bottom_data and len(parents) == 1:  # a Split: its consumers link to the producer
            for t in row.tops:
                producer[t] = parents[0]
            continue
        if row.tops and all(row.in_place[: len(row.tops)] or [False]) and len(parents) == 1:
            nodes[parents[0]].lines.append(f"+ {row.name} ({row.type})")
            continue
        shape = fmt_value(row.top_shapes) if row.top_shapes else "?"
        node = Node(len(nodes), [f"{row.name} ({row.type})", shape], parents)
        node.depth = max((nodes[p].depth + 1 for p in parents), default=0)
        nodes.append(node)
        for t in row.tops:
            producer[t] = node.key
    return nodes


def dot_source(nodes: list[Node], name: str) -> str:
    """The graph in DOT, every label a quoted string with ``\\`` and ``"`` escaped."""
    def quote(text: str) -> str:
        return text.replace("\\", "\\\\").replace('"', '\\"').replace("\n", " ")

    out = [f'digraph "{quote(name or "net")}" {{', '  node [shape=box, fontname="DejaVu Sans", fontsize=10];']
    for n in nodes:
        label = "\\n".join(quote(t) for t in n.lines)
        out.append(f'  n{n.key} [label="{label}"];')
        out += [f"  n{p} -> n{n.key};" for p in n.parents]
    out.append("}")
    return "\n".join(out) + "\n"


def dot_svg(nodes: list[Node], name: str, timeout: float = 30.0) -> bytes | None:
    """The graph laid out by Graphviz, or None when ``dot`` is absent or fails."""
    exe = shutil.which("dot")
    if exe is None:
        return None
    try:
        done = subprocess.run([exe, "-Tsvg"], input=dot_source(nodes, name).encode("utf-8"),
                              capture_output=True, timeout=timeout, check=False)
    except (OSError, subprocess.SubprocessError):
        return None
    return done.stdout if done.returncode == 0 and done.stdout else None


def layered_svg(nodes: list[Node], char_w: float = 7.0, line_h: float = 13.0) -> bytes:
    """Nodes in rows by depth (longest path from an input), edges as straight lines."""
    rows: dict[int, list[Node]] = {}
    for n in nodes:
        rows.setdefault(n.depth, []).append(n)
    gap_x, gap_y, pad = 24.0, 36.0, 8.0
    size = {n.key: (max(len(t) for t in n.lines) * char_w + 2 * pad, len(n.lines) * line_h + pad) for n in nodes}
    width = max((sum(size[n.key][0] for n in r) + gap_x * (len(r) - 1) for r in rows.values()), default=100.0)
    pos: dict[int, tuple[float, float]] = {}
    y = 10.0
    for depth in sorted(rows):
        row = rows[depth]
        total = sum(size[n.key][0] for n in row) + gap_x * (len(row) - 1)
        x = 10.0 + (width - total) / 2
        for n in row:
            pos[n.key] = (x, y)
            x += size[n.key][0] + gap_x
        y += max(size[n.key][1] for n in row) + gap_y
    parts = [_edge(pos, size, p, n.key, width + 20, gap_y) for n in nodes for p in n.parents]
    parts += [_box(n, pos[n.key], size[n.key], pad, line_h) for n in nodes]
    w, h = width + 20, y - gap_y + 10
    head = (f'<svg xmlns="http://www.w3.org/2000/svg" width="{w:.0f}" height="{h:.0f}" viewBox="0 0 {w:.0f} {h:.0f}" '
            'font-family="DejaVu Sans, Arial, sans-serif" font-size="11">')
    marker = ('<defs><marker id="arrow" viewBox="0 0 10 10" refX="10" refY="5" markerWidth="6" markerHeight="6" '
              'orient="auto"><path d="M0,0L10,5L0,10z" fill="#555"/></marker></defs>')
    return (head + marker + "".join(parts) + "</svg>\n").encode("utf-8")


def _edge(pos: dict[int, tuple[float, float]], size: dict[int, tuple[float, float]], a: int, b: int,
          width: float, gap: float) -> str:
    """A straight line to the next row; an edge skipping rows bows out to the side nearer its target,
    so it does not run through the boxes in between."""
    (ax, ay), (aw, ah) = pos[a], size[a]
    (bx, by), (bw, _) = pos[b], size[b]
    x1, y1, x2, y2 = ax + aw / 2, ay + ah, bx + bw / 2, by
    tail = 'stroke="#555" stroke-width="1" fill="none" marker-end="url(#arrow)"'
    if y2 - y1 <= gap * 1.5:
        return f'<line x1="{x1:.1f}" y1="{y1:.1f}" x2="{x2:.1f}" y2="{y2:.1f}" {tail}/>'
    side = 4.0 if x2 < width / 2 else width - 4.0
    return (f'<path d="M{x1:.1f},{y1:.1f} C{side:.1f},{y1 + gap:.1f} {side:.1f},{y2 - gap:.1f} '
            f'{x2:.1f},{y2:.1f}" {tail}/>')


def _box(node: Node, at: tuple[float, float], size: tuple[float, float], pad: float, line_h: float) -> str:
    x, y = at
    w, h = size
    fill = "#e8f0fe" if node.parents else "#fde8d7"
    bold = ' font-weight="bold"'
    text = "".join(f'<text x="{x + pad:.1f}" y="{y + pad / 2 + line_h * (i + 0.8):.1f}"'
                   f'{bold if i == 0 else ""}>{escape(t)}</text>' for i, t in enumerate(node.lines))
    return f'<rect x="{x:.1f}" y="{y:.1f}" width="{w:.1f}" height="{h:.1f}" rx="4" fill="{fill}" stroke="#336"/>{text}'


def draw(result: Analysis) -> tuple[bytes, str]:
    """The graph as SVG bytes and how it was drawn ("graphviz dot" or "caffecx layered")."""
    nodes = graph_nodes(result)
    svg = dot_svg(nodes, result.net.name)
    return (svg, "graphviz dot") if svg is not None else (layered_svg(nodes), "caffecx layered")
