"""Dot products of chosen rows with a query, read in place: the exact re-score every plan ends with
(float32 rows), and the gathered stages of the int8 codes (flixrec.codes).

The rows are read where they lie (the memory-mapped matrix) rather than copied out first as `np.take`
does: at 300k, 1,400 rows of 512 took 0.75 ms against 1.7 ms (docs/performance.md, "Int8 codes").
Scores match numpy's to within float32 rounding (the sums run in another order); equal rows get equal
scores, so ties still come back in tie-rank order. A large gather waits on memory more than on the core, so
two threads share it (the compiled loop releases the GIL), as they share the full scans (`in_halves`).
"""

from __future__ import annotations

import os
import threading
from collections.abc import Callable, Iterable
from concurrent.futures import ThreadPoolExecutor
from typing import TypeVar

import numpy as np
from numba import njit

SCAN_THREADS = max(1, min(2, os.cpu_count() or 1))
"""Threads that share a full head scan or a large gather (this one and a helper)."""
T = TypeVar("T")
A = TypeVar("A")
SPLIT_ROWS, SPLIT_BYTES = 1024, 512 * 1024
"""A gather of at least this many rows and bytes is shared with the helper thread (below, the hand-off costs
more than it saves: docs/performance.md, "Gathers on two threads")."""


def dot_rows(matrix: np.ndarray, rows: np.ndarray, query: np.ndarray) -> np.ndarray:
    """float32 dot products of `rows` of `matrix` (float32, or int8 codes: flixrec.codes) with `query`,
    in the rows' order."""
    out = np.empty(len(rows), dtype=np.float32)
    if not len(rows):
        return out
    matrix, rows = np.asarray(matrix), np.ascontiguousarray(rows, dtype=np.int64)
    query = np.ascontiguousarray(query, dtype=np.float32)
    if len(rows) >= SPLIT_ROWS and len(rows) * matrix.shape[1] * matrix.itemsize >= SPLIT_BYTES:
        half = len(rows) // 2
        in_halves(lambda: _dot_rows(matrix, rows[:half], query, out[:half]),
                  lambda: _dot_rows(matrix, rows[half:], query, out[half:]))
    else:
        _dot_rows(matrix, rows, query, out)
    return out


SPARSE_SHARE = 50
"""`passing_rows` skips empty 8-row words when no more than 1 row in this many passes (a narrow filter);
denser masks keep numpy's `flatnonzero`, whose branch-free loop wins there."""


def passing_rows(keep: np.ndarray, passing: int) -> np.ndarray:
    """The numbers of the rows `keep` passes (`np.flatnonzero(keep)`), `passing` being how many there are.

    A narrow filter's mask is mostly empty 8-byte words: reading it a word at a time finds its rows in about
    half the time of `flatnonzero`, which looks at every byte (docs/performance.md, "Narrow filters").
    """
    if passing * SPARSE_SHARE > len(keep) or keep.dtype != np.bool_ or not keep.flags.c_contiguous:
        return np.flatnonzero(keep)
    out = np.empty(passing, dtype=np.int64)
    found = _fill_passing_rows(keep, out)
    return out if found == passing else np.flatnonzero(keep)  # a miscount from the caller costs only time


_pool_lock = threading.Lock()
_helper: ThreadPoolExecutor | None = None
_helper_free = threading.Semaphore(1)


def in_halves(first: Callable[[], T], second: Callable[[], T]) -> tuple[T, T]:
    """(first(), second()), `second` on the helper thread meanwhile when there is one and it is free: under
    load, when other queries keep it busy, both halves run here rather than wait in its queue."""
    global _helper
    if SCAN_THREADS == 1 or not _helper_free.acquire(blocking=False):
        return first(), second()

    def helped() -> T:
        try:
            return second()
        finally:
            _helper_free.release()

    with _pool_lock:
        if _helper is None:
            _helper = ThreadPoolExecutor(1, thread_name_prefix="flixrec-scan")
    other = _helper.submit(helped)
    return first(), other.result()


def on_threads(work: Callable[[A], T], items: Iterable[A]) -> list[T]:
    """`[work(item) for item in items]`, the items shared by SCAN_THREADS threads, results in their order: for
    build-time work whose numpy, BLAS and compiled calls release the GIL. Meanwhile BLAS runs one thread per
    call (two threads each starting BLAS threads of their own would compete for the same cores)."""
    items = list(items)
    if SCAN_THREADS == 1 or len(items) < 2:
        return [work(item) for item in items]
    from threadpoolctl import threadpool_limits

    with threadpool_limits(limits=1, user_api="blas"), \
            ThreadPoolExecutor(SCAN_THREADS, thread_name_prefix="flixrec-build") as pool:
        return list(pool.map(work, items))


def _forget_helper() -> None:
    """In a forked child (the API's workers): the helper thread stayed in the parent, so a new one starts on use."""
    global _helper, _helper_free, _pool_lock
    _helper, _helper_free, _pool_lock = None, threading.Semaphore(1), threading.Lock()


os.register_at_fork(after_in_child=_forget_helper)


@njit(cache=True, fastmath=True, nogil=True)
def _dot_rows(matrix, rows, query, out):
    width = matrix.shape[1]
    for i in range(rows.shape[0]):
        row = rows[i]
        total = np.float32(0.0)
        for column in range(width):
            total += np.float32(matrix[row, column]) * query[column]
        out[i] = total


@njit(cache=True, nogil=True)
def _fill_passing_rows(keep, out):
    """Write the passing rows' numbers into `out` (at most its length); returns how many rows pass."""
    n = keep.shape[0]
    whole = n - n % 8
    words = keep[:whole].view(np.uint64)
    found = 0
    for word in range(words.shape[0]):  # whole words, then the tail: one loop for both ran ~3x slower
        if words[word] != 0:
            for row in range(word * 8, word * 8 + 8):
                if keep[row]:
                    if found < out.shape[0]:
                        out[found] = row
                    found += 1
    for row in range(whole, n):
        if keep[row]:
            if found < out.shape[0]:
                out[found] = row
            found += 1
    return found
