"""Build-time calibration of the projection's sizes (flixrec.engine): the shortlist and prefilter of least
estimated cost that reach CALIBRATION_RECALL, for free-text-like queries, for stored rows' neighbours, and
for those again per filter share (SIZE_LEVELS).

Kept apart from flixrec.engine, which answers queries; this runs once per build, on sample queries scored
exactly against every row (docs/performance.md, "Choosing the sizes by cost", "Sizes per filter share").
"""

from __future__ import annotations

import numpy as np

from flixrec.engine import (CALIBRATION_RECALL, ITEM_K, ITEM_PREFILTER_CHOICES, ITEM_SHORTLIST_CHOICES,
                            PREFILTER_CHOICES, SHORTLIST, SHORTLIST_CHOICES, SIZE_LEVELS, Projection)
from flixrec.plan_cost import stage_cost
from flixrec.rescore import on_threads


def sample_queries(matrix: np.ndarray, count: int, rng: np.random.Generator) -> np.ndarray:
    """Calibration queries like real ones: stored rows (item queries), the second half pushed off the data by
    noise (free-text queries), unit length."""
    n, d = matrix.shape
    rows = rng.choice(n, size=min(n, count), replace=False)
    vectors = np.asarray(matrix[rows], dtype=np.float32)
    half = len(rows) // 2
    noise = rng.standard_normal((len(rows) - half, d)).astype(np.float32)
    noise *= 0.9 / np.linalg.norm(noise, axis=1, keepdims=True)
    vectors[half:] += noise
    vectors /= np.linalg.norm(vectors, axis=1, keepdims=True)
    return vectors


def calibrate(matrix: np.ndarray, projection: Projection, queries: int = 48, k: int = 20, seed: int = 0,
              item_queries: int = 96) -> tuple[tuple[int, int], tuple[int, int], tuple[tuple[float, int, int], ...]]:
    """(shortlist, prefilter) for any query and for item queries: the sizes of least estimated cost
    (`stage_cost`) whose recall reaches CALIBRATION_RECALL; (0, 0) when none does. Then the item sizes per
    filter share (SIZE_LEVELS, random filters; a level whose sizes cost no less there is left out).

    Any query: half the queries are stored rows, half are rows pushed off the data by noise (like
    free-text queries), recall@k. Item queries: stored rows' ITEM_K nearest other rows (the row itself
    excluded, as similar_titles excludes the seed). An exact top row is found when its head-score rank
    is below the prefilter size and its full projected rank below the shortlist size. Queries are
    scored in blocks (one GEMM each, not one pass over the matrix per query).
    """
    n, d = matrix.shape
    if n <= max(k, ITEM_K):
        return (SHORTLIST, 0), (0, 0), ()
    vectors = sample_queries(matrix, queries, np.random.default_rng(seed + 1))
    head_rank, full_rank = _projected_ranks(matrix, projection, vectors, k, exclude=None)
    tail_dims = projection.tail.shape[1]
    general = _cheapest_sizes(head_rank, full_rank, n, d, tail_dims, SHORTLIST_CHOICES, PREFILTER_CHOICES)
    if not general[0]:
        return general, (0, 0), ()
    items = np.sort(np.random.default_rng(seed + 2).choice(n, size=min(n, item_queries), replace=False))
    item_vectors = np.asarray(matrix[items], dtype=np.float32)
    head_rank, full_rank = _projected_ranks(matrix, projection, item_vectors, ITEM_K, exclude=items)
    item = _cheapest_sizes(head_rank, full_rank, n, d, tail_dims, ITEM_SHORTLIST_CHOICES, ITEM_PREFILTER_CHOICES)
    levels: list[tuple[float, int, int]] = []
    for level in SIZE_LEVELS if item[0] else ():
        keep = np.random.default_rng(seed + 4).random(n) < level
        passing = int(keep.sum())
        if passing <= 4 * ITEM_K:
            continue
        head_rank, full_rank = _projected_ranks(matrix, projection, item_vectors, ITEM_K, exclude=items, keep=keep)
        sizes = _cheapest_sizes(head_rank, full_rank, passing, d, tail_dims, ITEM_SHORTLIST_CHOICES,
                                ITEM_PREFILTER_CHOICES)
        cost = [stage_cost(passing, d, tail_dims, shortlist, prefilter if prefilter < passing else 0)
                for shortlist, prefilter in (sizes, item)]
        if sizes[0] and cost[0] < cost[1]:
            levels.append((level, *sizes))
    return general, item, tuple(levels)


def _projected_ranks(matrix: np.ndarray, projection: Projection, vectors: np.ndarray, k: int,
                     exclude: np.ndarray | None, block: int = 16,
                     keep: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray]:
    """Head-score and projected-score ranks of each query's exact top k rows (`exclude[i]`: a row that
    query i must not count, itself; `keep`: a filter, the top k and the ranks among the rows it keeps)."""
    split = projection.head.shape[1]
    assert projection.codes is not None
    head_codes, tail_codes = projection.codes.dequantized()  # the values the stages rank by
    kept = None if keep is None else np.flatnonzero(keep)
    if kept is not None:  # only the kept rows are scored and ranked
        head_codes, tail_codes = head_codes[kept], tail_codes[kept]
    rows = len(matrix) if kept is None else len(kept)

    def ranks_of_block(start: int) -> tuple[list[np.ndarray], list[np.ndarray]]:
        part = vectors[start : start + block]
        exact = np.empty((len(part), rows), dtype=np.float32)
        for row in range(0, rows, 65_536):  # blocks: a memory-mapped matrix is not read in one go
            vectors_read = matrix[row : row + 65_536] if kept is None else matrix[kept[row : row + 65_536]]
            exact[:, row : row + 65_536] = part @ np.asarray(vectors_read).T
        reduced = part @ projection.basis
        head = reduced[:, :split] @ head_codes.T
        full = head + reduced[:, split:] @ tail_codes.T
        head_ranks, full_ranks = [], []
        for i in range(len(part)):
            if exclude is not None:
                skip = exclude[start + i] if kept is None else np.searchsorted(kept, exclude[start + i])
                if kept is None or (skip < len(kept) and kept[skip] == exclude[start + i]):
                    exact[i, skip] = head[i, skip] = full[i, skip] = -np.inf
            top = np.argpartition(-exact[i], k)[:k]
            head_ranks.append((head[i][None, :] > head[i, top][:, None]).sum(axis=1))
            full_ranks.append((full[i][None, :] > full[i, top][:, None]).sum(axis=1))
        return head_ranks, full_ranks

    blocks = on_threads(ranks_of_block, range(0, len(vectors), block))
    head_ranks = [ranks for block_ranks, _ in blocks for ranks in block_ranks]
    full_ranks = [ranks for _, block_ranks in blocks for ranks in block_ranks]
    return np.concatenate(head_ranks), np.concatenate(full_ranks)


def _cheapest_sizes(head_rank: np.ndarray, full_rank: np.ndarray, n: int, d: int, tail_dims: int,
                    shortlists: tuple[int, ...], prefilters: tuple[int, ...]) -> tuple[int, int]:
    """The (shortlist, prefilter) of least estimated cost among those whose recall reaches
    CALIBRATION_RECALL (ties: the smaller shortlist); (0, 0) when none does."""
    best: tuple[float, int, int] | None = None
    for size in shortlists:
        if size >= n or float(np.mean(full_rank < size)) < CALIBRATION_RECALL:
            continue
        options = [0] + [p for p in prefilters if size < p < n // 4 and
                         float(np.mean((full_rank < size) & (head_rank < p))) >= CALIBRATION_RECALL]
        for prefilter in options:
            cost = stage_cost(n, d, tail_dims, size, prefilter)
            if best is None or cost < best[0]:
                best = (cost, size, prefilter)
    return (0, 0) if best is None else (best[1], best[2])  # (0, 0): no shortlist is good enough, scan exactly
