"""Columns of a chunk's hot rows (the ``findall`` tuples of `wordings.HOT_LINE`), built with numpy.

``runs`` holds, per run of consecutive hot rows, what `LogParser.apply_hot_rows` decided: (first
row, rows, run index, train row before its first lr/loss line, train row after it, position of that
line, line number of the first row, train rows before it). An output line belongs to the last loss
line before it in its run of rows, or else to the train row the parser was on.

Each row is one wording (its groups are set, the others' are ``b""``), so one pass over the rows
sorts them by kind; then each kind's rows are picked out and only the columns it has are read.
"""

from __future__ import annotations

from collections.abc import Callable
from operator import itemgetter

import numpy as np

from caffecx.logs.values import parse_floats, parse_ints

Part = dict[str, np.ndarray]
Row = tuple[bytes, ...]
LR, LOSS, OUTPUT = 0, 1, 2  # the row's wording: groups 1-2, 3-7 or 8-12 of HOT_LINE (items 0-1, 2-6, 7-11)
Stamps = Callable[[np.ndarray, np.ndarray], tuple[np.ndarray, np.ndarray]]  # (loss rows, their lines) -> stamps


def row_kinds(rows: list[Row]) -> bytes:
    """Each row's wording (`LR`, `LOSS` or `OUTPUT`), one byte per row."""
    return bytes([OUTPUT if r[7] else LOSS if r[2] else LR for r in rows])


def hot_columns(rows: list[Row], kinds: bytes, runs: list[tuple[int, ...]], output_names: dict[bytes, int],
                stamps: Stamps) -> tuple[Part, Part, Part, int]:
    """(loss lines, lr lines, output lines, orphan outputs) of a chunk's rows (and their `row_kinds`);
    ``stamps`` gives the loss lines' dates and times of day (from their glog prefixes)."""
    kind = np.frombuffer(kinds, dtype=np.uint8)
    meta = np.array(runs, dtype=np.int64).reshape(-1, 8)
    start, count, run, row_before, row_after, first, first_line, rows_before = meta.T
    group = np.repeat(np.arange(len(meta)), count)
    position = np.arange(len(rows)) - start[group]
    is_loss = kind == LOSS
    losses_so_far = np.cumsum(is_loss)
    losses_at_start = (losses_so_far - is_loss)[start]
    at = np.flatnonzero(is_loss)
    g = group[at]
    line = first_line[g] + position[at]
    loss = loss_part(pick(rows, at), run[g], rows_before[g] + losses_so_far[at] - 1 - losses_at_start[g], line,
                     stamps(at, line))
    at = np.flatnonzero(kind == LR)
    lr = lr_part(pick(rows, at), run[group[at]])
    outputs = np.flatnonzero(kind == OUTPUT)
    g = group[outputs]
    seen = losses_so_far[outputs] - losses_at_start[g]
    before_first = position[outputs] < first[g]
    owner = np.where(seen > 0, rows_before[g] + seen - 1, np.where(before_first, row_before[g], row_after[g]))
    keep = owner >= 0
    return loss, lr, output_part(pick(rows, outputs[keep]), owner[keep], output_names), int((~keep).sum())


def pick(rows: list[Row], at: np.ndarray) -> list[Row]:
    if len(at) < 2:
        return [rows[i] for i in at.tolist()]
    return list(itemgetter(*at.tolist())(rows))


def column(rows: list[Row], group: int) -> list[bytes]:
    return [r[group] for r in rows]


def loss_part(rows: list[Row], run: np.ndarray, row: np.ndarray, line: np.ndarray,
              stamps: tuple[np.ndarray, np.ndarray]) -> Part:
    n = len(rows)
    part = {"row": row, "run": run, "iteration": parse_ints(column(rows, 2)),
            "interval_iters": parse_ints(column(rows, 5)), "date": stamps[0], "tod": stamps[1],
            "line": line, "lr": np.full(n, np.nan), "lr_missing": np.ones(n, dtype=bool)}
    for key, group in (("loss", 6), ("iters_per_s", 3), ("s_per_interval", 4)):
        part[key], part[key + "_missing"] = parse_floats(column(rows, group))
    return part


def lr_part(rows: list[Row], run: np.ndarray) -> Part:
    lr, missing = parse_floats(column(rows, 1))
    return {"run": run, "iteration": parse_ints(column(rows, 0)), "lr": lr, "lr_missing": missing}


def output_part(rows: list[Row], owner: np.ndarray, output_names: dict[bytes, int]) -> Part:
    names = column(rows, 8)
    for name in set(names):
        output_names.setdefault(name, len(output_names))
    part = {"row": owner, "index": parse_ints(column(rows, 7)),
            "name": np.fromiter(map(output_names.__getitem__, names), np.int64, count=len(names))}
    for key, group in (("value", 9), ("loss_weight", 10), ("weighted", 11)):
        part[key], part[key + "_missing"] = parse_floats(column(rows, group))
    return part
