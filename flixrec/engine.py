"""The query engine behind `IndexSnapshot.nearest`: exact top-k under any filter, planned by selectivity.

A full exact scan of a large index reads every vector per query, too slow (docs/performance.md).
The planner picks, per query, the cheapest way that still returns the exact ranking in practice:

- few rows pass the filter (at most `exact_rows`): gather them and rank them exactly;
- many pass, and the index is small (no projection): one full matrix-vector product, the rows that
  fail masked with -inf (no fancy-index copy of a large sub-matrix);
- many pass, large index: a two-stage scan of a `Projection` (the vectors' 128 strongest principal
  directions, as two 64-column blocks, read as int8 codes (flixrec.codes): stage 1 reads a 32nd of the
  full scan's bytes and keeps the best `prefilter` rows, stage 2 adds the second block for those and
  keeps the best `shortlist`),
  then the shortlist is re-scored exactly with the full float32 vectors. Scores and order are always
  exact; only shortlist membership is approximate, so both sizes are calibrated at build time on
  sample queries: the pair of least estimated cost (`stage_cost`) whose recall@20 reaches
  CALIBRATION_RECALL; when none reaches it (e.g. random vectors) the projection is switched off and
  every query is exact.
- many pass, and the index has calibrated clusters (flixrec.ivf): the clustered first stage reads only
  the nearest clusters' rows, when its estimated cost (`ivf_calibration.clustered_cost`) is below the
  scan plan's; it is calibrated per query kind and filter share, and is off where calibration fails.
- many pass, and the index has a calibrated neighbour graph (flixrec.graph): a best-first walk of the
  graph gathers the candidates, when its time measured at calibration is below the scan plan's cost;
  when it meets fewer than k passing rows the scan plans answer instead.

Ties come back in a fixed order (the caller's `tie_rank`, title-id order), so results are stable.
The last query's stage-1 scores of every row are kept per thread: a similar-titles call searches twice
with the seed's vector (its filtered candidates, the seed's unfiltered neighbourhood) and scans once.
"""

from __future__ import annotations

import dataclasses
import threading
import time

import numpy as np

from flixrec.codes import SCAN_SPLIT_ROWS, ProjectedCodes, rows_at_least, strided_sample
from flixrec.graph import NeighbourGraph
from flixrec.ivf import Clusters, Setting
from flixrec.plan_cost import scan_plan_cost, scans_every_row
from flixrec.rescore import dot_rows, passing_rows

PROJECTED_DIMS = 128
"""Dimensions of the projection used to shortlist (of 512 for USE, 384 for MiniLM)."""
PROJECT_FROM_ROWS = 40_000
"""Below this many vectors a full exact scan is cheap enough: no projection is built."""
HEAD_DIMS = 64
"""Of those, the strongest ones scanned for every row in the first stage (the rest only for the best)."""
SHORTLIST = 2048
"""Rows re-scored exactly after the projected scan, unless calibration chose another size."""
SHORTLIST_CHOICES = (1024, 2048, 4096, 8192, 16384)
PREFILTER_CHOICES = (8192, 16384, 32768, 65536)
ITEM_SHORTLIST_CHOICES = (256, 512) + SHORTLIST_CHOICES
ITEM_PREFILTER_CHOICES = (2048, 4096) + PREFILTER_CHOICES
ITEM_K = 40
"""Item queries are calibrated for this many neighbours (similar_titles fetches k + 16 for franchises)."""
SIZE_LEVELS = (0.15, 0.6)
"""Filter shares the item sizes are calibrated for too (random filters of that share). Where fewer rows pass, the
filtered top k are fewer rows deep among the passing ones, so smaller sizes reach the recall; a query takes the
sizes of the smallest level at or above its share (docs/performance.md, "Sizes per filter share")."""
CALIBRATION_RECALL = 0.995
"""A projection is used only with a shortlist whose recall@20 on sample queries reaches this."""
EXACT_ROWS = 2_048
"""When at most this many rows (or the shortlist's) pass the filter, they are ranked exactly without the
projection; above it, gathering every passing row's full vector costs more than the projected stages."""
FIT_SAMPLE = 20_000


@dataclasses.dataclass(frozen=True)
class Projection:
    """Vectors projected on the top principal directions of their (uncentred) second moment.

    Stored as two column blocks so the first stage reads only `head` (the strongest directions):
    stage 1 keeps the best `prefilter` rows by their head score, stage 2 adds the `tail` score of those
    and keeps the best `shortlist`, which are re-scored exactly. Both sizes are calibrated on the data.
    """

    basis: np.ndarray  # (d, p) float32, orthonormal columns, strongest first
    head: np.ndarray  # (n, h) float32 = matrix @ basis[:, :h]
    tail: np.ndarray  # (n, p - h) float32 = matrix @ basis[:, h:]
    shortlist: int = SHORTLIST  # rows re-scored exactly; 0: calibration found no size good enough (exact scans)
    prefilter: int = 0  # rows kept by the head score for stage 2; 0: no first stage (all passing rows)
    item_shortlist: int = 0  # the same two sizes for item queries (a stored row's neighbours); 0: as above
    item_prefilter: int = 0
    codes: ProjectedCodes | None = None  # int8 codes of head and tail, derived from them when not given
    scan_ms: float = 0.0  # measured ms of the first stage over every row (`measure_scan`); 0: not measured
    item_levels: tuple[tuple[float, int, int], ...] = ()  # (share, shortlist, prefilter) of item queries per SIZE_LEVELS

    def __post_init__(self) -> None:
        if self.codes is None:
            object.__setattr__(self, "codes", ProjectedCodes.of(self.head, self.tail))

    def sizes(self, item: bool, k: int, share: float = 1.0) -> tuple[int, int]:
        """(shortlist, prefilter) for a query: item queries sit on the data and need smaller ones, the smaller
        the share of rows passing its filter (within 1% counts as the level: the seed itself is excluded)."""
        if item and self.item_shortlist and k <= ITEM_K:
            for level, shortlist, prefilter in self.item_levels:
                if share <= level * 1.01:
                    return shortlist, prefilter
            return self.item_shortlist, self.item_prefilter
        return self.shortlist, self.prefilter

    @classmethod
    def fit(cls, matrix: np.ndarray, dims: int = PROJECTED_DIMS, sample: int = FIT_SAMPLE, seed: int = 0) -> Projection:
        """Fit on a seeded sample of rows, project every row, and calibrate the sizes (seconds at 300k)."""
        n, d = matrix.shape
        dims = max(2, min(dims, d))
        rng = np.random.default_rng(seed)
        rows = np.sort(rng.choice(n, size=min(n, sample), replace=False))
        part = np.asarray(matrix[rows], dtype=np.float64)
        _, vectors = np.linalg.eigh(part.T @ part)
        basis = np.ascontiguousarray(vectors[:, ::-1][:, :dims], dtype=np.float32)
        split = min(HEAD_DIMS, dims - 1)
        head = np.empty((n, split), dtype=np.float32)
        tail = np.empty((n, dims - split), dtype=np.float32)
        for start in range(0, n, 65_536):  # blocks: a memory-mapped matrix is not read in one go
            block = matrix[start : start + 65_536] @ basis
            head[start : start + 65_536], tail[start : start + 65_536] = block[:, :split], block[:, split:]
        from flixrec.projection_calibration import calibrate  # it ranks with the stages this module defines

        projection = cls(basis, head, tail)
        (shortlist, prefilter), (item_shortlist, item_prefilter), levels = calibrate(matrix, projection, seed=seed)
        projection = dataclasses.replace(projection, shortlist=shortlist, prefilter=prefilter,
                                         item_shortlist=item_shortlist, item_prefilter=item_prefilter,
                                         item_levels=levels)
        if n < SCAN_SPLIT_ROWS:
            return projection  # codes this small stay in the CPU caches, where the cost model holds
        return dataclasses.replace(projection, scan_ms=projection.measure_scan(seed=seed))

    def measure_scan(self, repeats: int = 7, seed: int = 0) -> float:
        """Median ms of the first stage over every row: the head scan and the pass selecting the prefilter
        from it. The plans are chosen by cost, and this one outgrows the model's estimate once the codes
        outgrow the CPU caches (at 1M rows 1.5x: docs/performance.md, "Choosing the sizes by cost")."""
        assert self.codes is not None
        split = self.head.shape[1]
        queries = np.random.default_rng(seed + 3).standard_normal((repeats + 1, split)).astype(np.float32)
        times = []
        for query in queries:
            began = time.perf_counter()
            _top_indices(self.codes.head_scores(query), max(self.prefilter, self.item_prefilter, self.shortlist, 1))
            times.append(time.perf_counter() - began)
        return round(float(np.median(times[1:])) * 1e3, 4)  # the first warms the caches and compiled code

    @property
    def projected(self) -> np.ndarray:
        """(n, p) projected rows (a copy: for inspection, not the query path)."""
        return np.hstack([self.head, self.tail])


@dataclasses.dataclass
class Plan:
    """How one query was answered (for benchmarks and tests)."""

    method: str  # "exact-gather" | "exact-full" | "projected-gather" | "projected-full" | "clustered" | "graph"
    passing: int
    candidates: int


class VectorSearch:
    """Top-k rows by inner product (cosine on unit rows) among the rows a mask keeps, best first."""

    def __init__(
        self,
        matrix: np.ndarray,
        tie_rank: np.ndarray,
        projection: Projection | None = None,
        *,
        shortlist: int = SHORTLIST,
        exact_rows: int = EXACT_ROWS,
        mode: str = "auto",
        clusters: Clusters | None = None,
        graph: NeighbourGraph | None = None,
    ):
        if mode not in ("auto", "exact", "projected", "clustered", "graph"):
            raise ValueError(f"unknown search mode {mode!r}")
        self.matrix = matrix
        self.tie_rank = tie_rank
        if projection is not None and mode == "auto":
            if not projection.shortlist:  # calibration: the projection cannot reach the recall target
                projection = None
            else:
                shortlist = projection.shortlist
        self.projection = projection
        # the clustered stage reads the projection's columns; "clustered" forces it (benchmarks, tests)
        usable = projection is not None and clusters is not None and (clusters.enabled or mode == "clustered")
        self.clusters = clusters if usable and mode in ("auto", "clustered") else None
        # the graph's entries are found in the projection's space; "graph" forces it (benchmarks, tests)
        usable = projection is not None and graph is not None and (graph.enabled or mode == "graph")
        self.graph = graph if usable and mode in ("auto", "graph") else None
        self.shortlist = shortlist
        self.exact_rows = exact_rows
        self.mode = mode
        self.last_plan: Plan | None = None
        self._last_head = threading.local()

    def _plan(self, passing: int, k: int = 20, item: bool = False) -> tuple[str, Setting | int | None]:
        """The method for a query, and the clustered stage's setting (or the graph's width) when that is the method."""
        n = len(self.matrix)
        if self.mode == "exact" or self.projection is None:
            return ("exact-gather" if passing * 3 < n else "exact-full"), None
        if self.mode == "auto" and passing <= max(self.exact_rows, self.shortlist):
            return "exact-gather", None
        method = "projected-full" if scans_every_row(passing, n) else "projected-gather"
        if self.graph is not None:
            walk = self.graph.setting(item, k, passing / n)
            if self.mode == "graph":
                return "graph", walk[0] if walk else max(4 * k, 64)
            scan = scan_plan_cost(self.projection, n, self.matrix.shape[1], passing,
                                  *self.projection.sizes(item, k, passing / n))
            if walk is not None and walk[1] < scan:
                return "graph", walk[0]
        if self.clusters is None:
            return method, None
        kind = ("item" if k <= 20 else "item_wide" if k <= ITEM_K else None) if item else ("any" if k <= 20 else None)
        setting = self.clusters.setting(kind, passing / n) if kind else None
        if self.mode == "clustered":
            fallback = [s for s in self.clusters.settings.get(kind or "any", []) if s is not None]
            setting = setting or (fallback[-1] if fallback else (1.0, 4 * max(k, 64), 2 * max(k, 64)))
            return "clustered", setting
        if setting is None:
            return method, None
        from flixrec.ivf_calibration import clustered_cost  # the cost model lives with the calibration

        head_dims, tail_dims = self.projection.head.shape[1], self.projection.tail.shape[1]
        clustered = clustered_cost(n, self.matrix.shape[1], head_dims, tail_dims, len(self.clusters.offsets) - 1,
                                   passing / n, *setting)
        scan = scan_plan_cost(self.projection, n, self.matrix.shape[1], passing,
                              *self.projection.sizes(item, k, passing / n))
        return ("clustered", setting) if clustered < scan else (method, None)

    def top_k(self, vector: np.ndarray, k: int, keep: np.ndarray | None = None, *,
              item: bool = False, row: int | None = None) -> tuple[np.ndarray, np.ndarray]:
        """(rows, exact scores) of the k best rows among `keep`, best first, ties in tie_rank order.

        `item`: the vector is a stored row (similar titles), so the projection's item sizes apply;
        `row`: that row, when known (the neighbour graph's walk starts there).
        """
        n = len(self.matrix)
        empty = (np.zeros(0, dtype=np.int64), np.zeros(0, dtype=np.float32))
        if k <= 0 or n == 0:
            return empty
        query = np.asarray(vector, dtype=np.float32)
        passing = n if keep is None else int(np.count_nonzero(keep))
        if passing == 0:
            return empty
        method, setting = self._plan(passing, k, item)
        if method == "graph":
            assert isinstance(setting, int) and self.graph is not None
            candidates = self.graph.search(self.matrix, self.projection, query, setting, keep, row)
            if candidates.size >= min(k, passing):
                self.last_plan = Plan(method, passing, int(candidates.size))
                return self._best(candidates, dot_rows(self.matrix, candidates, query), min(k, passing))
            method = "projected-full" if scans_every_row(passing, n) else "projected-gather"  # the walk met too few
        # the passing rows' numbers are needed only by the plans that gather them
        rows = None if keep is None or method.endswith("-full") or method == "clustered" else passing_rows(keep, passing)
        if method == "exact-gather":
            rows = np.arange(n) if rows is None else rows
            candidates, scores = rows, dot_rows(self.matrix, rows, query)
        elif method == "exact-full":
            scores = self.matrix @ query
            if keep is not None:
                np.copyto(scores, -np.inf, where=~keep)
            candidates = np.arange(n)
        elif method == "clustered":
            assert setting is not None
            candidates = self.clusters.shortlist(self.projection, query, k, keep, passing, setting)
            scores = dot_rows(self.matrix, candidates, query)
        else:
            assert self.projection is not None
            candidates = self._shortlist(query, k, keep, rows, passing, method, item)
            scores = dot_rows(self.matrix, candidates, query)
        self.last_plan = Plan(method, passing, int(candidates.size))
        return self._best(candidates, scores, min(k, passing))

    def _shortlist(self, query: np.ndarray, k: int, keep: np.ndarray | None, rows: np.ndarray | None,
                   passing: int, method: str, item: bool) -> np.ndarray:
        """Sorted rows of the projected shortlist: head scores, then head + tail scores of the best.

        On the full-index plan the filter is applied while selecting (threshold & mask), never by
        writing -inf over the failing rows' scores (a copy of every score, costly at scale).
        """
        projection = self.projection
        reduced = projection.basis.T @ query
        split = projection.head.shape[1]
        gather = method == "projected-gather"
        if gather:
            scanned = self._scanned_head(reduced[:split])
            head = scanned[rows] if scanned is not None else projection.codes.head_scores_of(rows, reduced[:split])
        else:
            head = self._head_scores(reduced[:split])
        mask = None if gather else keep  # which head entries may be chosen
        shortlist, prefilter = (projection.sizes(item, k, passing / len(self.matrix)) if self.mode == "auto"
                                else (self.shortlist, projection.prefilter))
        size = min(max(shortlist, k), passing)
        if prefilter and shortlist < prefilter < passing:
            best = _top_indices(head, prefilter, mask)
            where = rows[best] if gather else best
            approx = head[best] + projection.codes.tail_scores(where, reduced[split:])
            short = where[_top_indices(approx, size)]
        else:
            # no prefilter (or one keeping every passing row): each passing row gets its tail score
            where = rows if gather else (np.arange(len(head)) if keep is None else np.flatnonzero(keep))
            approx = (head if gather else head[where]) + projection.codes.tail_scores(where, reduced[split:])
            short = where[_top_indices(approx, size)]
        return np.sort(short)  # sorted rows read the memory-mapped matrix in order

    def _head_scores(self, head_query: np.ndarray) -> np.ndarray:
        """Stage-1 scores of every row (the projection's head block), the last query's reused (per thread)."""
        scores = self._scanned_head(head_query)
        if scores is None:
            assert self.projection is not None
            scores = self.projection.codes.head_scores(head_query)
            self._last_head.value = (head_query.copy(), scores)
        return scores

    def _scanned_head(self, head_query: np.ndarray) -> np.ndarray | None:
        """The stage-1 scores of every row when this thread's last full scan was for this query, else None."""
        last = getattr(self._last_head, "value", None)
        return last[1] if last is not None and np.array_equal(last[0], head_query) else None

    def _best(self, rows: np.ndarray, scores: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
        """The k best (rows, scores), by score then tie rank."""
        if scores.size > k:
            # everything tied with the k-th score too, then order by (score desc, tie rank)
            kth = np.partition(scores, scores.size - k)[scores.size - k]
            pick = np.flatnonzero(scores >= kth)
        else:
            pick = np.arange(scores.size)
        order = np.lexsort((self.tie_rank[rows[pick]], -scores[pick]))[:k]
        chosen = pick[order]
        return rows[chosen], scores[chosen]


def _top_indices(values: np.ndarray, size: int, keep: np.ndarray | None = None) -> np.ndarray:
    """Sorted indices of at least the `size` largest values among `keep` (all of them tied at the edge).

    A threshold taken from a strided sample selects them in one pass, `values >= t & keep`; when that
    falls short or takes far too many, a partition of the kept values.
    """
    if keep is None and size >= values.size:
        return np.arange(values.size)
    if values.size >= 8 * size:
        sample = strided_sample(values, 16, keep)
        rank = size // 16 + size // 64 + 8
        if rank < sample.size:
            threshold = np.partition(sample, sample.size - 1 - rank)[sample.size - 1 - rank]
            chosen = rows_at_least(values, threshold, keep)
            if size <= chosen.size <= 2 * size:
                return chosen
    candidates = np.arange(values.size) if keep is None else np.flatnonzero(keep)
    if size >= candidates.size:
        return candidates
    kept = values if keep is None else values[candidates]
    return np.sort(candidates[np.argpartition(-kept, size - 1)[:size]])
