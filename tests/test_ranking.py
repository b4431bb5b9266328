"""The blended ranking and franchise detection on real parts: a small catalogue, the real model, a real index."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st
from conftest import build_home

from flixrec.franchise import FranchiseIndex, franchise_record
from flixrec.models import Person, RankingWeights, Title
from flixrec import ranking, title_signals
from flixrec.title_signals import KEYWORD_WORD_WEIGHT, keyword_features
from flixrec.service import FlixRec


def movie(n: int, title: str, year: int, overview: str, genres=("Drama",), keywords=(), people=(), **extra) -> Title:
    return Title(title_id=f"m-{n}", media_type="movie", title=title, source="test", year=year, overview=overview,
                 genres=tuple(genres), keywords=tuple(keywords), people=tuple(people), votes=1000, rating=7.0,
                 language="en", **extra)


def cast(person: str, name: str, character: str, position: int = 0) -> Person:
    return Person(f"p-{person}", name, "cast", position, character)


def director(person: str, name: str) -> Person:
    return Person(f"d-{person}", name, "director")


HEIST = "A crew of thieves plans an elaborate robbery of a casino vault during a boxing match."
TITLES = (
    movie(1, "Pitch Black", 2000, "A prison transport crashes on a desert planet where creatures hunt in darkness.",
          ("Science Fiction", "Thriller"), ("alien planet", "prisoner"), (cast("diesel", "Vin Diesel", "Richard B. Riddick"),)),
    movie(2, "The Chronicles of Riddick", 2004, "An escaped convict is pursued across the galaxy by a zealot army.",
          ("Science Fiction", "Action"), ("space opera",), (cast("diesel", "Vin Diesel", "Riddick"),)),
    movie(3, "Night Heist", 2001, HEIST, ("Crime", "Thriller"), ("heist", "casino", "vault"),
          (director("soderbergh", "Steven Soderbergh"),)),
    movie(4, "Vault Job", 2003, HEIST, ("Crime", "Thriller"), ("heist", "casino", "vault"),
          (director("soderbergh", "Steven Soderbergh"),)),
    movie(5, "Casino Crew", 2003, HEIST, ("Crime", "Thriller"), ("heist", "casino", "vault"),
          (director("other", "Someone Else"),)),
    movie(6, "A Quiet Farm", 1980, "A widow keeps her family farm going through a hard winter.", ("Drama",),
          ("farm", "winter")),
    movie(7, "Ocean Liner", 1997, "Two lovers from different classes meet aboard a doomed ocean liner.",
          ("Romance", "Drama"), ("ship", "iceberg")),
    movie(8, "Space Rescue", 2013, "Two astronauts try to survive after debris destroys their shuttle.",
          ("Science Fiction", "Thriller"), ("astronaut", "space station")),
)


@pytest.fixture(scope="module")
def app(tmp_path_factory, use_embedder) -> FlixRec:
    settings = build_home(tmp_path_factory.mktemp("ranking-home"), "use-multilingual", use_embedder, TITLES)
    return FlixRec(settings, embedder=use_embedder)


def test_a_franchise_is_found_by_its_characters_when_the_names_share_nothing(app):
    franchise = [r.title.title_id for r in app.franchise_titles("m-1")]
    assert franchise == ["m-2"]
    assert franchise[0] not in [r.title.title_id for r in app.similar_titles("m-1", k=7)]
    assert app.franchise_titles("m-1")[0].reasons[0].kind == "franchise"


def test_the_same_actor_in_an_unrelated_role_makes_no_franchise():
    a = movie(1, "Fast Cars", 2001, "x", people=(cast("diesel", "Vin Diesel", "Dominic Toretto"),))
    b = movie(2, "Baby Sitter", 2005, "y", people=(cast("diesel", "Vin Diesel", "Shane Wolfe"),))
    index = FranchiseIndex([franchise_record(a), franchise_record(b)])
    assert index.related("m-1") == {}


def test_a_shared_director_lifts_a_title_and_its_weight_turns_it_off(app):
    def gap(weights=None) -> float:  # how far the same-director title stands ahead of its twin
        scores = {r.title.title_id: r.score for r in app.similar_titles("m-3", k=3, weights=weights)}
        return scores["m-4"] - scores["m-5"]

    ranked = [r.title.title_id for r in app.similar_titles("m-3", k=3)]
    assert ranked.index("m-4") < ranked.index("m-5")  # same story, keywords and year: the director decides
    nobody = dataclasses.replace(app.settings.ranking, directors=0.0, crew=0.0)
    assert gap() > gap(nobody) + 0.02  # by default the crew signal counts the director
    assert gap(dataclasses.replace(nobody, directors=0.3)) > gap(nobody) + 0.02  # and so does directors alone
    assert gap(dataclasses.replace(app.settings.ranking, directors=1.0)) > gap() + 0.02


def test_every_result_says_why_with_people_and_their_roles(app):
    results = app.similar_titles("m-3", k=5)
    assert all(r.reasons for r in results)
    reasons = {r.kind: r.text for r in results[0].reasons}
    assert results[0].title.title_id == "m-4"
    assert reasons["director"] == "Same director: Steven Soderbergh"
    assert "heist" in reasons["keywords"] and "casino" in reasons["keywords"]
    assert "Crime" in reasons["genres"]
    assert all(0.0 <= r.score <= 1.0 and r.label for r in results)
    assert [r.score for r in results] == sorted((r.score for r in results), reverse=True)


def crew(person: str, name: str, job: str) -> Person:
    return Person(f"c-{person}", name, "crew", job=job)


CHASE = "A getaway driver takes one last job and is chased across the city by the police."
CREW_TITLES = (
    movie(1, "Night Drive", 2011, CHASE, ("Crime",), ("getaway",),
          (crew("score", "Hans Zimmer", "Original Music Composer"), crew("lens", "Roger Deakins", "Director of Photography"),
           Person("c-pen", "Jane Doe", "writer", job="Screenplay"))),
    movie(2, "Wheelman", 2012, CHASE, ("Crime",), ("getaway",),
          (crew("score", "Hans Zimmer", "Original Music Composer"), crew("lens", "Roger Deakins", "Director of Photography"),
           crew("pen", "Jane Doe", "Producer"))),
    movie(3, "Fast Lane", 2012, CHASE, ("Crime",), ("getaway",), (crew("other", "Someone Else", "Original Music Composer"),)),
    movie(4, "A Quiet Farm", 1980, "A widow keeps her family farm going through a hard winter.", ("Drama",), ("farm",)),
)


def test_a_shared_crew_lifts_a_title_and_the_reason_names_them_with_their_jobs(tmp_path, use_embedder):
    app = FlixRec(build_home(tmp_path, "use-multilingual", use_embedder, CREW_TITLES), embedder=use_embedder)
    results = app.similar_titles("m-1", k=3)
    assert [r.title.title_id for r in results][:2] == ["m-2", "m-3"]  # twins but for the team behind the camera
    reasons = {r.kind: r.text for r in results[0].reasons}
    assert reasons["crew"].startswith("Same crew: ")  # each with their job, or both jobs when they differ
    assert {"Hans Zimmer (music)", "Roger Deakins (cinematography)", "Jane Doe (writer of Night Drive; producer of Wheelman)"} \
        == set(reasons["crew"].removeprefix("Same crew: ").split(", "))
    assert "crew" not in {r.kind for r in results[1].reasons}

    def gap(weights: RankingWeights) -> float:
        scores = {r.title.title_id: r.score for r in app.similar_titles("m-1", k=3, weights=weights)}
        return scores["m-2"] - scores["m-3"]

    assert gap(app.settings.ranking) > 0.05
    assert abs(gap(dataclasses.replace(app.settings.ranking, crew=0.0))) < 0.01


def test_text_only_weights_rank_by_the_cosine_alone(app):
    blended = app.similar_titles("m-8", k=7)
    plain = app.similar_titles("m-8", k=7, weights=RankingWeights.text_only())
    distribution = app.score_distribution("m-8")
    assert len(blended) == len(plain) == 7
    assert max(r.score for r in blended) == pytest.approx(float(distribution.max()), abs=1e-5)
    plain_distribution = app.score_distribution("m-8", RankingWeights.text_only())  # as the charts page asks
    assert max(r.score for r in plain) == pytest.approx(float(plain_distribution.max()), abs=1e-5)
    assert not np.allclose(plain_distribution, distribution)


def test_text_only_weights_keep_the_plain_cosine(app):
    snapshot = app._current_recommender().snapshot
    plain = app.similar_titles("m-8", k=7, weights=RankingWeights.text_only())
    seed = snapshot.vector("m-8")
    cosines = [max(0.0, float(snapshot.vector(r.title.title_id) @ seed)) for r in plain]
    assert [r.score for r in plain] == pytest.approx(cosines, abs=1e-5)


def test_a_keyword_also_counts_its_words_at_a_lower_weight():
    invasion, invasions = keyword_features(["Alien Invasion"]), keyword_features(["invasions", "The End"])
    assert invasion["alien invasion"] == 1.0
    shared = set(invasion) & set(invasions)
    assert len(shared) == 1 and invasion[shared.pop()] == KEYWORD_WORD_WEIGHT  # "invasion", whatever the stem
    assert not any(key.endswith("the") for key in invasions)  # stop words are no theme


def test_shared_themes_name_whole_keywords_only(app):
    reasons = {r.kind: r.text for r in app.similar_titles("m-3", k=1)[0].reasons}
    assert reasons["keywords"].startswith("Shared themes: ") and "~" not in reasons["keywords"]


def test_a_title_with_near_copies_around_it_is_crowded(app):
    features, snapshot = app._current_recommender().features, app._current_recommender().snapshot
    rows = {title_id: snapshot.position(title_id) for title_id in ("m-3", "m-6")}
    crowding = dict(zip(rows, features.crowding(snapshot.position("m-8"), np.array(list(rows.values())))))
    assert crowding["m-3"] > crowding["m-6"]  # m-3 has two titles telling the same story (m-4, m-5)
    neighbourhood, _ = features.neighbourhood(snapshot.position("m-8"))
    assert float(features.crowding(snapshot.position("m-8"), neighbourhood).mean()) == pytest.approx(0.0, abs=1e-5)


def test_a_distribution_measures_crowding_for_its_best_titles_only(app, monkeypatch):
    features, snapshot = app._current_recommender().features, app._current_recommender().snapshot
    seed, weights = snapshot.position("m-8"), app.settings.ranking
    others = np.array([r for r in range(len(snapshot)) if r != seed])
    exact = features.blended(seed, others, weights)
    monkeypatch.setattr(ranking, "DISTRIBUTION_CROWDED", 0)
    uncorrected = features.distribution(seed, others, weights)
    monkeypatch.setattr(ranking, "DISTRIBUTION_CROWDED", 2)
    bounded = features.distribution(seed, others, weights)
    best, rest = np.argsort(-uncorrected)[:2], np.argsort(-uncorrected)[2:]
    assert bounded[best] == pytest.approx(exact[best], abs=1e-6)
    assert bounded[rest] == pytest.approx(uncorrected[rest], abs=1e-6)
    assert not np.allclose(uncorrected, exact)  # crowding does change scores here
    assert features.distribution(seed, others, RankingWeights.text_only()) == pytest.approx(
        features.blended(seed, others, RankingWeights.text_only()), abs=1e-6)


def test_weights_are_validated():
    with pytest.raises(ValueError, match="keywords"):
        RankingWeights(keywords=float("nan"))
    with pytest.raises(ValueError, match="cast"):
        RankingWeights(cast=-1)


def test_agreement_is_the_correlation_over_the_neighbourhood_without_a_titles_own_cosine():
    profile = np.array([0.9, 0.5, 0.1, 0.3], dtype=np.float32)
    centred = (profile - profile.mean()) / np.linalg.norm(profile - profile.mean())
    cosines = np.array([[0.95, 0.55, 0.15, 0.35],  # the seed's pattern, shifted: agrees fully
                        [0.1, 0.5, 0.9, 0.7],    # the opposite pattern: counted as 0
                        [1.0, 0.5, 0.1, 0.3]],   # in the neighbourhood itself (first place): that cosine is ignored
                       dtype=np.float32)
    itself = np.zeros_like(cosines, dtype=bool)
    itself[2, 0] = True
    agreement = ranking._agreement(cosines, itself, centred)
    assert agreement[0] == pytest.approx(1.0, abs=1e-5)
    assert agreement[1] == 0.0
    assert 0.0 < agreement[2] < 1.0 and cosines[2, 0] == 1.0  # the input is left as it was


def test_agreement_lifts_the_titles_that_share_the_seeds_neighbourhood_and_weight_zero_changes_nothing(app):
    features, snapshot = app._current_recommender().features, app._current_recommender().snapshot
    seed = snapshot.position("m-8")
    others = np.array([r for r in range(len(snapshot)) if r != seed])
    crowding, agreement = features.crowding_and_agreement(seed, others)
    assert crowding == pytest.approx(features.crowding(seed, others), abs=1e-6)
    assert ((0.0 <= agreement) & (agreement <= 1.0)).all() and agreement.max() > agreement.min() + 0.1
    _, itself = features.crowding_and_agreement(seed, np.array([seed]))
    assert itself[0] == pytest.approx(1.0, abs=1e-5)  # the seed agrees with itself: the score's ceiling holds

    default = app.settings.ranking
    assert default.agreement > 0 and RankingWeights.text_only().agreement == 0.0
    off = dataclasses.replace(default, agreement=0.0)
    assert features.blended(seed, others, off) == pytest.approx(
        features._combine(seed, features.components(seed, others), off), abs=1e-7)  # the ranking before the signal
    assert "agreement" not in features.components(seed, others)

    agreeing, aloof = others[np.argmax(agreement)], others[np.argmin(agreement)]
    rows = np.array([agreeing, aloof])

    def gap(weight: float) -> float:
        scores = features.blended(seed, rows, dataclasses.replace(default, agreement=weight))
        assert ((0.0 <= scores) & (scores <= 1.0)).all()
        return float(scores[0] - scores[1])

    assert gap(0.5) > gap(0.0) + 0.02 and gap(10.0) > gap(0.5)
    ranked = [r.title.title_id for r in app.similar_titles("m-8", k=7, weights=dataclasses.replace(default, agreement=10.0))]
    assert ranked[0] == snapshot.ids[agreeing]


def test_vote_rank_is_the_mid_rank_share_of_known_counts_with_unknown_in_the_middle():
    ranks = title_signals.vote_rank(np.array([10.0, np.nan, 1000.0, 10.0, 5.0]))
    assert ranks.tolist() == pytest.approx([0.5, 0.5, 0.875, 0.5, 0.125])
    assert title_signals.vote_rank(np.array([np.nan, np.nan])).tolist() == [0.5, 0.5]


@given(st.lists(st.one_of(st.none(), st.integers(0, 10**7)), min_size=1, max_size=60))
def test_vote_rank_keeps_the_order_of_the_counts_within_zero_and_one(counts):
    votes = np.array([np.nan if c is None else float(c) for c in counts])
    ranks = title_signals.vote_rank(votes)
    assert ((0.0 <= ranks) & (ranks <= 1.0)).all()
    known = [(v, r) for v, r in zip(votes, ranks) if not np.isnan(v)]
    for (v1, r1), (v2, r2) in zip(sorted(known), sorted(known)[1:]):
        assert r1 <= r2 and (r1 == r2) == (v1 == v2)


def test_prominence_ranks_titles_without_votes_by_their_tag_count_and_keeps_vote_ranks():
    votes = np.array([10.0, np.nan, 1000.0, np.nan, np.nan, 5.0])
    tags = np.array([3.0, 30.0, 0.0, 2.0, 30.0, 40.0])
    out = title_signals.prominence(votes, tags)
    assert out[[0, 2, 5]].tolist() == pytest.approx(title_signals.vote_rank(votes)[[0, 2, 5]].tolist())  # votes decide
    assert out[1] == out[4] > out[3]  # without votes: the widely tagged show above the barely tagged one
    assert ((0.0 <= out) & (out <= 1.0)).all()
    assert title_signals.prominence(np.array([np.nan, np.nan]), np.array([0.0, 0.0])).tolist() == [0.5, 0.5]


@given(st.lists(st.tuples(st.one_of(st.none(), st.integers(0, 10**7)), st.integers(0, 40)), min_size=1, max_size=60))
def test_prominence_is_within_zero_and_one_and_orders_tags_among_titles_without_votes(rows):
    votes = np.array([np.nan if v is None else float(v) for v, _ in rows])
    tags = np.array([float(t) for _, t in rows])
    out = title_signals.prominence(votes, tags)
    assert ((0.0 <= out) & (out <= 1.0)).all()
    unknown = sorted((t, r) for t, r, v in zip(tags, out, votes) if np.isnan(v))
    for (t1, r1), (t2, r2) in zip(unknown, unknown[1:]):
        assert r1 <= r2 and (r1 == r2) == (t1 == t2)


def test_prominence_lifts_the_widely_seen_title_among_equals_and_weight_zero_changes_nothing(app, monkeypatch):
    features, snapshot = app._current_recommender().features, app._current_recommender().snapshot
    seed, known, obscure = (snapshot.position(t) for t in ("m-3", "m-5", "m-4"))  # the same heist story
    default = app.settings.ranking
    assert default.prominence > 0 and RankingWeights.text_only().prominence == 0.0
    rows = np.array([known, obscure])
    off = dataclasses.replace(default, prominence=0.0)
    before = features.blended(seed, rows, off)
    assert before[1] > before[0]  # the obscure one shares the seed's director

    votes = np.full(len(snapshot), 1000.0)
    votes[known], votes[obscure] = 900_000.0, 10.0
    monkeypatch.setattr(features, "_prominence", title_signals.vote_rank(votes))
    assert features.blended(seed, rows, off) == pytest.approx(before, abs=1e-7)
    lifted = features.blended(seed, rows, dataclasses.replace(default, prominence=1.0))
    assert lifted[0] > lifted[1] and ((0.0 <= lifted) & (lifted <= 1.0)).all()


def test_titles_without_votes_are_as_prominent_as_their_tag_count_says(tmp_path, use_embedder):
    themes = ("heist", "casino", "vault")
    widely_tagged = dataclasses.replace(TITLES[3], votes=None, keywords=themes + tuple(f"fan tag {i}" for i in range(20)))
    barely_tagged = dataclasses.replace(TITLES[4], votes=None, keywords=themes)
    titles = (*TITLES[:3], widely_tagged, barely_tagged, *TITLES[5:])
    app = FlixRec(build_home(tmp_path, "use-multilingual", use_embedder, titles), embedder=use_embedder)
    features, snapshot = app._current_recommender().features, app._current_recommender().snapshot
    seed, rows = snapshot.position("m-3"), np.array([snapshot.position("m-4"), snapshot.position("m-5")])
    assert features._prominence[rows[0]] > features._prominence[rows[1]]

    def gap(weight: float) -> float:
        scores = features.blended(seed, rows, dataclasses.replace(app.settings.ranking, prominence=weight))
        assert ((0.0 <= scores) & (scores <= 1.0)).all()
        return float(scores[0] - scores[1])

    assert gap(1.0) > gap(0.0) + 0.05


def _renamed(app, monkeypatch, renamed: dict[str, str]):
    """The app's title features with a franchise index built from TITLES under the `renamed` names."""
    features, snapshot = app._current_recommender().features, app._current_recommender().snapshot
    monkeypatch.setattr(features, "franchises", FranchiseIndex(
        franchise_record(dataclasses.replace(t, title=renamed.get(t.title_id, t.title))) for t in TITLES))
    monkeypatch.setattr(features, "_franchise_cache", {})
    return features, snapshot


def test_the_first_film_of_another_franchise_takes_its_best_place_not_of_the_seeds_own(app, monkeypatch):
    renamed = {"m-3": "Night Heist", "m-4": "Night Heist 2", "m-5": "Night Heist Into Darkness"}  # 2001, 2003, 2003
    features, snapshot = _renamed(app, monkeypatch, renamed)
    sequel, first, farm, liner = (snapshot.position(t) for t in ("m-4", "m-3", "m-6", "m-7"))
    rows = np.array([sequel, farm, first, liner])
    scores = np.array([0.9, 0.7, 0.5, 0.6], dtype=np.float32)

    out, held_back = features.first_films_first(rows, scores)
    assert out.tolist() == pytest.approx([0.5, 0.7, 0.9, 0.6])  # the two swap places, the others keep theirs
    assert sorted(out.tolist()) == pytest.approx(sorted(scores.tolist())) and not held_back.any()

    assert {"m-3", "m-4"} <= set(features.franchise_of("m-5"))  # linked by name, though its base name differs
    seed_named, _ = features.first_films_first(rows, scores, seeds=["m-5"])  # a seed of that franchise: no swap
    assert seed_named.tolist() == pytest.approx(scores.tolist())

    monkeypatch.setattr(ranking, "FIRST_FILM_RANKS", 2)  # the first film beyond the checked places: nothing moves
    assert features.first_films_first(rows, scores)[0].tolist() == pytest.approx(scores.tolist())


def test_another_franchise_lists_two_entries_before_the_other_titles_and_the_rest_after_them(app, monkeypatch):
    renamed = {"m-3": "Night Heist", "m-4": "Night Heist 2", "m-5": "Night Heist 3"}  # 2001, 2003, 2003
    features, snapshot = _renamed(app, monkeypatch, renamed)
    rows = np.array([snapshot.position(t) for t in ("m-3", "m-4", "m-5", "m-6", "m-7")])
    scores = np.array([0.9, 0.85, 0.8, 0.5, 0.4], dtype=np.float32)

    out, held_back = features.first_films_first(rows, scores)
    assert held_back.tolist() == [False, False, True, False, False]  # the third entry waits for the others
    order = np.lexsort((snapshot.tie_rank[rows], -out, held_back))
    assert [snapshot.ids[r] for r in rows[order]] == ["m-3", "m-4", "m-6", "m-7", "m-5"]
    assert not features.first_films_first(rows, scores, seeds=["m-3"])[1].any()  # the seed's own: never held back
    monkeypatch.setattr(ranking, "OTHER_FRANCHISE_ENTRIES", 3)
    assert not features.first_films_first(rows, scores)[1].any()

    monkeypatch.setattr(ranking, "OTHER_FRANCHISE_ENTRIES", 2)
    shown = [r.title.title_id for r in app.similar_titles("m-8", k=7)]  # every title but the seed
    assert len(shown) == 7 and set(renamed) <= set(shown)  # exactly k whenever k pass: held back, not dropped


def test_features_from_the_fields_they_read_equal_those_from_whole_titles(app):
    """The features are built from a lean read of the catalogue (FEATURE_FIELDS): nothing they use is left out."""
    recommender = app._current_recommender()
    catalog, snapshot = recommender.catalog, recommender.snapshot
    whole = ranking.TitleFeatures(snapshot, catalog.iter_titles(with_people=True))
    lean = ranking.TitleFeatures(snapshot, catalog.iter_titles(with_people=True, fields=ranking.FEATURE_FIELDS))
    for name in ("keywords", "directors", "cast", "crew"):
        assert (getattr(whole, name) != getattr(lean, name)).nnz == 0, name
    assert whole.person_names == lean.person_names and whole.crew_ids == lean.crew_ids
    assert np.array_equal(whole._prominence, lean._prominence)
    ids = [str(i) for i in snapshot.ids]
    assert any(whole.franchise_of(i) for i in ids)  # the catalogue has franchises to find
    assert all(whole.franchise_of(i) == lean.franchise_of(i) for i in ids)
    one = next(t for t in catalog.iter_titles(fields=ranking.FEATURE_FIELDS) if t.keywords)
    assert one.overview is None and one.genres == () and one.title  # the other fields are left empty
