"""Dot products of chosen rows with a query, read in place: the exact re-score every plan ends with
(float32 rows), and the gathered stages of the int8 codes (flixrec.codes).

The rows are read where they lie (the memory-mapped matrix) rather than copied out first as `np.take`
does: at 300k, 1,400 rows of 512 took 0.75 ms against 1.7 ms (docs/performance.md, "Int8 codes").
Scores match numpy's to within float32 rounding (the sums run in another order); equal rows get equal
scores, so ties still come back in tie-rank order.
"""

from __future__ import annotations

import numpy as np
from numba import njit


def dot_rows(matrix: np.ndarray, rows: np.ndarray, query: np.ndarray) -> np.ndarray:
    """float32 dot products of `rows` of `matrix` (float32, or int8 codes: flixrec.codes) with `query`,
    in the rows' order."""
    out = np.empty(len(rows), dtype=np.float32)
    if len(rows):
        _dot_rows(np.asarray(matrix), np.ascontiguousarray(rows, dtype=np.int64),
                  np.ascontiguousarray(query, dtype=np.float32), out)
    return out


@njit(cache=True, fastmath=True, nogil=True)
def _dot_rows(matrix, rows, query, out):
    width = matrix.shape[1]
    for i in range(rows.shape[0]):
        row = rows[i]
        total = np.float32(0.0)
        for column in range(width):
            total += np.float32(matrix[row, column]) * query[column]
        out[i] = total
