"""A neighbour-graph first stage for unfiltered queries (issue 19).

Each row is linked to its nearest rows (exact scores), plus the rows that link to it; a query walks the
graph best-first from the rows nearest the query's clusters and hands the best `ef` rows it met to the
engine's exact re-score, so scores and order stay exact and only membership is approximate.

Building the links (docs/performance.md, "The neighbour graph"): every row is filed under its
CLUSTERS_PER_ROW nearest k-means centroids (the clustered stage's, flixrec.ivf), the rows sharing a
cluster are scored against each other exactly (one matrix product per cluster), and each row keeps its
LINKS best; the search width `ef` is calibrated per query kind and filter share on sample queries
(the smallest whose recall reaches GRAPH_RECALL), with its measured time, so the planner takes the graph
only where it is faster than the scan plans; a kind or share where no width reaches the recall is off
(then the scan plans answer, as they do for a build whose clustering left far neighbours unlinked).
"""

from __future__ import annotations

import dataclasses
import json
import threading
import time
from pathlib import Path

import numpy as np

from flixrec.rescore import SCAN_THREADS, on_threads

GRAPH_FROM_ROWS = 40_000
"""Below this many vectors the scan plans are cheap enough: no graph is built."""
CLUSTERS_PER_ROW = 6
"""Clusters each row is filed under when its candidate neighbours are gathered."""
CANDIDATES_PER_CLUSTER = 32
"""A row's best rows taken from each of its clusters."""
LINKS = 32
"""A row's own links (its nearest candidates, exact scores)."""
WIDTH = 48
"""Links kept per row: its own, then rows linking to it while there is room."""
ENTRIES = 4
"""Clusters whose central rows start a search (the query's nearest centroids)."""
EF_CHOICES = (24, 32, 48, 64, 96, 128, 192, 256, 384, 512)
GRAPH_RECALL = 0.996
"""Recall@k a width must reach on the sample queries (512 stored rows: see graph_calibration), a margin over
the engine's 0.995 for another sample of queries."""
LEVELS = (1.0,)
"""Filter shares calibrated: a query whose share is s uses the largest level <= s. Only unfiltered
queries: where half the rows pass, the walk reached recall 0.973-0.991 at widths 64-512, under the bar
(docs/performance.md)."""
KINDS = {"any": 20, "item": 20, "item_wide": 40}
"""Query kinds and the k each is calibrated for: free text, a stored row's neighbours (k <= 20, k <= 40).
The ~200 candidates similar titles rank are not calibrated: those calls take the scan plans."""

Setting = tuple[int, float]
"""(ef, measured ms per query at calibration)."""


@dataclasses.dataclass(frozen=True)
class NeighbourGraph:
    """`links[row]`: the rows linked to `row` (-1 pads), `entries[c]`: the row nearest centroid c."""

    links: np.ndarray  # (n, WIDTH) int32
    entries: np.ndarray  # (c,) int32
    centroids: np.ndarray  # (c, p) float32, in the projection's space (unit rows)
    settings: dict[str, list[Setting | None]] = dataclasses.field(default_factory=dict)
    fit_seconds: float = 0.0  # links and calibration of a fresh fit (for the benchmarks; not stored)

    def __post_init__(self) -> None:
        object.__setattr__(self, "_visits", threading.local())

    @property
    def enabled(self) -> bool:
        return any(s is not None for levels in self.settings.values() for s in levels)

    @property
    def nbytes(self) -> int:
        return sum(a.nbytes for a in (self.links, self.entries, self.centroids))

    def setting(self, item: bool, k: int, share: float) -> Setting | None:
        """The calibrated (ef, ms) for a query, or None (the scan plans answer it)."""
        kinds = [kind for kind, size in KINDS.items() if (kind != "any") == item and size >= k]
        if not kinds:
            return None
        levels = self.settings.get(min(kinds, key=KINDS.get)) or []
        for level, setting in zip(LEVELS, levels):
            if level <= share * 1.01:  # within 1% counts as the level (the seed excluded: not quite 1)
                return setting
        return None

    def search(self, matrix: np.ndarray, projection, query: np.ndarray, ef: int,
               keep: np.ndarray | None, start: int | None = None) -> np.ndarray:
        """Rows (ascending) of the up to `ef` best passing rows the search meets (`start`: the query's own
        row, for a stored title's neighbours: the walk starts there too)."""
        from flixrec.graph_kernels import search

        reduced = projection.basis.T @ query
        nearest = np.argpartition(-(self.centroids @ reduced), ENTRIES)[:ENTRIES] if len(self.centroids) > ENTRIES \
            else np.arange(len(self.centroids))
        entries = self.entries[nearest]
        if start is not None:
            entries = np.concatenate([np.array([start], dtype=np.int32), entries])
        visits = self._visits
        if getattr(visits, "marks", None) is None or len(visits.marks) != len(matrix) or visits.epoch >= 2**31 - 2:
            visits.marks, visits.epoch = np.zeros(len(matrix), dtype=np.int32), 0
        visits.epoch += 1
        rows, _, _ = search(np.asarray(matrix), np.asarray(self.links), np.ascontiguousarray(query, dtype=np.float32),
                            entries[entries >= 0], ef, keep if keep is not None else _NO_FILTER, keep is not None,
                            visits.marks, visits.epoch)
        return np.sort(rows.astype(np.int64))

    @classmethod
    def fit(cls, matrix: np.ndarray, projection, centroids: np.ndarray, seed: int = 0,
            calibrate: bool = True) -> NeighbourGraph:
        """Links from the rows sharing clusters (exact scores), then the widths calibrated."""
        from flixrec.graph_kernels import absorb, top_columns, with_reverse_links

        began = time.perf_counter()
        n = len(matrix)
        full = np.asarray(matrix)
        count = len(centroids)
        per_row = min(CLUSTERS_PER_ROW, count)
        nearest = np.empty((n, per_row), dtype=np.int32)
        closeness = np.empty(n, dtype=np.float32)  # each row's score against its nearest centroid
        for start in range(0, n, 32_768):
            block = np.hstack([projection.head[start : start + 32_768], projection.tail[start : start + 32_768]])
            scores = block @ centroids.T
            nearest[start : start + 32_768] = top_columns(scores, per_row)
            closeness[start : start + 32_768] = scores[np.arange(len(block)), nearest[start : start + 32_768, 0]]
        # each cluster's entry: its row nearest the centroid (-1: no row has it as its nearest)
        by_cluster = np.lexsort((-closeness, nearest[:, 0]))
        firsts = by_cluster[np.r_[True, np.diff(nearest[by_cluster, 0]) != 0]]
        entries = np.full(count, -1, dtype=np.int32)
        entries[nearest[firsts, 0]] = firsts
        filed = nearest.ravel()
        members_of = np.argsort(filed, kind="stable") // per_row
        bounds = np.zeros(count + 1, dtype=np.int64)
        bounds[1:] = np.cumsum(np.bincount(filed, minlength=count))
        # the clusters shared by two threads (each its own lists, merged after), as BLAS and the loops release the GIL
        shares = [range(first, count, SCAN_THREADS) for first in range(SCAN_THREADS)]
        parts = on_threads(lambda clusters: _cluster_links(full, members_of, bounds, clusters), shares)
        near, near_scores, filled = parts[0]
        for other in parts[1:]:
            absorb(near, near_scores, filled, *other)
        links = with_reverse_links(near, WIDTH)
        graph = cls(links, entries, np.ascontiguousarray(centroids, dtype=np.float32))
        if calibrate:
            from flixrec.graph_calibration import calibrate_graph

            graph = dataclasses.replace(graph, settings=calibrate_graph(matrix, projection, graph, seed=seed))
        return dataclasses.replace(graph, fit_seconds=time.perf_counter() - began)

    def save(self, directory: Path) -> None:
        """Write the arrays and settings beside a snapshot's files (only when enabled)."""
        np.save(directory / "graph_links.npy", self.links)
        np.save(directory / "graph_entries.npy", self.entries)
        np.save(directory / "graph_centroids.npy", self.centroids)
        (directory / "graph.json").write_text(json.dumps({"levels": list(LEVELS), "kinds": KINDS,
                                                          "settings": self.settings}))

    @classmethod
    def load(cls, directory: Path) -> NeighbourGraph | None:
        """The graph written beside a snapshot, or None (none written: the other plans)."""
        if not (directory / "graph.json").exists():
            return None
        meta = json.loads((directory / "graph.json").read_text())
        if [float(x) for x in meta["levels"]] != list(LEVELS) or meta.get("kinds") != KINDS:
            return None  # calibrated for other levels or kinds: not comparable
        settings = {kind: [None if s is None else (int(s[0]), float(s[1])) for s in levels]
                    for kind, levels in meta["settings"].items()}
        return cls(np.load(directory / "graph_links.npy", mmap_mode="r"), np.load(directory / "graph_entries.npy"),
                   np.load(directory / "graph_centroids.npy"), settings)


def _cluster_links(full: np.ndarray, members_of: np.ndarray, bounds: np.ndarray,
                   clusters: range) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Each row's LINKS best rows among those sharing one of these clusters with it: (rows, scores, filled)."""
    from flixrec.graph_kernels import offer, top_columns_here

    n = len(full)
    near = np.full((n, LINKS), -1, dtype=np.int32)
    near_scores = np.full((n, LINKS), -np.inf, dtype=np.float32)
    filled = np.zeros(n, dtype=np.int32)
    for c in clusters:
        members = members_of[bounds[c] : bounds[c + 1]].astype(np.int32)
        if len(members) < 2:
            continue
        vectors = full[members]
        gram = vectors @ vectors.T  # the members' exact scores against each other
        chosen = top_columns_here(gram, min(CANDIDATES_PER_CLUSTER, len(members) - 1), True)
        offer(members, gram, chosen, near, near_scores, filled)
    return near, near_scores, filled


_NO_FILTER = np.ones(1, dtype=bool)
