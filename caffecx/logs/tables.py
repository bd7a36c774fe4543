"""`CaffeLog`: the parsed log as pandas DataFrames, plus parse_log.py-style CSV and JSON.

Train rows are the displays: ``Iteration N, loss = l`` (or 2017's ``Iteration N (x iter/s, ys/n
iters), loss = l``), with the ``Train net output`` lines after it and the ``Iteration N, lr = r`` line
of the same run and iteration; the final ``Iteration max_iter, loss = l`` that Caffe prints after the
loop is a row too (Caffe's ``tools/extra/parse_log.py`` drops it). Test rows are one per test phase
and test net, with every ``Test net output`` (2014: ``Test score #k``, named ``score_k``).

Values keep what Caffe printed: exponents, ``nan``, ``inf``. In the DataFrames a value that was not
logged is NaN as well; `CaffeLog.to_json` and the CSV writer tell the two apart (see `json_value`).
"""

from __future__ import annotations

import io
import json
import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from operator import attrgetter
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from caffecx.errors import CaffecxError
from caffecx.logs import glog
from caffecx.logs.records import LogMessage, NetLog, RunLog, echo_layer_types, with_children

TRAIN_FIXED = ["run", "iteration", "seconds", "loss", "lr", "iters_per_s", "s_per_interval", "interval_iters",
               "line"]
TEST_FIXED = ["run", "iteration", "net", "seconds", "lr", "line"]
TEST_BATCH_COLUMNS = ["run", "batch", "name", "value", "line"]  # caffe test: ``Batch N, name = v``
TEST_RESULT_COLUMNS = ["run", "name", "value", "loss_weight", "weighted", "line"]  # its means, ``Loss: x``
TIMING_COLUMNS = ["run", "layer", "direction", "ms", "line"]  # caffe time: per layer, then the averages


def output_column(name: str, taken: set[str]) -> str:
    """Column of a net output: its own name unless a fixed column has it (``loss`` of the train
    table is Caffe's displayed loss), then ``output:<name>``."""
    col = name
    while col in taken:
        col = f"output:{col}"
    taken.add(col)
    return col


@dataclass
class CaffeLog:
    """Everything one Caffe log says. DataFrames: ``train``, ``test``, ``outputs`` (long form, one row per
    output line), ``layers``, ``nets``, ``snapshots``, ``restores``; structured: ``runs`` (`RunLog`),
    ``net_logs`` (`NetLog`, with `LayerRecord` s), ``messages`` (W/E/F lines)."""

    path: str | None
    runs: list[RunLog]
    net_logs: list[NetLog]
    train: pd.DataFrame
    test: pd.DataFrame
    outputs: pd.DataFrame
    layers: pd.DataFrame
    nets: pd.DataFrame
    snapshots: pd.DataFrame
    restores: pd.DataFrame
    messages: list[LogMessage]
    lines: int
    glog_lines: int
    orphan_outputs: int = 0
    missing: dict[str, pd.DataFrame] = field(default_factory=dict, repr=False)
    test_batches: pd.DataFrame = field(default_factory=lambda: pd.DataFrame(columns=TEST_BATCH_COLUMNS))
    test_results: pd.DataFrame = field(default_factory=lambda: pd.DataFrame(columns=TEST_RESULT_COLUMNS))
    timing: pd.DataFrame = field(default_factory=lambda: pd.DataFrame(columns=TIMING_COLUMNS))

    # ------------------------------------------------------------------ convenience
    @property
    def solver(self) -> Any | None:
        """The SolverParameter echoed by the first run that has one (None without echo or schema)."""
        for run in self.runs:
            if run.solver_text is not None:
                return run.solver
        return None

    @property
    def solver_text(self) -> str | None:
        for run in self.runs:
            if run.solver_text is not None:
                return run.solver_text
        return None

    @property
    def fatal(self) -> str | None:
        """Why the last run died (its first ``F`` line, e.g. ``Check failed: ...``, or the signal),
        None when it did not."""
        if not self.runs:
            return None
        last = self.runs[-1]
        return last.fatal if last.fatal is not None else last.aborted

    @property
    def errors(self) -> list[LogMessage]:
        return [m for m in self.messages if m.severity in ("E", "F")]

    @property
    def warnings(self) -> list[LogMessage]:
        return [m for m in self.messages if m.severity == "W"]

    def net(self, phase: str | None = None, test_index: int | None = None, run: int | None = None) -> NetLog | None:
        """The last net matching (phase, test index, run): ``log.net("TEST", 0)``."""
        for net in reversed(self.net_logs):
            if phase is not None and net.phase != phase:
                continue
            if test_index is not None and net.test_index != test_index:
                continue
            if run is not None and net.run != run:
                continue
            return net
        return None

    def summary(self) -> dict[str, Any]:
        it = self.train["iteration"].dropna()
        return {
            "path": self.path,
            "lines": self.lines,
            "glog_lines": self.glog_lines,
            "runs": len(self.runs),
            "nets": len(self.net_logs),
            "train_rows": len(self.train),
            "first_iteration": None if it.empty else int(it.iloc[0]),
            "last_iteration": None if it.empty else int(it.iloc[-1]),
            "test_rows": len(self.test),
            "snapshots": len(self.snapshots),
            "status": self.runs[-1].status if self.runs else None,
            "fatal": self.fatal,
        }

    # ------------------------------------------------------------------ exports
    def to_json(self, tables: bool = True) -> dict[str, Any]:
        """A JSON-ready dict. Numbers that were not logged are ``null``; logged non-finite values are
        the strings ``"nan"``, ``"inf"`` and ``"-inf"`` (JSON has no NaN). ``tables=False`` leaves the
        row tables empty (`caffecx.logs.formats` streams them)."""
        def rows(key: str) -> list[dict[str, Any]]:
            return list(map(json.loads, row_json(getattr(self, key), self.missing.get(key), FIRST.get(key)))) \
                if tables else []

        solver = self.solver
        if solver is not None:
            from google.protobuf.json_format import MessageToDict

            solver_json: dict[str, Any] | None = MessageToDict(solver, preserving_proto_field_name=True)
        else:
            solver_json = echo_to_dict(self.solver_text) if self.solver_text is not None else None
        return {
            "path": self.path,
            "nets": [net.to_dict() for net in self.net_logs],
            "train": rows("train"),
            "test": rows("test"),
            "snapshots": rows("snapshots"),
            "restores": rows("restores"),
            "solver": solver_json,
            "runs": [run.to_dict() for run in self.runs],
            "errors": [{"line": m.line, "severity": m.severity, "message": m.message, "run": m.run}
                       for m in self.errors],
            "fatal": self.fatal,
            "test_batches": rows("test_batches"),
            "test_results": rows("test_results"),
            "timing": rows("timing"),
        }

    def parse_log_frames(self) -> tuple[pd.DataFrame, pd.DataFrame]:
        """The train and test tables with Caffe's ``parse_log.py`` column names first: ``NumIters,
        Seconds, LearningRate`` and one column per net output under its own name; then what
        parse_log.py does not write (``TrainingLoss``: the displayed loss, ``IterPerSec``, ``Run``,
        ``TestNet``)."""
        tr, te = self.train, self.test
        train = pd.DataFrame({"NumIters": tr["iteration"], "Seconds": tr["seconds"], "LearningRate": tr["lr"]})
        train_missing = pd.DataFrame({"NumIters": tr["iteration"].isna(), "Seconds": tr["seconds"].isna(),
                                      "LearningRate": self._miss("train", "lr")})
        for col in tr.columns:
            if col not in TRAIN_FIXED:
                name = col.removeprefix("output:") if col.startswith("output:") else col
                train[name] = tr[col]
                train_missing[name] = self._miss("train", col)
        for src, dst in (("loss", "TrainingLoss"), ("iters_per_s", "IterPerSec"), ("run", "Run")):
            train[dst] = tr[src]
            train_missing[dst] = self._miss("train", src)
        test = pd.DataFrame({"NumIters": te["iteration"], "Seconds": te["seconds"], "LearningRate": te["lr"]})
        test_missing = pd.DataFrame({"NumIters": te["iteration"].isna(), "Seconds": te["seconds"].isna(),
                                     "LearningRate": te["lr"].isna()})
        for col in te.columns:
            if col not in TEST_FIXED:
                name = col.removeprefix("output:") if col.startswith("output:") else col
                test[name] = te[col]
                test_missing[name] = self._miss("test", col)
        for src, dst in (("net", "TestNet"), ("run", "Run")):
            test[dst] = te[src]
            test_missing[dst] = te[src].isna()
        train.attrs["missing"] = train_missing
        test.attrs["missing"] = test_missing
        return train, test

    def _miss(self, table: str, col: str) -> pd.Series:
        frame = self.train if table == "train" else self.test
        m = self.missing.get(table)
        if m is not None and col in m:
            return m[col]
        return frame[col].isna()

    def csv_tables(self, name: str | None = None) -> dict[str, bytes]:
        """``{"<name>.train": bytes, "<name>.test": bytes}``: the files `write_csv` writes."""
        base = name or (Path(self.path).name if self.path else "caffe.log")
        files = {}
        for frame, suffix in zip(self.parse_log_frames(), (".train", ".test"), strict=True):
            buf = io.StringIO(newline="")
            write_frame_csv(frame, frame.attrs["missing"], buf)
            files[base + suffix] = buf.getvalue().encode("utf-8", "surrogateescape")
        return files

    def write_csv(self, directory: str | Path, name: str | None = None) -> tuple[Path, Path]:
        """Write ``<name>.train`` and ``<name>.test`` (``name`` defaults to the log's file name) as
        Caffe's ``tools/extra/parse_log.py`` does, but with every row and exact values: both files or
        neither (`caffecx.io.outputs`; a folder that cannot be written is a located `CaffecxError`)."""
        from caffecx.io.outputs import check_folder, write_outputs

        out = check_folder(directory, what="--csv folder")
        files = self.csv_tables(name)
        for fname in files:
            if fname != Path(fname).name or fname in (".train", ".test"):
                raise CaffecxError(f"{fname!r} is not a plain file name for the CSV tables", path=str(out))
        paths = write_outputs({out / fname: data for fname, data in files.items()}, make_parents=True)
        return paths[0], paths[1]


# ---------------------------------------------------------------------------------------------
# value formatting


def json_value(v: Any, missing: bool = False) -> Any:
    """A cell for JSON/CSV: None when not logged; non-finite floats as ``"nan"``/``"inf"``/``"-inf"``;
    integral numpy values as int."""
    if missing or v is None or v is pd.NA:
        return None
    if isinstance(v, (np.integer,)):
        return int(v)
    if isinstance(v, (float, np.floating)):
        f = float(v)
        if math.isnan(f):
            return "nan"
        if math.isinf(f):
            return "inf" if f > 0 else "-inf"
        return f
    if isinstance(v, np.bool_):
        return bool(v)
    if isinstance(v, np.ndarray):
        return v.tolist()
    return v


#: the columns each row table's JSON rows lead with
FIRST = {"train": ["iteration", "loss", "lr", "seconds", "iters_per_s"], "test": ["iteration", "net"]}
#: the tables `CaffeLog.to_json` gives as lists of rows
ROW_TABLES = ("train", "test", "snapshots", "restores", "test_batches", "test_results", "timing")


def row_json(frame: pd.DataFrame, missing: pd.DataFrame | None = None, first: list[str] | None = None,
             lead: dict[str, Any] | None = None) -> list[str]:
    """Each row of ``frame`` as one JSON object text (``lead`` keys first, then ``first`` columns), made
    column by column (`column_texts`)."""
    cols = [c for c in (first or []) if c in frame.columns] + [c for c in frame.columns if c not in (first or [])]
    if not len(frame):
        return []
    texts = []
    for c in cols:
        miss = missing[c].to_numpy(dtype=bool) if missing is not None and c in missing else frame[c].isna().to_numpy()
        texts.append(column_texts(frame[c], miss, "json"))
    head = "".join(f"{json.dumps(k)}: {json.dumps(v)}, " for k, v in (lead or {}).items())
    template = "{" + head.replace("%", "%%") + ", ".join(json.dumps(str(c)).replace("%", "%%") + ": %s"
                                                         for c in cols) + "}"
    return list(map(template.__mod__, zip(*texts, strict=True)))


_NON_FINITE = {"json": ('"nan"', '"inf"', '"-inf"', "null"), "csv": ("nan", "inf", "-inf", "")}


def column_texts(values: pd.Series, missing: np.ndarray, fmt: str = "csv") -> list[str]:
    """One column as JSON (``fmt="json"``) or CSV cell texts: a value not logged is ``null`` / an empty
    cell, a logged non-finite float ``"nan"`` / ``nan`` (``inf``, ``-inf``); numbers keep every digit
    (``repr``), each distinct one formatted once (columns repeat their values)."""
    nan, inf, minus_inf, null = _NON_FINITE[fmt]
    if values.dtype.kind == "f":
        arr = values.to_numpy(dtype=np.float64)
        out = texts_of(arr, repr)
        for i in np.flatnonzero(~np.isfinite(arr) | missing).tolist():
            out[i] = null if missing[i] else nan if np.isnan(arr[i]) else inf if arr[i] > 0 else minus_inf
        return out
    if values.dtype.kind in "iu" or isinstance(values.dtype, pd.Int64Dtype):
        missing = missing | values.isna().to_numpy()
        out = texts_of(values.to_numpy(dtype=np.int64, na_value=0), str)
        for i in np.flatnonzero(missing).tolist():
            out[i] = null
        return out
    if fmt == "json":
        return [null if m or v is None or v is pd.NA or (isinstance(v, float) and np.isnan(v)) else json.dumps(v)
                for v, m in zip(values.tolist(), missing.tolist(), strict=True)]
    cells = [json_value(v, m) for v, m in zip(values.tolist(), missing.tolist(), strict=True)]
    return ["" if v is None else repr(v) if isinstance(v, float) else str(v) for v in cells]


def texts_of(arr: np.ndarray, fmt: Any) -> list[str]:
    """``fmt`` of each value, computed once per distinct value (pandas' hash factorization; floats by
    their bits, so that ``-0.0`` stays apart from ``0.0``)."""
    codes, uniques = pd.factorize(arr.view(np.int64), use_na_sentinel=False)
    return np.array(list(map(fmt, uniques.view(arr.dtype).tolist())), dtype=object)[codes].tolist()


def csv_quoted(text: str) -> str:
    """A CSV cell as Python's csv module writes it (QUOTE_MINIMAL): quoted, its quotes doubled, when it
    holds a comma, a quote or a line break."""
    return '"' + text.replace('"', '""') + '"' if any(ch in text for ch in ',"\r\n') else text


def write_frame_csv(frame: pd.DataFrame, missing: pd.DataFrame, path: Path | Any) -> None:
    """CSV with empty cells for values not logged and ``nan``/``inf`` for logged non-finite ones: each
    column's texts made at once (`column_texts`), the rows joined in C."""
    no = np.zeros(len(frame), dtype=bool)
    columns = []
    for c in frame.columns:
        texts = column_texts(frame[c], missing[c].to_numpy(dtype=bool) if c in missing else no)
        columns.append(texts if frame[c].dtype.kind in "fiu" else [csv_quoted(t) for t in texts])
    lines = [",".join(csv_quoted(str(c)) for c in frame.columns), *map(",".join, zip(*columns, strict=True))]
    text = "\n".join(lines) + "\n"
    if isinstance(path, (str, Path)):
        with open(path, "w", newline="") as f:
            f.write(text)
    else:
        path.write(text)


def echo_to_dict(text: str) -> dict[str, Any]:
    """A text-format echo as nested dicts without the schema (repeated fields become lists)."""
    root: dict[str, Any] = {}
    stack = [root]

    def put(d: dict[str, Any], key: str, value: Any) -> None:
        if key in d:
            if not isinstance(d[key], list) or (isinstance(value, list)):
                d[key] = [d[key]]
            d[key].append(value)
        else:
            d[key] = value

    for raw in text.splitlines():
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        if line == "}":
            if len(stack) > 1:
                stack.pop()
            continue
        if line.endswith("{"):
            child: dict[str, Any] = {}
            put(stack[-1], line[:-1].strip().rstrip(":").strip(), child)
            stack.append(child)
            continue
        key, sep, value = line.partition(":")
        if not sep:
            continue
        value = value.strip()
        parsed: Any
        if len(value) >= 2 and value[0] == value[-1] == '"':
            parsed = value[1:-1]
        else:
            try:
                parsed = int(value)
            except ValueError:
                try:
                    parsed = float(value)
                except ValueError:
                    parsed = {"true": True, "false": False}.get(value, value)
        put(stack[-1], key.strip(), parsed)
    return root


# ---------------------------------------------------------------------------------------------
# building the log from the parser's state


_KEY = 1 << 40  # (run, iteration) as one int64 key: run * _KEY + iteration


def _int_na(values: np.ndarray) -> pd.arrays.IntegerArray:
    """int64 values with -1 meaning "not logged" -> a nullable Int64 array."""
    values = np.asarray(values, dtype=np.int64)
    return pd.arrays.IntegerArray(values.copy(), values < 0)


def _concat(parts: list[dict[str, np.ndarray]], key: str, dtype: Any) -> np.ndarray:
    if not parts:
        return np.empty(0, dtype=dtype)
    return np.concatenate([p[key] for p in parts])


def _stamps(parser: Any, loss_line: np.ndarray, loss_date: np.ndarray, loss_tod: np.ndarray
            ) -> tuple[np.ndarray, list[float], float]:
    """Seconds since the start for the train rows and for the parser's other timed items.

    The start is the first ``Solving`` line (as Caffe's parse_log.py/extract_seconds.py take it), or
    the first stamped line when there is none."""
    timed = parser.timed
    heads = [t[1] for t in timed]
    codes, tods = glog.head_stamps(heads)
    t_lines = np.array([t[0] for t in timed], dtype=np.int64)
    if _nondecreasing(loss_line) and _nondecreasing(t_lines):  # both in file order: merge them (stably)
        pos = np.concatenate([np.arange(len(loss_line)) + np.searchsorted(t_lines, loss_line, side="left"),
                              np.searchsorted(loss_line, t_lines, side="right") + np.arange(len(t_lines))])
        order = np.empty_like(pos)
        order[pos] = np.arange(len(pos))
    else:
        order = np.argsort(np.concatenate([loss_line, t_lines]), kind="stable")
    all_codes = np.concatenate([loss_date, codes])
    all_tods = np.concatenate([loss_tod, tods])
    abs_sorted = glog.absolute_seconds(all_codes[order], all_tods[order])
    absolute = np.empty_like(abs_sorted)
    absolute[order] = abs_sorted
    origin = math.nan
    for i, t in enumerate(timed):
        if t[2] == "solving" and not math.isnan(absolute[len(loss_line) + i]):
            origin = float(absolute[len(loss_line) + i])
            break
    if math.isnan(origin):
        finite = abs_sorted[~np.isnan(abs_sorted)]
        origin = float(finite[0]) if len(finite) else math.nan
    seconds = np.round(absolute - origin, 6)  # glog stamps are microseconds
    return seconds[:len(loss_line)], seconds[len(loss_line):].tolist(), origin


def _nondecreasing(a: np.ndarray) -> bool:
    return bool((a[1:] >= a[:-1]).all()) if len(a) > 1 else True


def _lex_sorted(major: np.ndarray, minor: np.ndarray) -> bool:
    """Whether (major, minor) pairs are already in order (a stable lexsort would be the identity)."""
    if len(major) < 2:
        return True
    dm = major[1:] - major[:-1]
    return bool(((dm > 0) | ((dm == 0) & (minor[1:] >= minor[:-1]))).all())


def _obj_full(n: int, value: Any) -> np.ndarray:
    out = np.empty(n, dtype=object)
    out.fill(value)  # (np.full with an object is 20x slower)
    return out


def _str_array(values: np.ndarray) -> Any:
    """An object array of str as pandas' default string column (what a list of str is inferred to)."""
    return pd.array(values, dtype="str")


def _first_appearance(codes: np.ndarray, n_codes: int) -> list[int]:
    """The distinct values of ``codes`` (in ``range(n_codes)``) in order of first appearance."""
    if len(codes) == 0:
        return []
    if n_codes <= 32:
        firsts = []
        for c in range(n_codes):
            hit = codes == c
            i = int(hit.argmax())
            if hit[i]:
                firsts.append((i, c))
        return [c for _, c in sorted(firsts)]
    _, first = np.unique(codes, return_index=True)
    return codes[np.sort(first)].tolist()


def _loss_rows(parser: Any) -> tuple[dict[str, np.ndarray], np.ndarray | None]:
    """The display lines' columns (all chunks' parts concatenated) in row-id order, and the order that
    put them there (None when they came in order)."""
    rp = parser.loss_parts
    rows = {k: _concat(rp, k, float) for k in ("loss", "lr", "iters_per_s", "s_per_interval", "tod")}
    for k in ("row", "run", "iteration", "interval_iters", "date", "line"):
        rows[k] = _concat(rp, k, np.int64)
    for k in ("loss_missing", "lr_missing", "iters_per_s_missing", "s_per_interval_missing"):
        rows[k] = _concat(rp, k, bool)
    parser.loss_parts = []  # concatenated: release the per-chunk parts before the tables are made
    if _nondecreasing(rows["row"]):  # parts come per chunk and source; rows have ids
        return rows, None
    by_row = np.argsort(rows["row"], kind="stable")
    return {k: v[by_row] for k, v in rows.items()}, by_row


def _lr_lines(parser: Any) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """``Iteration N, lr = x`` lines as (run, iteration) keys in order with their lr and missing flag;
    of lines with the same key the last one wins."""
    sp = parser.lr_parts
    keys = _concat(sp, "run", np.int64) * _KEY + _concat(sp, "iteration", np.int64)
    lr, missing = _concat(sp, "lr", float), _concat(sp, "lr_missing", bool)
    parser.lr_parts = []
    if len(keys) < 2 or bool((keys[1:] > keys[:-1]).all()):
        return keys, lr, missing  # distinct and sorted already: each is its own last
    last = len(keys) - 1 - np.unique(keys[::-1], return_index=True)[1]
    last = last[np.argsort(keys[last], kind="stable")]
    return keys[last], lr[last], missing[last]


def _join_lr(rows: dict[str, np.ndarray], keys: np.ndarray, lr: np.ndarray, missing: np.ndarray
             ) -> list[tuple[int, int, float, bool]]:
    """Each display row takes the lr line of its run and iteration (when it logged none itself); the
    lr lines of no display come back as (run, iteration, lr, missing) rows of their own."""
    if not len(keys):
        return []
    row_keys = rows["run"] * _KEY + rows["iteration"]
    row_lr, row_missing = rows["lr"], rows["lr_missing"]
    if len(row_keys) == len(keys) and np.array_equal(row_keys, keys):  # one lr line per display, in order
        fill = row_missing.copy()
        row_lr[fill], row_missing[fill] = lr[fill], missing[fill]
        return []
    at = np.minimum(np.searchsorted(keys, row_keys), len(keys) - 1)
    hit = keys[at] == row_keys
    fill = hit & row_missing
    row_lr[fill], row_missing[fill] = lr[at[fill]], missing[at[fill]]
    used = np.zeros(len(keys), dtype=bool)
    used[at[hit]] = True
    return [(int(keys[i] // _KEY), int(keys[i] % _KEY), float(lr[i]), bool(missing[i]))
            for i in np.flatnonzero(~used).tolist()]


def _train_columns(rows: dict[str, np.ndarray], seconds: np.ndarray, extra: list[tuple[int, int, float, bool]]
                   ) -> tuple[dict[str, np.ndarray], dict[str, np.ndarray]]:
    """The fixed train columns and their missing flags: the display rows, then the lone lr rows."""
    m = len(extra)

    def grow(a: np.ndarray, fill: Any, values: Sequence[Any] = ()) -> np.ndarray:
        return np.concatenate([a, np.asarray(values, dtype=a.dtype) if values else np.full(m, fill, dtype=a.dtype)]
                              ) if m else a

    runs, iterations, lrs, lr_missing = zip(*extra, strict=True) if m else ((), (), (), ())
    cols = {"run": grow(rows["run"], 0, runs), "iteration": grow(rows["iteration"], 0, iterations),
            "seconds": grow(seconds, np.nan), "loss": grow(rows["loss"], np.nan), "lr": grow(rows["lr"], np.nan, lrs),
            "iters_per_s": grow(rows["iters_per_s"], np.nan), "s_per_interval": grow(rows["s_per_interval"], np.nan),
            "interval_iters": grow(rows["interval_iters"], -1), "line": grow(rows["line"], -1)}
    miss = {"loss": grow(rows["loss_missing"], True), "lr": grow(rows["lr_missing"], True, lr_missing),
            "iters_per_s": grow(rows["iters_per_s_missing"], True),
            "s_per_interval": grow(rows["s_per_interval_missing"], True)}
    return cols, miss


def _train_outputs(parser: Any, by_row: np.ndarray | None) -> dict[str, np.ndarray]:
    """The ``Train net output`` lines (row position, name code, index, value, its missing flag, loss
    weight, weighted value) sorted by row, then output index."""
    op = parser.output_parts
    out = {"row": _concat(op, "row", np.int64), "name": _concat(op, "name", np.int64),
           "index": _concat(op, "index", np.int64), "value": _concat(op, "value", float),
           "value_missing": _concat(op, "value_missing", bool)}
    for key in ("loss_weight", "weighted"):
        out[key] = _concat(op, key, float)
        out[key][_concat(op, key + "_missing", bool)] = np.nan
    parser.output_parts = []
    if by_row is not None:
        out["row"] = np.argsort(by_row)[out["row"]]  # row ids -> positions in the row table
    if not _lex_sorted(out["row"], out["index"]):
        order = np.lexsort((out["index"], out["row"]))
        out = {k: v[order] for k, v in out.items()}
    return out


def _output_columns(out: dict[str, np.ndarray], names: dict[int, str], total: int
                    ) -> tuple[dict[str, np.ndarray], dict[str, np.ndarray]]:
    """One train column per output name (in order of first appearance) and its missing flags."""
    taken = set(TRAIN_FIXED)
    cols: dict[str, np.ndarray] = {}
    miss: dict[str, np.ndarray] = {}
    for code in _first_appearance(out["name"], len(names)):
        sel = out["name"] == code
        rows = out["row"][sel]
        name = output_column(names[code], taken)
        cols[name], miss[name] = np.full(total, np.nan), np.ones(total, dtype=bool)
        cols[name][rows], miss[name][rows] = out["value"][sel], out["value_missing"][sel]
    return cols, miss


def _train_frame(parser: Any) -> tuple[pd.DataFrame, pd.DataFrame, dict[str, Any], list[float]]:
    """The train table (one row per display, lone lr lines after), its missing flags, the long table
    of its outputs and the seconds of the parser's other timed items; rows in (run, iteration) order."""
    rows, by_row = _loss_rows(parser)
    train_seconds, other_seconds, _ = _stamps(parser, rows["line"], rows["date"], rows["tod"])
    cols, miss = _train_columns(rows, train_seconds, _join_lr(rows, *_lr_lines(parser)))
    del rows
    total = len(cols["run"])
    names = {code: name.decode("utf-8", "replace") for name, code in parser.output_names.items()}
    out = _train_outputs(parser, by_row)
    out_cols, out_miss = _output_columns(out, names, total)
    data: dict[str, Any] = dict(cols)
    data["iteration"] = pd.arrays.IntegerArray(cols["iteration"], np.zeros(total, dtype=bool))
    data["interval_iters"] = _int_na(cols["interval_iters"])
    data["line"] = _int_na(cols["line"])
    data.update(out_cols)
    missing_cols = {"run": np.zeros(total, dtype=bool), "iteration": np.zeros(total, dtype=bool),
                    "seconds": np.isnan(cols["seconds"]), **miss,
                    "interval_iters": data["interval_iters"]._mask.copy(), "line": data["line"]._mask.copy()}
    missing_cols = {c: missing_cols[c] for c in TRAIN_FIXED} | out_miss
    if not _lex_sorted(cols["run"], cols["iteration"]):  # rows of a key stay in file order
        order = np.lexsort((np.arange(total), cols["iteration"], cols["run"]))
        data = {k: v[order] for k, v in data.items()}
        missing_cols = {k: v[order] for k, v in missing_cols.items()}
    k, o_row = len(out["row"]), out["row"]
    name_table = np.array([names[c] for c in range(len(names))] or [""], dtype=object)
    long = {"run": cols["run"][o_row], "phase": _obj_full(k, "TRAIN"),
            "net": np.zeros(k, dtype=np.int64), "net_missing": np.ones(k, dtype=bool),
            "iteration": cols["iteration"][o_row], "iteration_missing": np.zeros(k, dtype=bool),
            "index": out["index"], "index_missing": None, "name": name_table[out["name"]],
            "value": out["value"], "loss_weight": out["loss_weight"], "weighted": out["weighted"]}
    return pd.DataFrame(data, copy=False), pd.DataFrame(missing_cols, copy=False), long, other_seconds


def _lr_at(train: pd.DataFrame, run: np.ndarray, iteration: np.ndarray) -> np.ndarray:
    """The lr logged at the display of each (run, iteration) (nan where there is none)."""
    lr = np.full(len(run), np.nan)
    if not len(train) or not len(run):
        return lr
    train_lr = train["lr"].to_numpy()
    keep = ~np.isnan(train_lr)
    keys = (train["run"].to_numpy() * _KEY + train["iteration"].to_numpy(dtype=np.int64, na_value=-1))[keep]
    if not len(keys):
        return lr
    if _nondecreasing(keys):
        first = np.flatnonzero(np.concatenate([[True], keys[1:] != keys[:-1]]))
    else:
        first = np.unique(keys, return_index=True)[1]
    keys, train_lr = keys[first], train_lr[keep][first]
    wanted = run * _KEY + iteration
    at = np.minimum(np.searchsorted(keys, wanted), len(keys) - 1)
    hit = (keys[at] == wanted) & (iteration >= 0)
    lr[hit] = train_lr[at[hit]]
    return lr


def _test_outputs(rows: list[dict[str, Any]]) -> tuple[list[str], list[tuple[Any, ...]], np.ndarray]:
    """The test rows' outputs, flattened: names, (index, value, loss weight, weighted, raw text) and
    the number of outputs of each row."""
    counts = np.fromiter((len(r["outputs"]) for r in rows), np.int64, count=len(rows))
    names: list[str] = []
    got: list[tuple[Any, ...]] = []
    for r in rows:
        names += r["outputs"]
        got += r["outputs"].values()
    return names, got, counts


def _test_frame(parser: Any, train: pd.DataFrame, seconds_of: dict[int, float]
                ) -> tuple[pd.DataFrame, pd.DataFrame, dict[str, Any]]:
    """The test table (one row per test phase with outputs, one column per output name), its missing
    flags and the long table of its outputs."""
    rows = [r for r in parser.tests if r["outputs"]]
    n = len(rows)
    names, got, counts = _test_outputs(rows)
    col_of = {name: j for j, name in enumerate(dict.fromkeys(names))}  # in order of first appearance
    k = len(names)
    idx_l, val_l, w_l, c_l, raw_l = zip(*got, strict=True) if got else ((), (), (), (), ())
    o_val = np.array(val_l, dtype=float)
    run = np.fromiter((r["run"] for r in rows), np.int64, count=n)
    it = np.fromiter((-1 if r["iteration"] is None else r["iteration"] for r in rows), np.int64, count=n)
    net = np.fromiter((-1 if r["net"] is None else r["net"] for r in rows), np.int64, count=n)
    seconds = np.fromiter((seconds_of.get(id(r), math.nan) for r in rows), np.float64, count=n)
    lr = _lr_at(train, run, it)
    data: dict[str, Any] = {"run": run, "iteration": _int_na(it), "net": _int_na(net), "seconds": seconds, "lr": lr,
                            "line": _int_na(np.fromiter((r["line"] for r in rows), np.int64, count=n))}
    missing_cols: dict[str, np.ndarray] = {
        "run": np.zeros(n, dtype=bool), "iteration": data["iteration"]._mask.copy(),
        "net": data["net"]._mask.copy(), "seconds": np.isnan(seconds), "lr": np.isnan(lr),
        "line": data["line"]._mask.copy()}
    o_miss = np.zeros(k, dtype=bool)
    for i in np.flatnonzero(np.isnan(o_val)).tolist():  # a logged nan/inf is a value; else it was not logged
        o_miss[i] = raw_l[i].strip().lower().lstrip(b"+-") not in (b"nan", b"inf", b"infinity")
    vals, miss = np.full((len(col_of), n), np.nan), np.ones((len(col_of), n), dtype=bool)
    o_col, o_at = np.fromiter(map(col_of.__getitem__, names), np.int64, count=k), np.repeat(np.arange(n), counts)
    vals[o_col, o_at], miss[o_col, o_at] = o_val, o_miss
    taken = set(TEST_FIXED)
    for name, j in col_of.items():
        col = output_column(name, taken)
        data[col], missing_cols[col] = vals[j], miss[j]
    long = {
        "run": np.repeat(run, counts), "phase": _obj_full(k, "TEST"),
        "net": np.repeat(net, counts), "net_missing": np.repeat(net < 0, counts),
        "iteration": np.repeat(it, counts), "iteration_missing": np.repeat(it < 0, counts),
        "index": np.fromiter((-1 if i is None else i for i in idx_l), np.int64, count=k),
        "index_missing": np.fromiter((i is None for i in idx_l), bool, count=k),
        "name": np.array(names, dtype=object), "value": o_val,
        "loss_weight": np.array([math.nan if w is None else w for w in w_l], dtype=float),
        "weighted": np.array([math.nan if c is None else c for c in c_l], dtype=float)}
    return pd.DataFrame(data, copy=False), pd.DataFrame(missing_cols, copy=False), long


def _outputs_frame(train_long: dict[str, Any], test_long: dict[str, Any]) -> pd.DataFrame:
    """The long table of outputs: train outputs, then test outputs."""
    parts = [p for p in (train_long, test_long) if len(p["run"])]
    if not parts:
        return pd.DataFrame({
            "run": np.empty(0, dtype=np.int64), "phase": "TRAIN",
            "net": pd.arrays.IntegerArray(np.empty(0, dtype=np.int64), np.empty(0, dtype=bool)),
            "iteration": pd.arrays.IntegerArray(np.empty(0, dtype=np.int64), np.empty(0, dtype=bool)),
            "index": np.empty(0, dtype=np.int64), "name": np.empty(0, dtype=object),
            "value": np.empty(0), "loss_weight": np.empty(0), "weighted": np.empty(0)})

    def cat(key: str) -> np.ndarray:
        return np.concatenate([p[key] for p in parts]) if len(parts) > 1 else parts[0][key]

    index: Any = cat("index")
    if any(p["index_missing"] is not None for p in parts):
        index = pd.arrays.IntegerArray(index, np.concatenate([
            np.zeros(len(p["run"]), dtype=bool) if p["index_missing"] is None else p["index_missing"] for p in parts]))
    return pd.DataFrame({
        "run": cat("run"), "phase": _str_array(cat("phase")),
        "net": pd.arrays.IntegerArray(cat("net"), cat("net_missing")),
        "iteration": pd.arrays.IntegerArray(cat("iteration"), cat("iteration_missing")),
        "index": index, "name": _str_array(cat("name")),
        "value": cat("value"), "loss_weight": cat("loss_weight"), "weighted": cat("weighted"),
    }, copy=False)


def _finish_nets(parser: Any) -> None:
    """Layer types from each net's echo (Split for Caffe's inserted splits); the net's name from its run."""
    for net in with_children(parser.nets):
        types = echo_layer_types(net.param_text) if net.param_text else {}
        for rec in net.layers:
            if rec.type is None:
                t = types.get(rec.name)
                if t is None and rec.name.endswith("_split") and rec.tops and all(
                        top.startswith(rec.name + "_") for top in rec.tops):
                    t = "Split"  # inserted by Caffe's InsertSplits, so not in the echo
                rec.type = t
        if net.name is None and 0 <= net.run < len(parser.runs):
            net.name = parser.runs[net.run].net_name or None


_LAYER_ATTRS = ["name", "type", "bottoms", "tops", "in_place", "top_shapes", "top_counts", "legacy_shapes",
                "loss_weights", "memory_bytes", "needs_backward", "line", "top_shape_lines", "memory_line"]


def _int_list(values: Sequence[int | None]) -> pd.arrays.IntegerArray:
    arr = np.fromiter((-1 if v is None else v for v in values), np.int64, count=len(values))
    return pd.arrays.IntegerArray(arr, np.fromiter((v is None for v in values), bool, count=len(values)))


def _layers_frame(nets: list[NetLog]) -> pd.DataFrame:
    ks = [len(net.layers) for net in nets]
    total = sum(ks)
    if total == 0:
        cols0: dict[str, Any] = {c: [] for c in ["net", "run", "net_name", "phase", "test_index", "position",
                                                 *_LAYER_ATTRS]}
        frame = pd.DataFrame(cols0)
        for c in ("test_index", "memory_bytes", "line", "memory_line"):
            frame[c] = _int_list(cols0[c])
        return frame
    counts = np.array(ks, dtype=np.int64)
    first = np.repeat(np.cumsum(counts) - counts, counts)
    test_index = np.repeat(np.array([-1 if n.test_index is None else n.test_index for n in nets], dtype=np.int64),
                           counts)
    cols: dict[str, Any] = {
        "net": np.repeat(np.array([n.index for n in nets], dtype=np.int64), counts),
        "run": np.repeat(np.array([n.run for n in nets], dtype=np.int64), counts),
        "net_name": [name for net, k in zip(nets, ks, strict=True) for name in [net.name] * k],
        "phase": [phase for net, k in zip(nets, ks, strict=True) for phase in [net.phase] * k],
        "test_index": pd.arrays.IntegerArray(test_index, np.repeat(np.array([n.test_index is None for n in nets],
                                                                            dtype=bool), counts)),
        "position": np.arange(total, dtype=np.int64) - first,
    }
    get = attrgetter(*_LAYER_ATTRS)
    per_attr = zip(*map(get, [rec for net in nets for rec in net.layers]), strict=True)
    for attr, values in zip(_LAYER_ATTRS, per_attr, strict=True):
        cols[attr] = _int_list(values) if attr in ("memory_bytes", "line", "memory_line") else list(values)
    return pd.DataFrame(cols)


def _nets_frame(nets: list[NetLog]) -> pd.DataFrame:
    cols = {"net": [n.index for n in nets], "run": [n.run for n in nets], "name": [n.name for n in nets],
            "phase": [n.phase for n in nets], "test_index": _int_list([n.test_index for n in nets]),
            "source": [n.source for n in nets], "layers": [len(n.layers) for n in nets],
            "outputs": [list(n.outputs) for n in nets], "memory_bytes": _int_list([n.memory_bytes for n in nets]),
            "line": _int_list([n.line for n in nets]), "done": [n.done for n in nets]}
    return pd.DataFrame(cols)


def build_log(parser: Any) -> CaffeLog:
    """Assemble the `CaffeLog` from a closed `LogParser`."""
    train, train_missing, train_long, other_seconds = _train_frame(parser)
    seconds_of = {id(t[3]): s for t, s in zip(parser.timed, other_seconds, strict=True) if t[2] == "test"}
    test, test_missing, test_long = _test_frame(parser, train, seconds_of)
    _finish_nets(parser)
    outputs = _outputs_frame(train_long, test_long)
    snapshots = pd.DataFrame(parser.snapshots, columns=["run", "iteration", "kind", "format", "file", "line"])
    snapshots["iteration"] = _int_list([r["iteration"] for r in parser.snapshots])
    restores = pd.DataFrame(parser.restores, columns=["run", "kind", "file", "line"])
    return CaffeLog(
        path=parser.path,
        runs=parser.runs,
        net_logs=parser.nets,
        train=train,
        test=test,
        outputs=outputs,
        layers=_layers_frame(parser.nets),
        nets=_nets_frame(parser.nets),
        snapshots=snapshots,
        restores=restores,
        messages=parser.messages,
        lines=parser.lines,
        glog_lines=parser.glog_lines,
        orphan_outputs=parser.orphans,
        missing={"train": train_missing, "test": test_missing},
        test_batches=pd.DataFrame(parser.test_batches, columns=TEST_BATCH_COLUMNS),
        test_results=pd.DataFrame(parser.test_results, columns=TEST_RESULT_COLUMNS),
        timing=pd.DataFrame(parser.timing, columns=TIMING_COLUMNS),
    )
