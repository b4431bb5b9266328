"""One filter rule, three implementations: `Filters.accepts` (a title), `IndexSnapshot.mask` (numpy
columns, what similar titles use) and `explore.filter_frame` (pandas, the Explore page) must agree
exactly on generated titles with unknown fields and on every kind of constraint."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from flixrec.explore import CATALOGUE_COLUMNS, catalogue_frame, filter_frame
from flixrec.index import IndexSnapshot, title_metadata
from flixrec.index.store import snapshot_records
from flixrec.models import MEDIA_TYPES, Filters, Title

GENRES = ("Action", "Comedy", "Drama", "Anime")
LANGUAGES = ("en", "ja", "fr")
CERTIFICATIONS = ("PG", "R", "TV-MA")
YEARS = st.integers(1990, 2000)
RUNTIMES = st.integers(40, 160)
VOTES = st.integers(0, 50)
RATINGS = st.integers(0, 20).map(lambda n: n / 2)  # 0.0, 0.5, ... 10.0: bounds hit values exactly


@st.composite
def title_sets(draw) -> list[Title]:
    """0-12 titles whose every filterable field may be unknown (None or empty)."""
    count = draw(st.integers(0, 12))
    return [
        Title(
            title_id=f"t{i:02d}", media_type=draw(st.sampled_from(MEDIA_TYPES)), title=f"Title {i}", source="test",
            genres=tuple(draw(st.lists(st.sampled_from(GENRES), max_size=3, unique=True))),
            year=draw(st.none() | YEARS), runtime=draw(st.none() | RUNTIMES), votes=draw(st.none() | VOTES),
            rating=draw(st.none() | RATINGS), language=draw(st.none() | st.sampled_from(LANGUAGES)),
            languages=draw(st.none() | st.lists(st.sampled_from(LANGUAGES), min_size=1, max_size=3, unique=True)
                           .map(tuple)),
            certification=draw(st.none() | st.sampled_from(CERTIFICATIONS)),
        )
        for i in range(count)
    ]


def _some(values) -> st.SearchStrategy[frozenset]:
    return st.frozensets(st.sampled_from(values), max_size=3)


FILTERS = st.builds(
    Filters,
    year_min=st.none() | YEARS, year_max=st.none() | YEARS,
    runtime_min=st.none() | RUNTIMES, runtime_max=st.none() | RUNTIMES,
    min_votes=st.none() | VOTES, min_rating=st.none() | RATINGS,
    genres_include=_some(GENRES + ("Western",)),  # a genre no title has
    genres_exclude=_some(GENRES + ("Western",)),
    languages=_some(LANGUAGES + ("de",)),  # a language no title has
    media_types=_some(MEDIA_TYPES),
    exclude_ids=_some(tuple(f"t{i:02d}" for i in range(14))),  # t12, t13: ids not in the set
    spoken_languages=_some(LANGUAGES + ("de",)),
    certifications_exclude=_some(CERTIFICATIONS + ("NC-17",)),  # a certification no title has
)


def _snapshot(titles: list[Title]) -> IndexSnapshot:
    """The index's in-memory snapshot of these titles, from the metadata ingest stores in Chroma."""
    vectors = np.random.default_rng(0).standard_normal((len(titles), 4)).astype(np.float32)
    return IndexSnapshot.from_records([([t.title_id for t in titles], vectors, [title_metadata(t) for t in titles])])


def _frame_rows(titles: list[Title]) -> list[dict]:
    return [{name: getattr(t, name, None) for name in CATALOGUE_COLUMNS} for t in titles]


def _stored_snapshot(snapshot: IndexSnapshot) -> IndexSnapshot:
    """The snapshot as the app reads it back: its rows re-read the way a build merges them."""
    return IndexSnapshot.from_records(snapshot_records(snapshot, skip=set()))


@pytest.mark.slow  # 300 generated catalogues; the fast tier keeps the hand-picked cases below
@settings(max_examples=300, deadline=None)
@given(titles=title_sets(), filters=FILTERS)
def test_accepts_mask_and_filter_frame_agree_exactly(titles, filters):
    expected = {t.title_id for t in titles if filters.accepts(t)}
    snapshot = _snapshot(titles)
    assert set(snapshot.ids[snapshot.mask(filters)]) == expected
    assert set(filter_frame(catalogue_frame(_frame_rows(titles)), filters)["title_id"]) == expected
    if titles:  # the metadata a build carries over from the previous snapshot keeps the same answers
        merged = _stored_snapshot(snapshot)
        assert set(merged.ids[merged.mask(filters)]) == expected


def test_no_r_or_tv_ma_keeps_unrated_titles_and_spoken_languages_include_the_original_one():
    titles = [Title("r", "movie", "R", "t", certification="R", language="en"),
              Title("pg", "movie", "PG", "t", certification="PG", language="fr", languages=("fr", "de")),
              Title("unrated", "show", "U", "t", language="ja"),
              Title("ma", "show", "MA", "t", certification="TV-MA", languages=("en", "ja"))]
    family = Filters(certifications_exclude={"R", "TV-MA"})
    german = Filters(spoken_languages={"de"})
    japanese = Filters(spoken_languages={"ja"})
    snapshot = _snapshot(titles)
    frame = catalogue_frame(_frame_rows(titles))
    for filters, expected in ((family, {"pg", "unrated"}), (german, {"pg"}), (japanese, {"unrated", "ma"})):
        assert {t.title_id for t in titles if filters.accepts(t)} == expected
        assert set(snapshot.ids[snapshot.mask(filters)]) == expected
        assert set(filter_frame(frame, filters)["title_id"]) == expected


@settings(max_examples=50, deadline=None)
@given(titles=title_sets())
def test_no_filters_keep_every_title(titles):
    snapshot = _snapshot(titles)
    frame = catalogue_frame(_frame_rows(titles))
    for empty in (None, Filters()):
        assert snapshot.mask(empty).all() and len(snapshot.mask(empty)) == len(titles)
        assert len(filter_frame(frame, empty)) == len(titles)
        assert empty is None or all(empty.accepts(t) for t in titles)


def test_a_kept_mask_is_handed_out_fresh_so_a_caller_changing_it_changes_nothing_else():
    """Masks of recent filters are kept (a visitor pages with the same filters): each caller gets its own copy."""
    titles = [Title(f"t{i}", "movie", f"T{i}", "t", year=1990 + i) for i in range(20)]
    snapshot = _snapshot(titles)
    recent = Filters(year_min=2000)
    first = snapshot.mask(recent)
    assert first.flags.writeable and first.sum() == 10
    first[:] = False  # what similar_titles does to the seed's row
    again = snapshot.mask(recent)
    assert again.sum() == 10 and again is not first
    assert snapshot.mask(Filters(year_min=2005)).sum() == 5
