"""Read-only views for the dashboard: the catalogue as a table, its filtering, and neighbourhood maps.

Pure functions over pandas and numpy (no Streamlit); `FlixRec` exposes them over the built index.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterable, Mapping
from typing import Any

import numpy as np
import pandas as pd

from flixrec.models import Filters, Recommendation, Title

CATALOGUE_COLUMNS = (
    "title_id", "title", "original_title", "media_type", "year", "runtime", "votes", "rating", "genres",
    "language", "tmdb_id", "imdb_id", "certification", "languages", "source", "aliases",
)
"""The catalogue columns the Explore page shows and filters on."""
PRIOR_VOTES_QUANTILE = 0.5
"""The weighted rating's prior weighs like the median title's vote count (242 on the demo): a 10.0 from two
votes sinks to about the mean, while a film rated by thousands keeps its own rating."""
WEAK_TEXT_MATCH = 0.38
"""A description whose best title scores below this matches nothing well: on the demo (title vectors with
keywords), 20 real descriptions in 5 languages (plots, moods, one word) scored 0.39-0.71 at the top, 20
gibberish inputs (markup, keyboard rows, SQL, lorem ipsum) 0.18-0.37."""


def catalogue_frame(rows: Iterable[Mapping[str, Any]]) -> pd.DataFrame:
    """Catalogue rows as a typed table: nullable numbers stay missing (never 0), genres as tuples."""
    frame = pd.DataFrame(list(rows), columns=list(CATALOGUE_COLUMNS))
    for name in ("year", "runtime", "votes", "tmdb_id"):
        frame[name] = pd.array(frame[name], dtype="Int64")
    frame["rating"] = pd.to_numeric(frame["rating"], errors="coerce").astype("Float64")
    frame["genres"] = [tuple(g or ()) for g in frame["genres"]]
    frame["languages"] = [tuple(g) if isinstance(g, (list, tuple)) else () for g in frame["languages"]]
    frame["weighted_rating"] = weighted_rating(frame["rating"], frame["votes"])
    return frame.sort_values(["weighted_rating", "votes", "title_id"], ascending=[False, False, True],
                             na_position="last").reset_index(drop=True)


def weighted_rating(rating: pd.Series, votes: pd.Series, prior_votes: float | None = None) -> pd.Series:
    """IMDb's Bayesian average: (v·R + m·C) / (v + m), C the mean rating, m the prior's weight in votes.

    Missing when a title has no rating or no votes; `prior_votes` defaults to the median vote count.
    """
    rated = rating.notna() & votes.notna() & (votes.fillna(0) > 0)
    if not rated.any():
        return pd.Series(pd.NA, index=rating.index, dtype="Float64")
    v = votes[rated].astype("float64")
    r = rating[rated].astype("float64")
    m = float(v.quantile(PRIOR_VOTES_QUANTILE)) if prior_votes is None else float(prior_votes)
    c = float((r * v).sum() / v.sum())
    out = pd.Series(pd.NA, index=rating.index, dtype="Float64")
    out[rated] = ((v * r + m * c) / (v + m)).round(2)
    return out


def weak_text_match(results: list[Recommendation]) -> bool:
    """True when a description's best result scores below WEAK_TEXT_MATCH (nothing matches it well)."""
    return bool(results) and results[0].score < WEAK_TEXT_MATCH


def filter_frame(frame: pd.DataFrame, filters: Filters | None) -> pd.DataFrame:
    """The rows that pass the filters, with exactly `Filters.accepts` semantics (null fails an active bound;
    tests/test_filters.py holds the three implementations to one another)."""
    if filters is None or filters.is_empty():
        return frame
    keep = pd.Series(True, index=frame.index)
    for name, op, bound in filters.bounds():
        keep &= op(frame[name], bound).fillna(False).astype(bool)
    if filters.genres_include:
        keep &= frame["genres"].map(lambda g: not filters.genres_include.isdisjoint(g))
    if filters.genres_exclude:
        keep &= frame["genres"].map(lambda g: filters.genres_exclude.isdisjoint(g))
    if filters.languages:
        keep &= frame["language"].isin(list(filters.languages))
    if filters.media_types:
        keep &= frame["media_type"].isin(list(filters.media_types))
    if filters.spoken_languages:
        spoken = [set(langs) | ({lang} if isinstance(lang, str) else set())
                  for langs, lang in zip(frame["languages"], frame["language"])]
        keep &= pd.Series([not filters.spoken_languages.isdisjoint(s) for s in spoken], index=frame.index, dtype=bool)
    if filters.certifications_exclude:
        keep &= ~frame["certification"].isin(list(filters.certifications_exclude))
    if filters.exclude_ids:
        keep &= ~frame["title_id"].isin(list(filters.exclude_ids))
    return frame[keep.astype(bool)]


def project_2d(vectors: np.ndarray) -> np.ndarray:
    """A 2-D PCA projection of row vectors (centred, via SVD); zeros when there is nothing to spread."""
    vectors = np.asarray(vectors, dtype=np.float64)
    if vectors.ndim != 2 or len(vectors) == 0:
        return np.zeros((0, 2))
    centred = vectors - vectors.mean(axis=0)
    if len(vectors) < 2 or not np.any(centred):
        return np.zeros((len(vectors), 2))
    _, _, vt = np.linalg.svd(centred, full_matrices=False)
    coords = centred @ vt[:2].T
    if coords.shape[1] < 2:
        coords = np.hstack([coords, np.zeros((len(coords), 2 - coords.shape[1]))])
    # a stable orientation: the seed (row 0) on the left and lower half, whatever sign SVD chose
    for axis in range(2):
        if coords[0, axis] > 0:
            coords[:, axis] *= -1
    return coords


@dataclasses.dataclass(frozen=True)
class SimilarView:
    """What the Find-similar page shows for one seed: the seed, its similar titles, its franchise."""

    seed: Title
    similar: list[Recommendation]
    franchise: list[Recommendation]


@dataclasses.dataclass(frozen=True)
class SimilarityMap:
    """What the Similarity-charts page shows: the top-k, a 2-D map of them, and every title's score."""

    seed: Title
    similar: list[Recommendation]
    points: pd.DataFrame  # title_id, label, role (seed|similar|franchise), rank, score, x, y, year, genres
    distribution: np.ndarray  # similarity of every other indexed title to the seed

    @property
    def cutoff(self) -> float | None:
        """The score of the k-th similar title (the top-k cut-off), None when there are none."""
        return self.similar[-1].score if self.similar else None
