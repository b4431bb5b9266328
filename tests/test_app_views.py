"""The dashboard's read-only views in flixrec.explore / FlixRec: filtering semantics and the neighbourhood map."""

from __future__ import annotations

import numpy as np
import pytest

from flixrec.explore import project_2d
from flixrec.models import Filters

FILTERS = [
    Filters(),
    Filters(year_min=2000, runtime_max=120),
    Filters(min_votes=100, genres_exclude={"Drama"}),
    Filters(languages={"ja"}, min_rating=6.5),
    Filters(genres_include={"Action", "Comedy"}, media_types={"movie"}, exclude_ids={"tmdb-movie-268"}),
    Filters(media_types={"show"}, year_max=1999),
]


@pytest.mark.parametrize("filters", FILTERS)
def test_explore_catalogue_matches_filters_accepts(demo_app, filters):
    frame = demo_app.explore_catalogue(filters)
    titles = {t.title_id: t for t in demo_app.catalog.iter_titles()}
    assert set(frame["title_id"]) == {tid for tid, t in titles.items() if filters.accepts(t)}


def test_explore_keeps_unknown_numbers_missing_not_zero(demo_app):
    frame = demo_app.explore_catalogue(Filters(media_types={"show"}))
    assert frame["votes"].isna().all() and frame["runtime"].isna().all()  # the anime have none, never 0
    assert len(demo_app.explore_catalogue(Filters(media_types={"show"}, min_votes=0))) == 0  # null fails


def test_similarity_map_has_the_seed_its_top_k_and_the_scores(demo_app):
    view = demo_app.similarity_map("tmdb-movie-268", 10, Filters(year_min=1990))
    assert len(view.similar) == 10 and all(r.title.year >= 1990 for r in view.similar)
    points = view.points
    assert list(points["role"]).count("seed") == 1 and points.iloc[0]["title_id"] == "tmdb-movie-268"
    assert (points["role"] == "similar").sum() == 10 and np.isfinite(points[["x", "y"]].to_numpy()).all()
    assert view.cutoff == view.similar[-1].score
    assert len(view.distribution) == demo_app.status().index_vectors - 1


def test_project_2d_is_a_pca():
    rng = np.random.default_rng(7)
    vectors = rng.normal(size=(30, 8)) * np.array([10, 3, 0.1, 0.1, 0.1, 0.1, 0.1, 0.1])
    coords = project_2d(vectors)
    assert coords.shape == (30, 2)
    assert coords[:, 0].var() > coords[:, 1].var() > 0  # ordered by explained variance
    assert coords[0, 0] <= 0 and coords[0, 1] <= 0  # stable orientation: the seed (row 0) lower left
    assert project_2d(np.ones((3, 4))).tolist() == [[0, 0]] * 3 and project_2d(np.zeros((0, 4))).shape == (0, 2)
