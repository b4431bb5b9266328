"""Dot products of chosen rows with a query, read in place: the exact re-score every plan ends with
(float32 rows), and the gathered stages of the int8 codes (flixrec.codes).

The rows are read where they lie (the memory-mapped matrix) rather than copied out first as `np.take`
does: at 300k, 1,400 rows of 512 took 0.75 ms against 1.7 ms (docs/performance.md, "Int8 codes").
Scores match numpy's to within float32 rounding (the sums run in another order); equal rows get equal
scores, so ties still come back in tie-rank order. A large gather waits on memory more than on the core, so
two threads share it (the compiled loop releases the GIL); the pool is the one the full scans use.
"""

from __future__ import annotations

import os
import threading
from concurrent.futures import ThreadPoolExecutor

import numpy as np
from numba import njit

SCAN_THREADS = max(1, min(2, os.cpu_count() or 1))
"""Threads that share a full head scan or a large gather."""
SPLIT_BYTES = 512 * 1024
"""A gather reading at least this much is split between SCAN_THREADS threads (below, the hand-off costs more
than it saves: docs/performance.md, "Gathers on two threads")."""


def dot_rows(matrix: np.ndarray, rows: np.ndarray, query: np.ndarray) -> np.ndarray:
    """float32 dot products of `rows` of `matrix` (float32, or int8 codes: flixrec.codes) with `query`,
    in the rows' order."""
    out = np.empty(len(rows), dtype=np.float32)
    if not len(rows):
        return out
    matrix, rows = np.asarray(matrix), np.ascontiguousarray(rows, dtype=np.int64)
    query = np.ascontiguousarray(query, dtype=np.float32)
    if SCAN_THREADS > 1 and len(rows) * matrix.shape[1] * matrix.itemsize >= SPLIT_BYTES:
        half = len(rows) // 2
        other = pool().submit(_dot_rows, matrix, rows[half:], query, out[half:])
        _dot_rows(matrix, rows[:half], query, out[:half])
        other.result()
    else:
        _dot_rows(matrix, rows, query, out)
    return out


_pool_lock = threading.Lock()
_scan_pool: ThreadPoolExecutor | None = None


def pool() -> ThreadPoolExecutor:
    """The threads (SCAN_THREADS - 1) that take a share of a scan or a gather beside the calling one."""
    global _scan_pool
    with _pool_lock:
        if _scan_pool is None:
            _scan_pool = ThreadPoolExecutor(max(1, SCAN_THREADS - 1), thread_name_prefix="flixrec-scan")
        return _scan_pool


@njit(cache=True, fastmath=True, nogil=True)
def _dot_rows(matrix, rows, query, out):
    width = matrix.shape[1]
    for i in range(rows.shape[0]):
        row = rows[i]
        total = np.float32(0.0)
        for column in range(width):
            total += np.float32(matrix[row, column]) * query[column]
        out[i] = total
