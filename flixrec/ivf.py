"""An inverted-file first stage for wide filters: the rows clustered by k-means, each cluster one contiguous block.

A query scores the cluster centroids, reads the projected head columns of the nearest clusters' blocks
(only the rows that pass the filter), keeps the best `prefilter` by head score, adds the tail score for
those, and hands the best `shortlist` to the exact re-rank (flixrec.engine). Only shortlist membership
is approximate: scores and order stay exact. How far to probe is measured in passing rows seen, a
calibrated fraction of the rows that pass, so a filter makes the probe go further out; the fractions and
stage sizes are calibrated at build time on sample queries (`flixrec.ivf_calibration`), per query kind
and per filter share (LEVELS), and a level whose calibration does not reach CALIBRATION_RECALL is off
(the planner then uses the scan plans). Measurements behind the choices: docs/performance.md.
"""

from __future__ import annotations

import dataclasses
import json
import math
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np

from flixrec.rescore import on_threads

CLUSTER_FROM_ROWS = 500_000
"""Below this many vectors the stage is not calibrated: at 300k its probes need 18-25% of the rows and
calibration turned every level off (docs/performance.md), while it serves at 1M."""
FIT_ITERATIONS = 5
FIT_SAMPLE_PER_CLUSTER = 12
"""k-means runs on a seeded sample of this many rows per cluster, then assigns every row."""
ASSIGN_BLOCK = 8192
"""Rows scored against every centroid at once (a block's scores: 128 MiB at 4,096 centroids)."""
LEVELS = (1.0, 0.5, 0.25)
"""Filter shares calibrated: a query whose share is s uses the largest level <= s (more passing rows to see)."""
KINDS = ("any", "item", "item_wide")
"""Free-text-like queries (k <= 20), item queries (a stored row's neighbours, k <= 20 and k <= ITEM_K)."""
FILES = ("ivf_order.npy", "ivf_offsets.npy", "ivf_centroids.npy", "ivf_head.npy", "ivf.json")

Setting = tuple[float, int, int]
"""(fraction of the passing rows to see, prefilter, shortlist)."""


def cluster_count(n: int) -> int:
    """Number of clusters: the power of two nearest 8 * sqrt(n) (4,096 at 300k, 8,192 at 1M)."""
    return int(2 ** round(math.log2(max(16.0, 8 * math.sqrt(n)))))


@dataclasses.dataclass(frozen=True)
class Clusters:
    """Rows grouped by cluster: `order[offsets[j]:offsets[j + 1]]` are cluster j's rows, in one block.

    `head` is the projection's head block in that order (cluster j's head rows are contiguous), and
    `centroids` live in the projection's space (unit rows). `settings[kind][level]` is None when that
    level did not reach the recall: such queries take the scan plans.
    """

    order: np.ndarray  # (n,) int32: position -> row of the snapshot
    offsets: np.ndarray  # (c + 1,) int64
    centroids: np.ndarray  # (c, p) float32
    head: np.ndarray  # (n, h) float32 = projection.head[order]
    settings: dict[str, list[Setting | None]] = dataclasses.field(default_factory=dict)
    fit_seconds: float = 0.0  # k-means and calibration time of a fresh fit (for the benchmarks; not stored)

    @property
    def enabled(self) -> bool:
        """Whether any query kind and level may use the clusters."""
        return any(s is not None for levels in self.settings.values() for s in levels)

    def setting(self, kind: str, share: float) -> Setting | None:
        """The calibrated setting for a query kind at this filter share (None: use the scan plans).

        A share within 1% of a level counts as that level (the seed excluded, no filter is not quite 1).
        """
        levels = self.settings.get(kind) or []
        for level, setting in zip(LEVELS, levels):
            if level <= share * 1.01:
                return setting
        return None

    @property
    def nbytes(self) -> int:
        """Memory of the arrays (beyond the snapshot's)."""
        return sum(a.nbytes for a in (self.order, self.offsets, self.centroids, self.head))

    @classmethod
    def fit(cls, matrix: np.ndarray, projection, seed: int = 0, clusters: int | None = None,
            calibrate: bool = True, against_scan: bool = True) -> Clusters:
        """k-means in the projection's space (spherical, on a seeded sample), rows ordered by cluster, calibrated."""
        began = time.perf_counter()
        head, tail = projection.head, projection.tail
        n = len(head)
        count = max(1, min(clusters or cluster_count(n), n // 4 or 1))
        rng = np.random.default_rng(seed + 3)
        sample_rows = np.sort(rng.choice(n, size=min(n, FIT_SAMPLE_PER_CLUSTER * count), replace=False))
        sample = np.hstack([head[sample_rows], tail[sample_rows]])
        centroids = _kmeans(sample, count, rng)
        assign = _nearest(lambda start, stop: np.hstack([head[start:stop], tail[start:stop]]), n, centroids)
        order = np.argsort(assign, kind="stable").astype(np.int32)
        offsets = np.zeros(count + 1, dtype=np.int64)
        offsets[1:] = np.cumsum(np.bincount(assign, minlength=count))
        built = cls(order, offsets, centroids, np.ascontiguousarray(head[order]))
        if calibrate:
            built = built.calibrated(matrix, projection, seed=seed, against_scan=against_scan)
        return dataclasses.replace(built, fit_seconds=time.perf_counter() - began + built.fit_seconds)

    def calibrated(self, matrix: np.ndarray, projection, seed: int = 0, against_scan: bool = True) -> Clusters:
        """These clusters with their settings calibrated (flixrec.ivf_calibration)."""
        from flixrec.ivf_calibration import calibrate_clusters

        began = time.perf_counter()
        assign = np.empty(len(self.order), dtype=np.int64)
        assign[self.order] = np.repeat(np.arange(len(self.offsets) - 1), np.diff(self.offsets))
        settings = calibrate_clusters(matrix, projection, self, assign, seed=seed, against_scan=against_scan)
        return dataclasses.replace(self, settings=settings, fit_seconds=self.fit_seconds + time.perf_counter() - began)

    def save(self, directory: Path) -> None:
        """Write the arrays and settings beside a snapshot's files (only when enabled)."""
        np.save(directory / "ivf_order.npy", self.order)
        np.save(directory / "ivf_offsets.npy", self.offsets)
        np.save(directory / "ivf_centroids.npy", self.centroids)
        np.save(directory / "ivf_head.npy", self.head)
        (directory / "ivf.json").write_text(json.dumps({"levels": list(LEVELS), "settings": self.settings}))

    @classmethod
    def load(cls, directory: Path) -> Clusters | None:
        """The clusters written beside a snapshot, or None (a snapshot written before them: the scan plans)."""
        if not (directory / "ivf.json").exists():
            return None
        meta = json.loads((directory / "ivf.json").read_text())
        if [float(x) for x in meta["levels"]] != list(LEVELS):
            return None  # calibrated for other levels: not comparable, use the scan plans
        settings = {kind: [None if s is None else (float(s[0]), int(s[1]), int(s[2])) for s in levels]
                    for kind, levels in meta["settings"].items()}
        # read into memory, like the projection's head: every clustered query gathers from them (a memory
        # map's per-call overhead and page faults cost more than the copy)
        return cls(np.load(directory / "ivf_order.npy"), np.load(directory / "ivf_offsets.npy"),
                   np.load(directory / "ivf_centroids.npy"), np.load(directory / "ivf_head.npy"), settings)

    def shortlist(self, projection, query: np.ndarray, k: int, keep: np.ndarray | None, passing: int,
                  setting: Setting) -> np.ndarray:
        """Sorted rows of the clustered shortlist: the nearest clusters' passing rows by head score, then
        head + tail scores of the best `prefilter` (the caller re-scores them exactly)."""
        from flixrec.engine import _top_indices

        fraction, prefilter, shortlist = setting
        reduced = projection.basis.T @ query
        split = projection.head.shape[1]
        positions, rows = self.probe(reduced, keep, passing, max(k, math.ceil(fraction * passing)))
        head = np.take(self.head, positions, axis=0) @ reduced[:split]
        size = min(max(shortlist, k), len(rows))
        if size < prefilter < len(rows):
            best = _top_indices(head, prefilter)
            where = rows[best]
            approx = head[best] + np.take(projection.tail, where, axis=0) @ reduced[split:]
        else:
            where = rows
            approx = head + np.take(projection.tail, rows, axis=0) @ reduced[split:]
        return np.sort(where[_top_indices(approx, size)])

    def probe(self, reduced: np.ndarray, keep: np.ndarray | None, passing: int, target: int) -> tuple[np.ndarray, np.ndarray]:
        """(positions, rows) of the passing rows in the nearest clusters, until at least `target` passing rows.

        Clusters are taken in centroid-score order, in batches sized by the filter's overall share;
        positions come back ascending (the head rows are read in address order).
        """
        n = len(self.order)
        ranked = np.argsort(-(self.centroids @ reduced))
        sizes = np.diff(self.offsets)[ranked]
        cumulative = np.cumsum(sizes)
        share = passing / max(1, n)
        taken, seen = 0, 0
        positions_parts, rows_parts = [], []
        while seen < target and taken < len(ranked):
            want = (target - seen) / share
            upto = int(np.searchsorted(cumulative, (cumulative[taken - 1] if taken else 0) + want)) + 1
            chosen = np.sort(ranked[taken : max(upto, taken + 1)])
            taken = max(upto, taken + 1)
            positions = _expand(self.offsets[chosen], self.offsets[chosen + 1])
            rows = self.order[positions]
            if keep is not None:
                passes = keep[rows]
                positions, rows = positions[passes], rows[passes]
            positions_parts.append(positions)
            rows_parts.append(rows)
            seen += len(rows)
        if len(positions_parts) == 1:
            return positions_parts[0], rows_parts[0]
        positions = np.concatenate(positions_parts)
        ordering = np.argsort(positions, kind="stable")
        return positions[ordering], np.concatenate(rows_parts)[ordering]


def _expand(starts: np.ndarray, ends: np.ndarray) -> np.ndarray:
    """The integers of the ranges [starts[i], ends[i]) concatenated, in one vectorised pass."""
    lengths = ends - starts
    total = int(lengths.sum())
    if total == 0:
        return np.zeros(0, dtype=np.int64)
    shift = starts - (np.cumsum(lengths) - lengths)
    return np.arange(total, dtype=np.int64) + np.repeat(shift, lengths)


def _nearest(rows: Callable[[int, int], np.ndarray], n: int, centroids: np.ndarray) -> np.ndarray:
    """Each of n rows' nearest centroid (largest inner product); `rows(start, stop)` reads a block of them.
    The blocks are shared by two threads (BLAS and argmax release the GIL)."""
    def block(start: int) -> np.ndarray:
        return np.argmax(rows(start, min(n, start + ASSIGN_BLOCK)) @ centroids.T, axis=1)

    return np.concatenate(on_threads(block, range(0, n, ASSIGN_BLOCK))).astype(np.int64)


def _kmeans(sample: np.ndarray, count: int, rng: np.random.Generator) -> np.ndarray:
    """Spherical k-means centroids (unit rows) of a sample, seeded from random sample rows."""
    unit = sample / np.maximum(np.linalg.norm(sample, axis=1, keepdims=True), 1e-12)
    centroids = unit[rng.choice(len(unit), size=count, replace=False)].copy()
    for _ in range(FIT_ITERATIONS):
        assign = _nearest(lambda start, stop: unit[start:stop], len(unit), centroids)
        ordering = np.argsort(assign, kind="stable")
        counts = np.bincount(assign, minlength=count)
        nonempty = np.flatnonzero(counts)
        starts = np.concatenate([[0], np.cumsum(counts)[:-1]])[nonempty]
        sums = np.add.reduceat(unit[ordering], starts, axis=0)
        centroids[nonempty] = sums / np.maximum(np.linalg.norm(sums, axis=1, keepdims=True), 1e-12)
        empty = np.flatnonzero(counts == 0)
        if empty.size:  # an empty cluster restarts at a random sample row
            centroids[empty] = unit[rng.choice(len(unit), size=empty.size, replace=False)]
    return centroids.astype(np.float32)
