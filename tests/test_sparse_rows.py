"""The ranking's sparse row products (flixrec.sparse_rows) against scipy's, on random feature matrices."""

from __future__ import annotations

import numpy as np
import scipy.sparse as sp
from hypothesis import given, settings
from hypothesis import strategies as st

from flixrec.sparse_rows import row_dots, row_entries, sorted_csr
from flixrec.title_signals import tfidf_matrix


@settings(max_examples=60, deadline=None)
@given(rows=st.integers(1, 40), columns=st.integers(1, 30), density=st.floats(0.0, 0.6), seed=st.integers(0, 2**16))
def test_row_dots_are_scipys_product_for_any_rows(rows, columns, density, seed):
    rng = np.random.default_rng(seed)
    matrix = sp.random(rows, columns, density=density, format="coo", dtype=np.float32, random_state=rng)
    shuffled = sp.csr_matrix((matrix.data, (matrix.row, matrix.col)), shape=matrix.shape)
    matrix = sorted_csr(shuffled)
    assert matrix.has_sorted_indices
    asked = rng.integers(0, rows, size=int(rng.integers(0, 3 * rows)))  # repeats and any order
    for row in {0, rows - 1, int(rng.integers(0, rows))}:
        expected = np.asarray((matrix[asked] @ matrix[row].T).todense()).ravel()
        found = row_dots(matrix, asked, row)
        assert found.dtype == np.float32 and found.shape == (len(asked),)
        np.testing.assert_allclose(found, expected, rtol=1e-6, atol=1e-7)


def test_an_empty_row_scores_zero_and_its_entries_are_empty():
    matrix = sorted_csr(sp.csr_matrix(np.array([[0, 0, 0], [1, 0, 2], [0, 3, 4]], dtype=np.float32)))
    assert row_dots(matrix, np.array([1, 2]), 0).tolist() == [0.0, 0.0]
    assert row_dots(matrix, np.array([0, 1, 2]), 1).tolist() == [0.0, 5.0, 8.0]
    columns, values = row_entries(matrix, 2)
    assert columns.tolist() == [1, 2] and values.tolist() == [3.0, 4.0]
    assert row_entries(matrix, 0)[0].size == 0


def test_tfidf_rows_come_with_sorted_columns():
    matrix, names = tfidf_matrix([0, 0, 1, 1, 2], ["zeta", "alpha", "alpha", "mid", "zeta"], 3)
    assert matrix.has_sorted_indices and names == ["zeta", "alpha", "mid"]
    assert all(np.all(np.diff(row_entries(matrix, r)[0]) > 0) for r in range(3))
