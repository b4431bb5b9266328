"""Build-time calibration of the neighbour graph (flixrec.graph): the search width per query kind and filter share.

For each kind (free-text-like queries; stored rows' neighbours at several k) and filter share
(graph.LEVELS, random filters of that share), sample queries are searched at growing widths; the first
width whose recall@k against the exact top k reaches GRAPH_RECALL is kept with its measured time per
query (search and exact re-score), which the planner weighs against the scan plans' cost. A level where
no width reaches the recall, or where the width needed is already slower than the scan, is off.
"""

from __future__ import annotations

import time

import numpy as np

from flixrec.projection_calibration import sample_queries
from flixrec.plan_cost import scan_plan_cost
from flixrec.graph import EF_CHOICES, GRAPH_RECALL, KINDS, LEVELS, NeighbourGraph, Setting
from flixrec.rescore import dot_rows, on_threads


def calibrate_graph(matrix: np.ndarray, projection, graph: NeighbourGraph, seed: int = 0,
                    general_queries: int = 128, item_queries: int = 512,
                    against_scan: bool = True) -> dict[str, list[Setting | None]]:
    """settings[kind][level]: (ef, ms) or None (see the module docstring).

    Many stored-row queries: the walk's misses gather in a few queries whose neighbours lie in far
    clusters, so a small sample swings (128 of them reached 0.998 at a width that gave 0.995 on 200 others;
    on 512, no width reached 0.998).

    `against_scan=False` keeps widths slower than the scan plans (tests of the graph on small corpora).
    """
    n, d = matrix.shape
    if n <= 4 * max(KINDS.values()):
        return {}
    general = sample_queries(matrix, general_queries, np.random.default_rng(seed + 21))
    items = np.sort(np.random.default_rng(seed + 22).choice(n, size=min(n, item_queries), replace=False))
    item_vectors = np.asarray(matrix[items], dtype=np.float32)
    masks = {level: None if level >= 1.0 else np.random.default_rng(seed + 23).random(n) < level for level in LEVELS}
    settings: dict[str, list[Setting | None]] = {}
    for level, keep in masks.items():
        passing = n if keep is None else int(keep.sum())
        truths = {"any": _exact_top(matrix, general, max(k for kind, k in KINDS.items() if kind == "any"), keep, None),
                  "item": _exact_top(matrix, item_vectors, max(k for kind, k in KINDS.items() if kind != "any"), keep,
                                     items)}
        for kind, k in KINDS.items():
            vectors, exclude, truth = ((general, None, truths["any"]) if kind == "any"
                                       else (item_vectors, items, truths["item"]))
            scan_ms = (scan_plan_cost(projection, n, d, passing, *projection.sizes(kind != "any", k, passing / n))
                       if against_scan else np.inf)
            settings.setdefault(kind, []).append(
                _narrowest_width(matrix, projection, graph, vectors, exclude, truth[:, :k], k, keep, scan_ms))
    return settings


def _narrowest_width(matrix, projection, graph, vectors, exclude, truth, k, keep, scan_ms) -> Setting | None:
    """The smallest width reaching GRAPH_RECALL with its median ms, or None."""
    reached: list[float] = []
    for ef in (e for e in EF_CHOICES if e >= k):
        found, times = 0, []
        for i, vector in enumerate(vectors):
            began = time.perf_counter()
            start = None if exclude is None else int(exclude[i])
            rows = graph.search(matrix, projection, vector, ef + (exclude is not None), keep, start)
            scores = dot_rows(matrix, rows, vector)
            times.append(time.perf_counter() - began)
            if exclude is not None:
                scores[rows == exclude[i]] = -np.inf
            best = rows[np.argsort(-scores, kind="stable")[:k]]
            found += len(np.intersect1d(best, truth[i]))
        ms = float(np.median(times)) * 1e3
        if ms > scan_ms:
            return None  # wider searches only cost more: the scan plans answer these queries
        recall = found / (k * len(vectors))
        if recall >= GRAPH_RECALL:
            return ef, round(ms, 4)
        if len(reached) >= 2 and recall < reached[-2] + 0.0005:
            return None  # no longer gaining over two steps: the misses lie beyond the walk's reach
        reached.append(recall)
    return None


def _exact_top(matrix, vectors, k, keep, exclude, block: int = 64) -> np.ndarray:
    """(queries, k) exact best rows per query among `keep`, best first (`exclude[i]`: query i's own row)."""
    def top_of_block(start: int) -> np.ndarray:
        part = vectors[start : start + block]
        scores = np.empty((len(part), len(matrix)), dtype=np.float32)
        for row in range(0, len(matrix), 65_536):  # a memory-mapped matrix is read in blocks
            scores[:, row : row + 65_536] = part @ np.asarray(matrix[row : row + 65_536]).T
        if keep is not None:
            scores[:, ~keep] = -np.inf
        if exclude is not None:
            scores[np.arange(len(part)), exclude[start : start + block]] = -np.inf
        top = np.argpartition(-scores, k, axis=1)[:, :k]
        order = np.argsort(-np.take_along_axis(scores, top, axis=1), axis=1, kind="stable")
        return np.take_along_axis(top, order, axis=1)

    return np.concatenate(on_threads(top_of_block, range(0, len(vectors), block))).astype(np.int64)
