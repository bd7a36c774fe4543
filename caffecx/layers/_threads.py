"""Data parallelism for the forward passes' NumPy work (NumPy and BLAS release the GIL).

Two ways to use two cores, chosen for each pass by `pass_threads` from what the machine is doing:

* quiet machine: BLAS's own threads for the GEMMs, everything else serial. OpenBLAS's threads
  spin-wait for work, so even a 0.2 ms GEMM splits well; a Python worker instead sleeps between
  tasks, and waking it (a halted virtual CPU) costs 0.1-0.3 ms per parallel section.
* busy machine (other processes kept a quarter of a core busy lately): those spinning threads
  wait a scheduler time slice for a core they do not get, on every GEMM (passes 5-30x slower). BLAS
  then runs one thread, and `parallel_for` hands tasks out from a shared counter to the calling
  thread and one worker per other core: a worker slow to start just takes fewer tasks, and one that
  has not started when the caller is done is cancelled, so nothing waits for a core it does not get.

Without a controllable OpenBLAS (another BLAS, no /proc) everything runs serially and BLAS keeps its
own threads.
"""

from __future__ import annotations

import ctypes
import itertools
import os
import threading
import time
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from typing import Any

import numpy as np

#: Least work per task worth handing to another thread (some 40 us), in element passes of a ufunc or a
#: copy; a GEMM counts its multiply-adds / `MACS_PER_PASS`.
MIN_TASK_WORK = 1 << 17
MACS_PER_PASS = 16
#: Seconds a machine seen busy counts as busy (`pass_threads`).
BUSY_HOLD = 2.0

_SETTERS = ("openblas_set_num_threads", "scipy_openblas_set_num_threads64_", "scipy_openblas_set_num_threads",
            "openblas_set_num_threads64_")
_GETTERS = ("openblas_get_num_threads", "scipy_openblas_get_num_threads64_", "scipy_openblas_get_num_threads",
            "openblas_get_num_threads64_")
_lock = threading.Lock()
_inside = threading.local()  # set while a thread runs parallel_for tasks: nested calls run serially
_state: dict[str, Any] = {"pool": None, "pid": None, "blas": None, "depth": 0, "saved": None, "own": False,
                         "sample": None, "busy": False, "busy_since": -1e9}


def _openblas() -> tuple[Any, Any] | None:
    """(set, get) of the OpenBLAS NumPy loaded (found in /proc/self/maps), else None."""
    if _state["blas"] is None:
        _state["blas"] = False
        try:
            with open("/proc/self/maps", encoding="utf-8") as maps:
                paths = {line.split()[-1] for line in maps if "openblas" in line.lower()}
        except OSError:
            paths = set()
        for path in sorted(paths, key=lambda p: ("numpy" not in p, p)):  # NumPy's own first (cv2 bundles one too)
            try:
                lib = ctypes.CDLL(path)
            except OSError:
                continue
            found = [next((getattr(lib, n) for n in names if hasattr(lib, n)), None) for names in (_SETTERS, _GETTERS)]
            if all(found):
                _state["blas"] = tuple(found)
                break
    return _state["blas"] or None


def workers() -> int:
    """Threads besides the caller that `parallel_for` uses: one per other core during a pass that
    shares its work itself (`pass_threads`), else none."""
    if not _state["own"]:
        return 0
    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else (os.cpu_count() or 1)
    return max(0, cores - 1)


@contextmanager
def pass_threads(own: bool | None = None) -> Iterator[None]:
    """The threading of one pass (see the module docstring): with ``own`` (by default: when other
    processes are busy, `_others_busy`) BLAS at one thread and `parallel_for` sharing the work, for the
    duration (process-wide; nested and concurrent passes keep the first one's choice and restore once)."""
    blas = _openblas()
    if blas is None:
        yield
        return
    with _lock:
        if _state["depth"] == 0:
            _state["own"] = _others_busy() if own is None else own
            if _state["own"]:
                _state["saved"] = blas[1]()
                blas[0](1)
        _state["depth"] += 1
    try:
        yield
    finally:
        with _lock:
            _state["depth"] -= 1
            if _state["depth"] == 0 and _state["own"]:
                blas[0](_state["saved"])
                _state["own"] = False


def _others_busy() -> bool:
    """Whether other processes kept a quarter of a core busy lately: the busy time /proc/stat counts for
    all CPUs minus this process's CPU time, looked at every 0.25 s at most; once busy, the machine counts
    as busy for `BUSY_HOLD` seconds (a BLAS time slice lost per GEMM costs far more than our own threads
    lose on a quiet machine)."""
    now = time.monotonic()
    last = _state["sample"]
    if last is not None and now - last[0] < 0.25:
        return _state["busy"]
    try:
        with open("/proc/stat", encoding="ascii") as stat:
            ticks = [int(v) for v in stat.readline().split()[1:8]]
    except (OSError, ValueError):
        return True
    busy = (sum(ticks) - ticks[3] - ticks[4]) / os.sysconf("SC_CLK_TCK")  # all but idle and iowait
    sample = (now, busy, time.process_time())
    if last is not None:
        if (sample[1] - last[1]) - (sample[2] - last[2]) > 0.25 * (now - last[0]):
            _state["busy_since"] = now
        _state["busy"] = now - _state["busy_since"] < BUSY_HOLD
    _state["sample"] = sample
    return _state["busy"]


def _pool(count: int) -> ThreadPoolExecutor:
    if _state["pool"] is None or _state["pid"] != os.getpid():  # a forked child has no worker threads
        _state["pool"], _state["pid"] = ThreadPoolExecutor(count, thread_name_prefix="caffecx"), os.getpid()
    return _state["pool"]


def parallel_for(task: Callable[[int], None], count: int, work: int = MIN_TASK_WORK) -> None:
    """``task(i)`` for every ``i < count`` (in any order, on any thread, under the caller's NumPy error
    state); serial when `work` (the total) gives less than `MIN_TASK_WORK` per task, no worker exists, or
    the caller is itself a task."""
    extra = min(workers(), count - 1)
    if extra <= 0 or work < MIN_TASK_WORK * count or getattr(_inside, "active", False):
        for i in range(count):  # too little work, no worker, or already a task of a parallel_for
            task(i)
        return
    counter = itertools.count()
    errors = np.geterr()  # NumPy's error state is per thread: the workers take the caller's
    failed: list[bool] = []  # a task raised: the others take no new task

    def loop() -> None:
        _inside.active = True
        try:
            with np.errstate(**errors):
                for i in iter(counter.__next__, None):
                    if i >= count or failed:
                        return
                    task(i)
        except BaseException:
            failed.append(True)
            raise
        finally:
            _inside.active = False

    futures = [_pool(workers()).submit(loop) for _ in range(extra)]
    try:
        loop()
    finally:
        for future in futures:  # a worker that never started is cancelled; one that did is waited for
            if not future.cancel():
                future.result()


def blocks(size: int, parts: int) -> list[slice]:
    """`size` cut into at most `parts` contiguous, nearly equal slices (none empty)."""
    parts = max(0, min(parts, size))
    if parts == 0:
        return []
    bounds = [size * i // parts for i in range(parts + 1)]
    return [slice(lo, hi) for lo, hi in itertools.pairwise(bounds)]


def blockwise(fn: Callable[..., Any], *arrays: np.ndarray) -> None:
    """``fn(*blocks)`` over matching flat blocks of same-shaped C-contiguous `arrays`, in parallel (an
    element-wise pass: ``fn(x, out)`` writing its out block); one call over the whole arrays otherwise."""
    size = arrays[0].size
    if not all(a.flags.c_contiguous and a.size == size for a in arrays):
        fn(*arrays)
        return
    flat = [a.reshape(-1) for a in arrays]
    parts = blocks(size, 2 * (workers() + 1))
    parallel_for(lambda i: fn(*(a[parts[i]] for a in flat)), len(parts), size * len(arrays))
