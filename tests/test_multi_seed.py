"""FlixRec.recommend_for, the multi-seed core call (POST /v1/recommend), on the small home: the recommender contract."""

from __future__ import annotations

import numpy as np
import pytest

from flixrec.errors import TitleNotFound
from flixrec.models import Filters
from flixrec.recommend import AVOID_WEIGHT
from flixrec.service import FlixRec
from small_catalogue import SMALL_TITLES

BY_NAME = {t.title: t.title_id for t in SMALL_TITLES}
SPACE = [BY_NAME["Interstellar"], BY_NAME["The Martian"]]


def test_contract_seeds_and_avoided_never_returned_k_results_best_first(small_app: FlixRec):
    avoid = [BY_NAME["Gravity"]]
    results = small_app.recommend_for(SPACE, avoid, k=10)
    ids = [r.title.title_id for r in results]
    assert len(ids) == 10 and len(set(ids)) == 10 and not set(ids) & set(SPACE + avoid)
    scores = [r.score for r in results]
    assert scores == sorted(scores, reverse=True) and all(0.0 <= s <= 1.0 for s in scores)
    assert [r.rank for r in results] == list(range(1, 11))
    again = small_app.recommend_for(SPACE, avoid, k=10)
    # the same titles, order and reasons; a score once differed in its last rounded digit between two calls in
    # CI (0.210534 against 0.210535: a float32 sum in another order, as a BLAS kernel may take), so scores to 2e-6
    assert [(r.title, r.rank, r.reasons) for r in again] == [(r.title, r.rank, r.reasons) for r in results]
    assert [r.score for r in again] == pytest.approx(scores, abs=2e-6)


def blended_scores(app: FlixRec, title_id: str) -> dict[str, float]:
    """Every other title's blended score against this one (before the first-films rule reorders a row)."""
    recommender = app._current_recommender()
    row, rows = recommender.snapshot.position(title_id), np.arange(len(recommender.snapshot))
    scores = recommender.features.blended(row, rows, recommender.weights)
    return {recommender.snapshot.ids[r]: float(s) for r, s in zip(rows, scores) if r != row}


def test_score_is_the_mean_blended_score_against_the_seeds_minus_the_avoid_penalty(small_app: FlixRec):
    avoid = [BY_NAME["Toy Story"]]
    results = small_app.recommend_for(SPACE, avoid, k=5)
    per_seed = [blended_scores(small_app, seed) for seed in SPACE]
    avoided = blended_scores(small_app, avoid[0])
    expected = {tid: max(0.0, min(1.0, float(np.mean([scores[tid] for scores in per_seed]) - AVOID_WEIGHT * avoided[tid])))
                for tid in per_seed[0] if tid not in SPACE + avoid}
    best = sorted(expected.values(), reverse=True)[:5]
    # the row holds the five best scores; a title shows its own unless one franchise's entries swapped places
    assert [rec.score for rec in results] == pytest.approx(best, abs=1e-5)
    names = small_app._current_recommender().features.franchises.name_keys
    for rec in results:
        own = expected[rec.title.title_id]
        namesakes = [t for t in expected if t != rec.title.title_id and set(names(t)) & set(names(rec.title.title_id))]
        assert rec.score == pytest.approx(own, abs=1e-5) or namesakes
        assert rec.reasons and rec.label


def test_one_seed_without_avoid_ranks_like_similar_titles(small_app: FlixRec):
    seed = BY_NAME["Interstellar"]
    assert small_app.recommend_for([seed], k=8) == small_app.similar_titles(seed, k=8, separate_franchise=False)


def test_avoiding_a_title_pushes_its_neighbours_down(small_app: FlixRec):
    plain = {r.title.title_id: r for r in small_app.recommend_for(SPACE, k=30)}
    steered = {r.title.title_id: r for r in small_app.recommend_for(SPACE, [BY_NAME["Alien"]], k=30)}
    assert BY_NAME["Alien"] not in steered
    assert all(steered[t].score <= plain[t].score for t in steered if t in plain)
    assert steered[BY_NAME["Aliens"]].rank > plain[BY_NAME["Aliens"]].rank


def test_every_filter_is_respected_and_fewer_than_k_when_fewer_pass(small_app: FlixRec):
    filters = Filters(media_types={"show"}, languages={"en"}, exclude_ids={BY_NAME["The Office"]})
    results = small_app.recommend_for(SPACE, k=50, filters=filters)
    passing = {t.title_id for t in SMALL_TITLES if filters.accepts(t)}
    assert {r.title.title_id for r in results} == passing


def test_unknown_seeds_or_avoided_ids_are_title_not_found(small_app: FlixRec):
    with pytest.raises(TitleNotFound):
        small_app.recommend_for(["no-such-title"])
    with pytest.raises(TitleNotFound):
        small_app.recommend_for(SPACE, ["no-such-title"])
    assert small_app.recommend_for([]) == [] and small_app.recommend_for(SPACE, k=0) == []


def test_duplicate_seeds_count_once_and_a_seed_in_avoid_stays_a_seed(small_app: FlixRec):
    assert small_app.recommend_for(SPACE + SPACE[:1], k=5) == small_app.recommend_for(SPACE, k=5)
    assert small_app.recommend_for(SPACE, SPACE[:1], k=5) == small_app.recommend_for(SPACE, k=5)
