"""Columns of a chunk's hot rows (the ``findall`` tuples of `wordings.HOT_LINE`), built with numpy.

``runs`` holds, per run of consecutive hot rows, what `LogParser.apply_hot_rows` decided: (first
row, rows, run index, train row before its first lr/loss line, train row after it, position of that
line, line number of the first row, train rows before it). An output line belongs to the last loss
line before it in its run of rows, or else to the train row the parser was on.
"""

from __future__ import annotations

import numpy as np

from caffecx.logs import glog
from caffecx.logs.values import parse_floats, parse_ints

Part = dict[str, np.ndarray]


def hot_columns(rows: list[tuple[bytes, ...]], runs: list[tuple[int, ...]], output_names: dict[bytes, int]
                ) -> tuple[Part, Part, Part, int]:
    """(loss lines, lr lines, output lines, orphan outputs) of a chunk."""
    cols = list(zip(*rows, strict=True))
    meta = np.array(runs, dtype=np.int64).reshape(-1, 8)
    start, count, run, row_before, row_after, first, first_line, rows_before = meta.T
    group = np.repeat(np.arange(len(meta)), count)
    position = np.arange(len(rows)) - start[group]
    is_loss = np.fromiter(map(bool, cols[3]), bool, count=len(rows))
    losses_so_far = np.cumsum(is_loss)
    losses_at_start = (losses_so_far - is_loss)[start]
    loss, lr = loss_part(cols, is_loss, group, position, run, first_line, rows_before,
                         losses_so_far - 1 - losses_at_start[group]), lr_part(cols, group, run)
    outputs = np.flatnonzero(np.fromiter(map(bool, cols[8]), bool, count=len(rows)))
    g = group[outputs]
    seen = losses_so_far[outputs] - losses_at_start[g]
    before_first = position[outputs] < first[g]
    owner = np.where(seen > 0, rows_before[g] + seen - 1, np.where(before_first, row_before[g], row_after[g]))
    keep = owner >= 0
    return loss, lr, output_part(cols, outputs[keep], owner[keep], output_names), int((~keep).sum())


def pick(col: tuple[bytes, ...], at: np.ndarray) -> list[bytes]:
    return [col[i] for i in at.tolist()]


def loss_part(cols: list[tuple[bytes, ...]], is_loss: np.ndarray, group: np.ndarray, position: np.ndarray,
              run: np.ndarray, first_line: np.ndarray, rows_before: np.ndarray, index_in_run: np.ndarray) -> Part:
    at = np.flatnonzero(is_loss)
    g = group[at]
    date, tod = glog.head_stamps(pick(cols[0], at))
    part = {"row": rows_before[g] + index_in_run[at], "run": run[g], "iteration": parse_ints(pick(cols[3], at)),
            "interval_iters": parse_ints(pick(cols[6], at)), "date": date, "tod": tod,
            "line": first_line[g] + position[at], "lr": np.full(len(at), np.nan),
            "lr_missing": np.ones(len(at), dtype=bool)}
    for key, col in (("loss", 7), ("iters_per_s", 4), ("s_per_interval", 5)):
        part[key], part[key + "_missing"] = parse_floats(pick(cols[col], at))
    return part


def lr_part(cols: list[tuple[bytes, ...]], group: np.ndarray, run: np.ndarray) -> Part:
    at = np.flatnonzero(np.fromiter(map(bool, cols[1]), bool, count=len(cols[1])))
    lr, missing = parse_floats(pick(cols[2], at))
    return {"run": run[group[at]], "iteration": parse_ints(pick(cols[1], at)), "lr": lr, "lr_missing": missing}


def output_part(cols: list[tuple[bytes, ...]], at: np.ndarray, owner: np.ndarray, output_names: dict[bytes, int]
                ) -> Part:
    names = pick(cols[9], at)
    for name in set(names):
        output_names.setdefault(name, len(output_names))
    part = {"row": owner, "index": parse_ints(pick(cols[8], at)),
            "name": np.fromiter(map(output_names.__getitem__, names), np.int64, count=len(names))}
    for key, col in (("value", 10), ("loss_weight", 11), ("weighted", 12)):
        part[key], part[key + "_missing"] = parse_floats(pick(cols[col], at))
    return part
