"""Data parallelism for the forward passes' NumPy work (NumPy and BLAS release the GIL).

`parallel_for` hands tasks out from a shared counter to the calling thread and to one worker per
other core: a worker slow to start (a busy machine) just takes fewer tasks, and one that has not
started when the caller is done is cancelled, so nothing ever waits for a core it does not get.
During a pass BLAS runs one thread per caller (`blas_single_threaded`): OpenBLAS's own threads
spin-wait for each other, which costs a scheduler time slice per call when another process holds a
core. Without a controllable OpenBLAS (another BLAS, no /proc), everything runs serially and BLAS keeps
its own threads.
"""

from __future__ import annotations

import ctypes
import itertools
import os
import threading
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from typing import Any

import numpy as np

#: Least work per task worth handing to another thread (some 40 us), in element passes of a ufunc or a
#: copy; a GEMM counts its multiply-adds / `MACS_PER_PASS`.
MIN_TASK_WORK = 1 << 17
MACS_PER_PASS = 16

_SETTERS = ("openblas_set_num_threads", "scipy_openblas_set_num_threads64_", "scipy_openblas_set_num_threads",
            "openblas_set_num_threads64_")
_GETTERS = ("openblas_get_num_threads", "scipy_openblas_get_num_threads64_", "scipy_openblas_get_num_threads",
            "openblas_get_num_threads64_")
_lock = threading.Lock()
_inside = threading.local()  # set while a thread runs parallel_for tasks: nested calls run serially
_state: dict[str, Any] = {"pool": None, "pid": None, "blas": None, "depth": 0, "saved": None}


def _openblas() -> tuple[Any, Any] | None:
    """(set, get) of the OpenBLAS NumPy loaded (found in /proc/self/maps), else None."""
    if _state["blas"] is None:
        _state["blas"] = False
        try:
            with open("/proc/self/maps", encoding="utf-8") as maps:
                paths = {line.split()[-1] for line in maps if "openblas" in line.lower()}
        except OSError:
            paths = set()
        for path in sorted(paths):
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
    """Threads besides the caller that `parallel_for` uses: one per other core, none without BLAS control."""
    if _openblas() is None:
        return 0
    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else (os.cpu_count() or 1)
    return max(0, cores - 1)


@contextmanager
def blas_single_threaded() -> Iterator[None]:
    """BLAS at one thread for the duration (process-wide; nested and concurrent uses restore it once)."""
    blas = _openblas()
    if blas is None:
        yield
        return
    with _lock:
        if _state["depth"] == 0:
            _state["saved"] = blas[1]()
            blas[0](1)
        _state["depth"] += 1
    try:
        yield
    finally:
        with _lock:
            _state["depth"] -= 1
            if _state["depth"] == 0:
                blas[0](_state["saved"])


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

    def loop() -> None:
        _inside.active = True
        try:
            with np.errstate(**errors):
                for i in iter(counter.__next__, None):
                    if i >= count:
                        return
                    task(i)
        finally:
            _inside.active = False

    futures = [_pool(workers()).submit(loop) for _ in range(extra)]
    loop()
    for future in futures:
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
