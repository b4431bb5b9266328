"""Similar titles: a blended ranking under filters, the seed never returned, its franchise kept apart.

Filters are applied before ranking (a mask over the snapshot), so exactly k titles come back whenever k
pass. The vector search finds the nearest candidates, shared keywords and people add more, and
flixrec.ranking scores them all with the blended similarity; flixrec.franchise finds the franchise.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Sequence

import numpy as np

from flixrec.catalog import Catalog
from flixrec.errors import IndexNotBuilt, TitleNotFound
from flixrec.index.snapshot import IndexSnapshot
from flixrec.models import Filters, Reason, Recommendation, Title
from flixrec.ranking import FEATURE_FIELDS, VECTOR_CANDIDATES, RankingWeights, TitleFeatures, corrects_crowding, match_label

AVOID_WEIGHT = 0.5
"""How strongly a title's closeness to an avoided title lowers its multi-seed score (see recommend_for)."""
FRANCHISE_REASONS = {
    "name": "Same franchise: the name", "character": "Same franchise: the same characters",
    "series": "Same series", "keyword": "Same franchise: its keywords name it",
}


class Recommender:
    """Similar titles from an index snapshot, with the catalogue for the titles' details."""

    def __init__(self, catalog: Catalog, snapshot: IndexSnapshot, encode_query: Callable[[str], np.ndarray] | None = None,
                 weights: RankingWeights | None = None):
        self.catalog = catalog
        self.snapshot = snapshot
        self.weights = weights or RankingWeights()
        self._encode_query = encode_query
        self._features: TitleFeatures | None = None
        self._features_lock = threading.Lock()

    @property
    def features(self) -> TitleFeatures:
        """Keyword, people and franchise indexes of every title (read from the catalogue once per build)."""
        with self._features_lock:
            if self._features is None:
                self._features = TitleFeatures(self.snapshot, self.catalog.iter_titles(with_people=True, fields=FEATURE_FIELDS))
            return self._features

    def _seed_vector(self, title_id: str) -> tuple[Title, np.ndarray]:
        seed = self.catalog.find_titles([title_id], with_people=False).get(title_id)
        if seed is None:
            seed = self.catalog.get_title(title_id)  # raises TitleNotFound (or resolves a merged-away id)
        vector = self.snapshot.vector(title_id)
        if vector is None:
            raise IndexNotBuilt(f"{seed.label()} is in the catalogue but not in the index yet; run: python -m ingest embed")
        return seed, vector

    def similar_titles(self, title_id: str, k: int = 20, filters: Filters | None = None, separate_franchise: bool = True,
                       weights: RankingWeights | None = None) -> list[Recommendation]:
        """The k titles most similar to `title_id` that pass `filters`, best first; never the title itself.

        Exactly k come back whenever k titles pass. With `separate_franchise`, entries of the seed's own
        franchise (see `franchise_titles`) are left out so they do not crowd out the discoveries.
        `weights` overrides the configured blend for this call. Raises TitleNotFound for an unknown id.
        """
        return self.similar_with_seed(title_id, k, filters, separate_franchise, weights)[1]

    def similar_with_seed(self, title_id: str, k: int = 20, filters: Filters | None = None,
                          separate_franchise: bool = True, weights: RankingWeights | None = None,
                          ) -> tuple[Title | None, list[Recommendation]]:
        """`similar_titles` and the seed as the catalogue read it with them (None when nothing came back)."""
        row = self.snapshot.position(title_id)
        vector = self.snapshot.vector(title_id) if row is not None else None
        if vector is None:
            self._seed_vector(title_id)  # raises TitleNotFound or IndexNotBuilt
        weights = weights or self.weights
        features = self.features
        keep = self.snapshot.mask(filters)
        keep[row] = False
        left_out = []
        if separate_franchise:
            left_out = [r for r in map(self.snapshot.position, features.franchise_of(title_id)) if r is not None]
            keep[left_out] = False
        passing = int(keep.sum())
        if passing == 0 or k <= 0:
            return None, []
        filtered = not (filters is None or filters.is_empty())
        self._neighbourhood_first(row, filtered, weights)
        hits = self.snapshot.nearest(vector, min(passing, max(VECTOR_CANDIDATES, 4 * k)), keep, item=True, row=row)
        rows = np.array([self.snapshot.position(tid) for tid, _ in hits], dtype=np.int64)
        if not filtered:  # the seed's unfiltered nearest are among these: no second search
            features.neighbourhood(row, np.union1d(rows, np.array(left_out, dtype=np.int64)))
        if weights.keywords or weights.directors or weights.cast or weights.crew:
            rows = np.union1d(rows, features.shared_candidates(row, keep))
        scores, held_back = features.first_films_first(rows, features.blended(row, rows, weights), [title_id])
        order = np.lexsort((self.snapshot.tie_rank[rows], -scores, held_back))[:k]
        return self._recommendations(title_id, row, rows[order], scores[order])

    def _neighbourhood_first(self, row: int, filtered: bool, weights: RankingWeights) -> None:
        """Before a filtered search for this seed, find its unfiltered neighbourhood (when the blend needs it):
        the engine keeps that scan, so the filtered search that follows reuses it instead of scanning again."""
        if filtered and corrects_crowding(weights):
            self.features.neighbourhood(row)

    def franchise_titles(self, title_id: str, k: int = 10) -> list[Recommendation]:
        """Sequels, prequels, series seasons and same-name titles of `title_id`, in order of release.

        When the franchise has more than k entries, the k closest to the title are listed.
        """
        seed, _ = self._seed_vector(title_id)
        features = self.features
        row = self.snapshot.position(title_id)
        found = features.franchise_of(title_id)
        rows = np.array([r for r in (self.snapshot.position(t) for t in found) if r is not None], dtype=np.int64)
        if not len(rows) or k <= 0:
            return []
        scores = features.blended(row, rows, self.weights)
        closest = np.lexsort((self.snapshot.tie_rank[rows], -scores))[:k]
        rows, scores = rows[closest], scores[closest]
        titles = self.catalog.find_titles([self.snapshot.ids[r] for r in rows], with_people=False)
        entries = [(titles[self.snapshot.ids[r]], float(s)) for r, s in zip(rows, scores) if self.snapshot.ids[r] in titles]
        entries.sort(key=lambda e: (e[0].year is None, e[0].year or 0, e[0].released or "", e[0].title_id))
        return [
            Recommendation(title, round(score, 6), rank, (Reason("franchise", FRANCHISE_REASONS[found[title.title_id]]),),
                           match_label(score))
            for rank, (title, score) in enumerate(entries, start=1)
        ]

    def similar_to_text(self, text: str, k: int = 20, filters: Filters | None = None) -> list[Recommendation]:
        """The k titles closest to a free-text description (any language the model reads)."""
        if self._encode_query is None:
            raise RuntimeError("free-text search needs encode_query: this Recommender was built without one")
        if not text or not text.strip():
            return []
        vector = self._encode_query(text.strip()[:2000])
        hits = self.snapshot.nearest(vector, k, self.snapshot.mask(filters))
        return self._text_recommendations(hits)

    def recommend_for(self, seeds: Sequence[str], avoid: Sequence[str] = (), k: int = 20,
                      filters: Filters | None = None, weights: RankingWeights | None = None) -> list[Recommendation]:
        """The k titles closest to several seeds together, steered away from `avoid`; never a seed or an avoided title.

        Candidates are each seed's as in similar_titles (nearest vectors, shared keywords and people);
        a candidate's score is its mean blended score against the seeds minus AVOID_WEIGHT times its
        highest against an avoided title, clipped to [0, 1] (then the first-films rule and another
        franchise's entries held back, see TitleFeatures.first_films_first); its reasons are those of the
        seed it is closest to. One seed and nothing to avoid rank exactly as similar_titles without
        separating the franchise. Raises TitleNotFound for an unknown seed or avoided id; an avoided title
        that is not indexed yet is only left out.
        """
        seeds = list(dict.fromkeys(seeds))
        if not seeds or k <= 0:
            return []
        seed_titles = [self._seed_vector(title_id) for title_id in seeds]
        avoid = [title_id for title_id in dict.fromkeys(avoid) if title_id not in seeds]
        known_avoided = self.catalog.find_titles(avoid, with_people=False)
        if missing := [title_id for title_id in avoid if title_id not in known_avoided]:
            raise TitleNotFound(missing[0])
        weights = weights or self.weights
        features = self.features
        seed_rows = [self.snapshot.position(title_id) for title_id in seeds]
        avoid_rows = [row for row in map(self.snapshot.position, avoid) if row is not None]
        keep = self.snapshot.mask(filters)
        keep[seed_rows + avoid_rows] = False
        passing = int(keep.sum())
        if passing == 0:
            return []
        fetch = min(passing, max(VECTOR_CANDIDATES, 4 * k))
        filtered = not (filters is None or filters.is_empty())
        hits = []
        for seed_row, (_, vector) in zip(seed_rows, seed_titles):
            self._neighbourhood_first(seed_row, filtered, weights)
            found = self.snapshot.nearest(vector, fetch, keep, item=True, row=seed_row)
            hits.append(np.array([self.snapshot.position(tid) for tid, _ in found], dtype=np.int64))
        if not filtered:  # each seed's unfiltered nearest are among its hits and the left-out
            left_out = np.array(seed_rows + avoid_rows, dtype=np.int64)
            for seed_row, found in zip(seed_rows, hits):
                features.neighbourhood(seed_row, np.union1d(found, left_out))
        rows = np.unique(np.concatenate(hits))
        if weights.keywords or weights.directors or weights.cast or weights.crew:
            for seed_row in seed_rows:
                rows = np.union1d(rows, features.shared_candidates(seed_row, keep))
        per_seed = np.stack([features.blended(seed_row, rows, weights) for seed_row in seed_rows])
        scores = per_seed.mean(axis=0)
        if avoid_rows:
            scores = scores - AVOID_WEIGHT * np.stack([features.blended(r, rows, weights) for r in avoid_rows]).max(axis=0)
        scores, held_back = features.first_films_first(rows, np.clip(scores, 0.0, 1.0), seeds)
        order = np.lexsort((self.snapshot.tie_rank[rows], -scores, held_back))[:k]
        closest_seed = per_seed[:, order].argmax(axis=0)
        ids = [self.snapshot.ids[r] for r in rows[order]]
        titles = self.catalog.find_titles(ids, with_people=False)
        found = [(tid, r, float(s), int(c)) for tid, r, s, c in zip(ids, rows[order], scores[order], closest_seed)
                 if tid in titles]
        return [
            Recommendation(titles[tid], round(score, 6), rank,
                           features.reasons(seed_rows[c], r, seed_titles[c][0], titles[tid]), match_label(score))
            for rank, (tid, r, score, c) in enumerate(found, start=1)
        ]

    def score_distribution(self, title_id: str, weights: RankingWeights | None = None) -> np.ndarray:
        """The blended score of every other indexed title against this one (how far the top-k stands out;
        crowding measured for the best titles only, see TitleFeatures.distribution), with `weights` or the
        settings' weights, like the top-k it is shown next to."""
        self._seed_vector(title_id)
        row = self.snapshot.position(title_id)
        others = np.delete(np.arange(len(self.snapshot)), row)
        return self.features.distribution(row, others, weights or self.weights)

    def _recommendations(self, seed_id: str, row: int, rows: np.ndarray,
                         scores: np.ndarray) -> tuple[Title, list[Recommendation]]:
        """The seed and the ranked rows as Recommendations with their reasons: one catalogue read for them all."""
        ids = [self.snapshot.ids[r] for r in rows]
        titles = self.catalog.find_titles([seed_id, *ids], with_people=False)
        seed = titles.get(seed_id)
        if seed is None:
            raise TitleNotFound(seed_id)
        found = [(tid, r, float(s)) for tid, r, s in zip(ids, rows, scores) if tid in titles]
        return seed, [
            Recommendation(titles[tid], round(score, 6), rank, self.features.reasons(row, r, seed, titles[tid]),
                           match_label(score))
            for rank, (tid, r, score) in enumerate(found, start=1)
        ]

    def _text_recommendations(self, hits: list[tuple[str, float]]) -> list[Recommendation]:
        titles = self.catalog.find_titles([tid for tid, _ in hits], with_people=False)
        return [
            Recommendation(titles[tid], round(score, 6), rank, (Reason("text", "Matches your description"),),
                           match_label(score))
            for rank, (tid, score) in enumerate(((t, s) for t, s in hits if t in titles), start=1)
        ]
