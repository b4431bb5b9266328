"""Rows of the ranking's CSR feature matrices (keywords, directors, cast, crew): one row's entries, and
the dot products of many rows with one, without scipy's row indexing.

scipy's `matrix[rows] @ matrix[row].T` builds two new sparse matrices per call (about 0.4 ms each for the
~200 candidates of a similar-titles query); the compiled loop merges each candidate's sorted columns
with the seed's (docs/performance.md, "The request around the engine").
"""

from __future__ import annotations

import numpy as np
import scipy.sparse as sp
from numba import njit


def row_entries(matrix: sp.csr_matrix, row: int) -> tuple[np.ndarray, np.ndarray]:
    """(columns, values) of one CSR row."""
    start, end = matrix.indptr[row], matrix.indptr[row + 1]
    return matrix.indices[start:end], matrix.data[start:end]


def sorted_csr(matrix: sp.spmatrix) -> sp.csr_matrix:
    """`matrix` as CSR with each row's columns in ascending order (what `row_dots` merges)."""
    matrix = sp.csr_matrix(matrix)
    matrix.sort_indices()
    return matrix


def row_dots(matrix: sp.csr_matrix, rows: np.ndarray, row: int) -> np.ndarray:
    """Dot products of `rows` of `matrix` with its row `row`, in `rows`' order and the matrix's type; the
    matrix's rows must have sorted columns (`sorted_csr`)."""
    out = np.zeros(len(rows), dtype=matrix.dtype)
    if len(rows) and matrix.indptr[row] < matrix.indptr[row + 1]:
        _row_dots(matrix.indptr, matrix.indices, matrix.data, np.ascontiguousarray(rows, dtype=np.int64), row, out)
    return out


@njit(cache=True, nogil=True)
def _row_dots(indptr, indices, data, rows, row, out):
    first, last = indptr[row], indptr[row + 1]
    for i in range(rows.shape[0]):
        at, end = indptr[rows[i]], indptr[rows[i] + 1]
        seed = first
        total = data[first] * 0  # summed in the matrix's own type, in column order, as scipy's product
        while seed < last and at < end:
            if indices[seed] == indices[at]:
                total += data[at] * data[seed]
                seed += 1
                at += 1
            elif indices[seed] < indices[at]:
                seed += 1
            else:
                at += 1
        out[i] = total
