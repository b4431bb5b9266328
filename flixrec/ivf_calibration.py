"""Build-time calibration of the clustered first stage (flixrec.ivf): how far to probe and how many rows to keep.

For each query kind (free-text-like, item k <= 20, item k <= ITEM_K) and filter share (ivf.LEVELS,
random filters of that share), sample queries give, for each exact top-k row, the passing rows seen
before its cluster is probed, its head-score rank and its projected-score rank among the passing rows
probed. The setting (fraction of passing rows to see, prefilter, shortlist) of least estimated cost
(`clustered_cost`) whose recall@k reaches CLUSTER_RECALL is kept; a level where none does, or where
none is estimated cheaper than the scan plans (plan_cost.scan_plan_cost), is off, and when every level is
off no cluster files are written (no memory spent).
The sample queries are the projection's (projection_calibration.calibrate): stored rows, rows pushed off
the data by noise (free text), and stored rows with themselves excluded (similar titles).
"""

from __future__ import annotations

import numpy as np

from flixrec.engine import CALIBRATION_RECALL, ITEM_K
from flixrec.projection_calibration import sample_queries
from flixrec.plan_cost import gather_cost, scan_cost, scan_plan_cost
from flixrec.ivf import LEVELS, Clusters, Setting

CLUSTER_RECALL = max(CALIBRATION_RECALL, 0.999)
"""The recall a setting must reach on the sample queries: above CALIBRATION_RECALL because the misses come
from a few queries whose neighbours lie in far clusters, so another sample of queries scores lower."""

FRACTIONS = (0.0025, 0.004, 0.006, 0.008, 0.012, 0.016, 0.024, 0.032, 0.048, 0.064, 0.09, 0.13, 0.18, 0.25, 0.35)
"""Fractions of the passing rows a query may see before it stops probing."""
PREFILTERS = (512, 1024, 2048, 4096, 8192, 16384)
SHORTLISTS = (128, 256, 512, 1024, 2048)
CANDIDATE_FRACTIONS = 3
"""Fractions tried beyond the smallest that covers enough of the exact top rows (a larger one may allow smaller stages)."""


def clustered_cost(n: int, d: int, head_dims: int, tail_dims: int, clusters: int, share: float,
                   fraction: float, prefilter: int, shortlist: int) -> float:
    """Estimated ms of a clustered query: centroid scores and order, the probed rows' bookkeeping, the
    passing ones' head rows (cluster runs without a filter, ~4.5x a scan's cost per row; scattered rows with
    one, ~2.5x that: docs/performance.md), the tail of the prefilter and the exact re-score."""
    probed = fraction * n
    passing = fraction * share * n
    centroids = scan_cost(clusters * (head_dims + tail_dims) * 4e-6) + clusters * 4e-5
    gather = 4.5 if share >= 0.99 else 10.0  # per row against a scan in order (measured at 300k, quiet machine)
    return (0.03 + centroids + probed * 5e-6 + gather * scan_cost(passing * head_dims * 4e-6)
            + gather_cost(min(prefilter, passing) * tail_dims * 4e-6) + gather_cost(shortlist * d * 4e-6))


def calibrate_clusters(matrix: np.ndarray, projection, clusters: Clusters, assign: np.ndarray, seed: int = 0,
                       queries: int = 48, item_queries: int = 160, k: int = 20,
                       against_scan: bool = True) -> dict[str, list[Setting | None]]:
    """settings[kind][level] (see the module docstring); every level off when the index is tiny.

    `against_scan=False` keeps settings dearer than the scan plans (tests of the stage on small corpora).
    """
    n, d = matrix.shape
    if n <= 4 * ITEM_K:
        return {}
    general = sample_queries(matrix, queries, np.random.default_rng(seed + 11))
    items = np.sort(np.random.default_rng(seed + 12).choice(n, size=min(n, item_queries), replace=False))
    item_vectors = np.asarray(matrix[items], dtype=np.float32)
    kinds = {"any": (general, None, (("any", k),)), "item": (item_vectors, items, (("item", k), ("item_wide", ITEM_K)))}
    # pass 1: which fractions cover enough of the exact top rows; pass 2: the stages' ranks for those
    needs = {kind: {level: [] for level in LEVELS} for kind in ("any", "item", "item_wide")}
    for _, (vectors, exclude, tops) in kinds.items():
        for query in _queries(matrix, projection, clusters, assign, vectors, exclude, tops, seed):
            for kind, level, truth_need, _, _, _ in query:
                needs[kind][level].append(truth_need)
    candidates = {kind: {level: _candidate_fractions(np.concatenate(needs[kind][level])) for level in LEVELS}
                  for kind in needs}
    found = {kind: {level: {f: [] for f in candidates[kind][level]} for level in LEVELS} for kind in needs}
    for _, (vectors, exclude, tops) in kinds.items():
        for query in _queries(matrix, projection, clusters, assign, vectors, exclude, tops, seed):
            for kind, level, truth_need, passing, scores, probed_of in query:
                for fraction in candidates[kind][level]:
                    found[kind][level][fraction].append(_stage_ranks(truth_need, passing, fraction, scores, probed_of))
    head_dims, tail_dims = projection.head.shape[1], projection.tail.shape[1]
    count = len(clusters.offsets) - 1
    settings: dict[str, list[Setting | None]] = {}
    for kind, levels in found.items():
        settings[kind] = []
        for level in LEVELS:
            sizes = projection.sizes(kind != "any", ITEM_K if kind == "item_wide" else k, level)
            scan = scan_plan_cost(projection, n, d, int(level * n), *sizes) if against_scan else float("inf")
            best: tuple[float, Setting] | None = None
            for fraction, parts in levels[level].items():
                covered = np.concatenate([p[0] for p in parts])
                head_rank = np.concatenate([p[1] for p in parts])
                full_rank = np.concatenate([p[2] for p in parts])
                for shortlist in SHORTLISTS:
                    for prefilter in PREFILTERS:
                        if prefilter <= shortlist or shortlist < (ITEM_K if kind == "item_wide" else k):
                            continue
                        recall = float(np.mean(covered & (head_rank < prefilter) & (full_rank < shortlist)))
                        if recall < CLUSTER_RECALL:
                            continue
                        cost = clustered_cost(n, d, head_dims, tail_dims, count, level, fraction, prefilter, shortlist)
                        if cost >= scan:
                            continue  # never cheaper than the scan plans: the planner would not take it
                        if best is None or cost < best[0]:
                            best = (cost, (fraction, prefilter, shortlist))
            settings[kind].append(None if best is None else best[1])
    return settings


def _candidate_fractions(need: np.ndarray) -> list[float]:
    """The smallest FRACTIONS whose probe covers CLUSTER_RECALL of the exact top rows, and a few larger."""
    usable = [f for f in FRACTIONS if float(np.mean(need < f)) >= CLUSTER_RECALL]
    return usable[:CANDIDATE_FRACTIONS]


def _queries(matrix, projection, clusters: Clusters, assign, vectors, exclude, tops, seed: int, block: int = 16):
    """Per query, per (kind, k) and level: (kind, level, need, passing, (head, full) scores, probed rows' need).

    `need` of an exact top row: the passing rows seen before its cluster is probed, as a fraction of
    the passing rows (it is found when the query's fraction exceeds it)."""
    split = projection.head.shape[1]
    n = len(matrix)
    cluster_of_row = assign
    for start in range(0, len(vectors), block):
        part = vectors[start : start + block]
        exact = np.empty((len(part), n), dtype=np.float32)
        for row in range(0, n, 65_536):  # blocks: a memory-mapped matrix is not read in one go
            exact[:, row : row + 65_536] = part @ np.asarray(matrix[row : row + 65_536]).T
        reduced = part @ projection.basis
        head = reduced[:, :split] @ projection.head.T
        full = head + reduced[:, split:] @ projection.tail.T
        centroid_scores = reduced @ clusters.centroids.T
        for i in range(len(part)):
            number = start + i
            ranked = np.argsort(-centroid_scores[i])
            draw = np.random.default_rng((seed, number)).random(n, dtype=np.float32)  # the levels' filters are nested
            out = []
            for level in LEVELS:
                keep = draw < level
                if exclude is not None:
                    keep[exclude[number]] = False
                passing = int(keep.sum())
                per_cluster = np.bincount(cluster_of_row[keep], minlength=len(ranked))[ranked]
                before = np.empty(len(ranked), dtype=np.float64)
                before[ranked] = (np.cumsum(per_cluster) - per_cluster) / max(1, passing)
                row_need = before[cluster_of_row]
                masked = np.where(keep, exact[i], -np.inf)
                kept_rows = np.flatnonzero(keep)
                for kind, top_k in tops:
                    top = np.argpartition(-masked, top_k)[:top_k]
                    out.append((kind, level, row_need[top], passing, (head[i], full[i], top),
                                (row_need, kept_rows)))
            yield out


def _stage_ranks(truth_need: np.ndarray, passing: int, fraction: float, scores, probed_of) -> tuple:
    """(covered, head rank, projected rank) of the exact top rows among the passing rows a fraction probes."""
    head, full, top = scores
    row_need, kept_rows = probed_of
    target = max(len(top), fraction * passing) / max(1, passing)
    probed = kept_rows[row_need[kept_rows] < target]
    return truth_need < target, _ranks(head[probed], head[top]), _ranks(full[probed], full[top])


def _ranks(values: np.ndarray, of: np.ndarray) -> np.ndarray:
    """For each of `of`, how many `values` exceed it (one searchsorted pass, not a comparison per pair)."""
    ordering = np.argsort(of)
    sorted_of = of[ordering]
    counts = np.bincount(np.searchsorted(sorted_of, values, side="left"), minlength=len(of) + 1)
    above = np.cumsum(counts[::-1])[::-1]  # above[j]: values whose left insertion point is >= j
    ranks = np.empty(len(of), dtype=np.int64)
    ranks[ordering] = above[1:]
    return ranks
