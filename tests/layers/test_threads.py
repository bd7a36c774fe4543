"""The forward's data parallelism: every task runs exactly once (with the work shared or not), errors
reach the caller, BLAS's thread count comes back after a pass."""

from __future__ import annotations

import os
import threading

import numpy as np
import pytest

from caffecx.layers import _threads
from caffecx.layers._threads import MIN_TASK_WORK, blocks, parallel_for, pass_threads, workers


@pytest.fixture(params=[True, False], ids=["shared", "serial"])
def own(request: pytest.FixtureRequest) -> object:
    with pass_threads(own=request.param):
        yield request.param


@pytest.mark.parametrize("count", [0, 1, 2, 7, 64])
def test_parallel_for_runs_every_task_once(count: int, own: bool) -> None:
    seen: list[int] = []
    lock = threading.Lock()

    def task(i: int) -> None:
        with lock:
            seen.append(i)

    parallel_for(task, count, work=MIN_TASK_WORK * count)
    assert sorted(seen) == list(range(count))


def test_parallel_for_raises_a_task_error(own: bool) -> None:
    def task(i: int) -> None:
        if i == 3:
            raise ValueError("task 3")

    with pytest.raises(ValueError, match="task 3"):
        parallel_for(task, 8, work=MIN_TASK_WORK * 8)


def test_parallel_for_writes_disjoint_blocks(own: bool) -> None:
    x = np.arange(1000, dtype=np.float32)
    y = np.empty_like(x)
    parts = blocks(x.size, 5)
    parallel_for(lambda i: np.multiply(x[parts[i]], 2, out=y[parts[i]]), len(parts), work=MIN_TASK_WORK * 5)
    np.testing.assert_array_equal(y, 2 * x)


@pytest.mark.parametrize(("size", "parts"), [(10, 3), (3, 8), (1, 1), (0, 4), (64, 4)])
def test_blocks_partition(size: int, parts: int) -> None:
    got = blocks(size, parts)
    assert [i for s in got for i in range(size)[s]] == list(range(size))
    assert all(s.stop > s.start for s in got)
    assert len(got) <= max(1, parts)


def test_blas_threads_restored() -> None:
    blas = _threads._openblas()
    if blas is None:
        pytest.skip("no controllable OpenBLAS in this process")
    before = blas[1]()
    with pass_threads(own=True):
        assert blas[1]() == 1 and workers() >= (len(os.sched_getaffinity(0)) > 1)
        with pass_threads(own=False):  # a nested pass keeps the first one's choice
            assert blas[1]() == 1
        assert blas[1]() == 1
    assert blas[1]() == before and workers() == 0
    with pass_threads(own=False):
        assert blas[1]() == before and workers() == 0


def test_workers_take_the_callers_error_state(own: bool) -> None:
    states: list[dict[str, str]] = []
    with np.errstate(all="ignore"):
        parallel_for(lambda i: states.append(np.geterr()), 4, work=MIN_TASK_WORK * 4)
    assert all(s["over"] == "ignore" and s["invalid"] == "ignore" for s in states)
