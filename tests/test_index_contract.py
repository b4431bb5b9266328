"""One contract for every query backend of the index, on a real SQLite catalogue and a real Chroma dir.

Backends: the snapshot read back from Chroma ranked exactly; the memory-mapped snapshot files written
by ingest with the default planner; the projected shortlist forced on every query; the clustered first
stage (flixrec.ivf) forced on every query; the neighbour graph (flixrec.graph) forced on every query
(under narrow filters its walk meets fewer than k passing rows and the scan answers); and the planner
with small thresholds so that one query set goes through every plan. The corpus is a seeded, clustered
set of titles with varied (sometimes unknown) metadata and a few exact duplicate vectors (ties).
"""

from __future__ import annotations

import dataclasses
import string

import numpy as np
import pytest

from flixrec.catalog import Catalog
from flixrec.engine import ITEM_K, PREFILTER_CHOICES, SHORTLIST_CHOICES, SIZE_LEVELS, Projection, VectorSearch
from flixrec.projection_calibration import _cheapest_sizes
from flixrec.plan_cost import stage_cost
from flixrec.errors import TitleNotFound
from flixrec.graph import KINDS as GRAPH_KINDS
from flixrec.graph import NeighbourGraph
from flixrec.ivf import KINDS, Clusters
from flixrec.index import (
    IndexSnapshot,
    VectorIndex,
    has_snapshot,
    read_snapshot,
    snapshot_dir,
    snapshot_from_chroma,
    snapshot_root,
    write_snapshot,
)
from flixrec.models import Filters, RankingWeights, Title
from flixrec.recommend import Recommender
from flixrec.service import FlixRec
from ingest.embed import build_index
from conftest import make_settings

N_TITLES, DIM, K = 2400, 64, 20
GENRES = ("Action", "Comedy", "Drama", "Horror", "Romance", "Anime", "Documentary")
LETTERS = [c for c in string.ascii_lowercase if c not in "ivx"]  # no sequel-like suffixes in names


class TableEmbedder:
    """Returns the corpus' generated vector of each text (the contract is about ranking, not the model)."""

    name = "use-multilingual"
    max_tokens = None

    def __init__(self, vectors: dict[str, np.ndarray]):
        self.vectors = vectors
        self.dimension = DIM

    def encode(self, texts, batch_size: int = 64, progress=None) -> np.ndarray:
        """The stored vector of each text."""
        return np.stack([self.vectors[t] for t in texts])

    def count_tokens(self, texts) -> list[int]:
        """Word counts."""
        return [len(t.split()) for t in texts]


def _corpus(rng: np.random.Generator) -> tuple[list[Title], np.ndarray]:
    centres = rng.standard_normal((40, DIM))
    vectors = centres[rng.integers(0, 40, N_TITLES)] + 0.6 * rng.standard_normal((N_TITLES, DIM))
    vectors[1:6] = vectors[0]  # exact duplicates: ties must come back in title-id order
    vectors = (vectors / np.linalg.norm(vectors, axis=1, keepdims=True)).astype(np.float32)
    names: set[str] = set()
    while len(names) < N_TITLES:
        names.add("".join(rng.choice(LETTERS, size=9)).capitalize())
    titles = []
    for i, name in enumerate(sorted(names)):
        unknown = rng.random(3) < 0.15
        titles.append(Title(
            title_id=f"test-{i:05d}", media_type="movie" if rng.random() < 0.6 else "show", title=name,
            source="test", overview=f"overview {i}", genres=tuple(sorted(set(rng.choice(GENRES, size=int(rng.integers(0, 3)))))),
            year=int(rng.integers(1950, 2025)), runtime=None if unknown[0] else int(rng.integers(20, 200)),
            votes=None if unknown[1] else int(rng.integers(0, 10_000)),
            rating=None if unknown[2] else round(float(rng.uniform(1, 10)), 1),
            language=str(rng.choice(["en", "ja", "fr", "de"])) if rng.random() < 0.9 else None,
        ))
    return titles, vectors


@pytest.fixture(scope="module")
def corpus(tmp_path_factory):
    """(settings, catalog, index, titles by id, vectors by id): built once with the real ingest path."""
    from flixrec.embedding import embedding_text

    titles, vectors = _corpus(np.random.default_rng(11))
    settings = make_settings(tmp_path_factory.mktemp("contract-home"))
    catalog = Catalog.open(settings.database_url)
    catalog.upsert_titles(titles)
    index = VectorIndex.open(settings.index_dir, settings.model, dimension=DIM, create=True)
    build_index(catalog, index, TableEmbedder({embedding_text(t): v for t, v in zip(titles, vectors)}))
    yield settings, catalog, index, {t.title_id: t for t in titles}, dict(zip((t.title_id for t in titles), vectors))
    catalog.engine.dispose()


def _snapshot(kind: str, index: VectorIndex) -> IndexSnapshot:
    if kind == "chroma-exact":
        snapshot = snapshot_from_chroma(index, index.stamp())
        snapshot.search = VectorSearch(snapshot.matrix, snapshot.tie_rank, mode="exact")
        return snapshot
    snapshot = read_snapshot(index, index.stamp())
    assert snapshot is not None and isinstance(snapshot.matrix, np.memmap)
    if kind == "projected":
        projection = Projection.fit(snapshot.matrix, dims=16)
        snapshot.search = VectorSearch(snapshot.matrix, snapshot.tie_rank, projection, shortlist=400, mode="projected")
    elif kind == "projected-two-stage":  # head scores keep 500 rows, head + tail scores keep 200
        projection = dataclasses.replace(Projection.fit(snapshot.matrix, dims=24), shortlist=200, prefilter=500)
        snapshot.search = VectorSearch(snapshot.matrix, snapshot.tie_rank, projection, shortlist=200, mode="projected")
    elif kind == "clustered":  # probes further for narrower filters, like a calibration would
        projection = dataclasses.replace(Projection.fit(snapshot.matrix, dims=24), shortlist=400)
        by_level = [(0.35, 600, 200), (0.5, 600, 200), (0.9, 600, 200)]
        clusters = dataclasses.replace(Clusters.fit(snapshot.matrix, projection, clusters=32, calibrate=False),
                                       settings={kind: by_level for kind in KINDS})
        snapshot.search = VectorSearch(snapshot.matrix, snapshot.tie_rank, projection, mode="clustered", clusters=clusters)
    elif kind == "graph":  # a width of 96 for k <= 40; wider asks (similar titles fetch 200) walk 4k
        projection = dataclasses.replace(Projection.fit(snapshot.matrix, dims=24), shortlist=400)
        clusters = Clusters.fit(snapshot.matrix, projection, clusters=32, calibrate=False)
        graph = dataclasses.replace(NeighbourGraph.fit(snapshot.matrix, projection, clusters.centroids, calibrate=False),
                                    settings={kind: [(96, 0.0)] for kind in GRAPH_KINDS})
        snapshot.search = VectorSearch(snapshot.matrix, snapshot.tie_rank, projection, mode="graph", graph=graph)
    elif kind == "planner-small":
        projection = dataclasses.replace(Projection.fit(snapshot.matrix, dims=24), shortlist=600)
        snapshot.search = VectorSearch(snapshot.matrix, snapshot.tie_rank, projection, exact_rows=300)
    return snapshot


@pytest.fixture(scope="module", params=["chroma-exact", "snapshot-files", "projected", "projected-two-stage", "clustered",
                                               "graph", "planner-small"])
def backend(request, corpus):
    """A Recommender over one backend ranking by the vectors' cosine alone (the index's contract), with the corpus."""
    settings, catalog, index, titles, vectors = corpus
    return Recommender(catalog, _snapshot(request.param, index), weights=RankingWeights.text_only()), titles, vectors


FILTERS = [
    None,
    Filters(year_min=1990, year_max=2010),
    Filters(runtime_min=60, runtime_max=120, min_votes=2000),
    Filters(min_rating=7.5, media_types={"show"}),
    Filters(genres_include={"Horror", "Anime"}, genres_exclude={"Comedy"}),
    Filters(languages={"ja", "fr"}, year_min=2000),
    Filters(year_min=2015, min_votes=8000, min_rating=6.0),  # ~1% pass: fewer than k for some seeds
    Filters(exclude_ids={f"test-{i:05d}" for i in range(0, 2400, 3)}),
]
SEEDS = [f"test-{i:05d}" for i in (0, 3, 77, 500, 1234, 2399)]


def _exact(titles, vectors, seed_id: str, flt: Filters | None, k: int) -> list[str]:
    ids = [t for t in titles if t != seed_id and (flt is None or flt.accepts(titles[t]))]
    scores = np.array([vectors[t] @ vectors[seed_id] for t in ids])
    return [ids[i] for i in sorted(range(len(ids)), key=lambda i: (-scores[i], ids[i]))[:k]]


@pytest.mark.parametrize("flt", FILTERS, ids=lambda f: "none" if f is None else "filter")
def test_contract_k_results_filters_scores_and_seed(backend, flt):
    recommender, titles, vectors = backend
    for seed_id in SEEDS:
        passing = sum(1 for t in titles.values() if t.title_id != seed_id and (flt is None or flt.accepts(t)))
        got = recommender.similar_titles(seed_id, K, flt, separate_franchise=False)
        assert len(got) == min(K, passing)
        assert seed_id not in {r.title.title_id for r in got}
        assert all(flt is None or flt.accepts(r.title) for r in got)
        scores = [r.score for r in got]
        assert all(0.0 <= s <= 1.0 for s in scores)
        assert scores == sorted(scores, reverse=True)
        assert [r.rank for r in got] == list(range(1, len(got) + 1))


def test_contract_recall_against_exact(backend):
    recommender, titles, vectors = backend
    rng = np.random.default_rng(3)
    seeds = [f"test-{i:05d}" for i in rng.choice(N_TITLES, size=25, replace=False)]
    recalls = []
    for flt in FILTERS[:6]:
        for seed_id in seeds:
            truth = _exact(titles, vectors, seed_id, flt, K)
            got = [r.title.title_id for r in recommender.similar_titles(seed_id, K, flt, separate_franchise=False)]
            recalls.append(len(set(got) & set(truth)) / len(truth))
    assert np.mean(recalls) >= 0.99


def test_contract_stable_order_and_ties(backend):
    recommender, titles, vectors = backend
    first = recommender.similar_titles("test-00000", K, None, separate_franchise=False)
    again = recommender.similar_titles("test-00000", K, None, separate_franchise=False)
    assert [(r.title.title_id, r.score) for r in first] == [(r.title.title_id, r.score) for r in again]
    # test-00001..05 have the seed's very vector: the best five, tied, in title-id order
    assert [r.title.title_id for r in first[:5]] == [f"test-{i:05d}" for i in range(1, 6)]


def test_contract_unknown_title(backend):
    recommender, _, _ = backend
    with pytest.raises(TitleNotFound):
        recommender.similar_titles("tmdb-movie-does-not-exist", K)


def test_snapshot_files_match_chroma(corpus):
    _, _, index, _, _ = corpus
    files = read_snapshot(index, index.stamp())
    chroma = snapshot_from_chroma(index, index.stamp())
    order = np.array([chroma.position(t) for t in files.ids])
    assert sorted(files.ids) == sorted(chroma.ids)
    np.testing.assert_allclose(np.asarray(files.matrix), chroma.matrix[order], atol=1e-6)  # Chroma re-normalises
    for flt in FILTERS:
        np.testing.assert_array_equal(files.mask(flt), chroma.mask(flt)[order])


def test_incremental_build_writes_a_new_snapshot_and_the_app_reloads(tmp_path):
    from flixrec.embedding import embedding_text

    titles, vectors = _corpus(np.random.default_rng(5))
    titles, vectors = titles[:300], vectors[:300]
    table = {embedding_text(t): v for t, v in zip(titles, vectors)}
    settings = make_settings(tmp_path)
    catalog = Catalog.open(settings.database_url)
    catalog.upsert_titles(titles)
    index = VectorIndex.open(settings.index_dir, settings.model, dimension=DIM, create=True)
    build_index(catalog, index, TableEmbedder(table))
    first_stamp = index.stamp()
    assert has_snapshot(index, first_stamp)
    app = FlixRec(settings)
    cosine = RankingWeights.text_only()  # tied vectors come back in id order: the index's contract
    before = app.similar_titles("test-00000", 5, separate_franchise=False, weights=cosine)
    assert isinstance(app._current_recommender().snapshot.matrix, np.memmap)

    best = before[0].title
    changed = dataclasses.replace(best, year=1801)  # metadata only: no re-embedding
    added = dataclasses.replace(titles[0], title_id="test-new", title="Brandnewone", overview="new")
    table[embedding_text(added)] = vectors[0]
    catalog.upsert_titles([changed, added])
    catalog.delete_titles([before[1].title.title_id])
    summary = build_index(catalog, index, TableEmbedder(table))
    assert (summary.embedded, summary.metadata_updated, summary.deleted) == (1, 1, 1)
    assert index.stamp() != first_stamp and has_snapshot(index, index.stamp())
    assert not snapshot_dir(index, first_stamp).exists()  # old builds are removed

    # test-00001..05 and test-new share the seed's vector; test-00002 was deleted
    assert before[1].title.title_id == "test-00002"
    after = app.similar_titles("test-00000", 5, separate_franchise=False, weights=cosine)
    assert [r.title.title_id for r in after] == ["test-00001", "test-00003", "test-00004", "test-00005", "test-new"]
    assert [r.title.title_id for r in app.similar_titles("test-00000", 5, Filters(year_max=1900), False)] == [best.title_id]


def test_incomplete_or_missing_snapshot_falls_back_to_chroma(corpus, tmp_path):
    _, _, index, titles, _ = corpus
    assert read_snapshot(index, "not-a-stamp") is None
    partial = snapshot_root(index) / f"{index.collection.name}-partial"
    partial.mkdir()
    try:
        (partial / "matrix.npy").write_bytes(b"")
        assert read_snapshot(index, "partial") is None  # no meta.json: incomplete
    finally:
        partial.joinpath("matrix.npy").unlink()
        partial.rmdir()


def test_calibration_turns_the_projection_off_when_it_cannot_reach_the_recall():
    rng = np.random.default_rng(0)
    random_rows = rng.standard_normal((3000, DIM)).astype(np.float32)
    random_rows /= np.linalg.norm(random_rows, axis=1, keepdims=True)
    assert Projection.fit(random_rows, dims=8).shortlist == 0
    _, clustered = _corpus(rng)
    assert Projection.fit(clustered, dims=32).shortlist > 0
    search = VectorSearch(random_rows, np.arange(3000), Projection.fit(random_rows, dims=8))
    rows, _ = search.top_k(random_rows[0], K)
    assert search.last_plan.method.startswith("exact") and rows[0] == 0


def test_item_queries_get_their_own_calibrated_sizes_and_keep_the_recall():
    """similar_titles queries are stored rows: calibrated apart, they need a smaller shortlist than free text."""
    rng = np.random.default_rng(1)
    n = 20_000
    rows = rng.standard_normal((300, 64))[rng.integers(0, 300, n)] + 0.5 * rng.standard_normal((n, 64))
    rows = (rows / np.linalg.norm(rows, axis=1, keepdims=True)).astype(np.float32)
    projection = Projection.fit(rows, dims=32)
    assert 0 < projection.item_shortlist < projection.shortlist
    search = VectorSearch(rows, np.arange(n), projection)
    exact = VectorSearch(rows, np.arange(n), mode="exact")
    recalls = []
    for row in rng.choice(n, 40, replace=False):
        keep = np.ones(n, dtype=bool)
        keep[row] = False
        got, _ = search.top_k(rows[row], K, keep, item=True)
        assert search.last_plan.method == "projected-full"
        assert projection.item_shortlist <= search.last_plan.candidates <= 2 * projection.item_shortlist
        truth, _ = exact.top_k(rows[row], K, keep)
        recalls.append(len(set(got.tolist()) & set(truth.tolist())) / K)
    assert np.mean(recalls) >= 0.99
    search.top_k(rows[0], K)  # free text: the general sizes
    assert search.last_plan.candidates >= projection.shortlist
    search.top_k(rows[0], ITEM_K + 1, item=True)  # more neighbours than items were calibrated for
    assert search.last_plan.candidates >= projection.shortlist


def test_item_sizes_are_calibrated_per_filter_share_and_keep_the_recall(tmp_path):
    """Where a filter passes fewer rows, the exact top k rank differently among the passing ones: the item sizes are
    calibrated again per SIZE_LEVELS share (kept where they cost less there), a query takes the sizes of the
    smallest level at or above its share (recall kept against exact), and the levels are kept with the snapshot."""
    rng = np.random.default_rng(2)
    n = 60_000
    rows = rng.standard_normal((3000, 64))[rng.integers(0, 3000, n)] + 0.5 * rng.standard_normal((n, 64))
    rows = (rows / np.linalg.norm(rows, axis=1, keepdims=True)).astype(np.float32)
    projection = Projection.fit(rows, dims=32)
    levels = [level for level, _, _ in projection.item_levels]
    assert levels and levels == sorted(levels) and set(levels) <= set(SIZE_LEVELS)
    narrow, narrow_shortlist, narrow_prefilter = projection.item_levels[0]
    assert narrow == min(SIZE_LEVELS) and (narrow_shortlist, narrow_prefilter) != projection.sizes(True, K)
    assert projection.sizes(True, K, narrow) == (narrow_shortlist, narrow_prefilter)
    assert projection.sizes(True, K, 1.0) == (projection.item_shortlist, projection.item_prefilter)
    assert projection.sizes(False, K, narrow) == (projection.shortlist, projection.prefilter)  # free text: one size
    search = VectorSearch(rows, np.arange(n), projection)
    exact = VectorSearch(rows, np.arange(n), mode="exact")
    recalls = []
    for row in rng.choice(n, 40, replace=False):
        keep = np.zeros(n, dtype=bool)
        keep[rng.choice(n, int((narrow - 0.005) * n), replace=False)] = True
        keep[row] = False
        got, _ = search.top_k(rows[row], K, keep, item=True)
        assert search.last_plan.method == "projected-gather"
        assert search.last_plan.candidates == min(narrow_shortlist, int(keep.sum()))  # the level's shortlist
        truth, _ = exact.top_k(rows[row], K, keep)
        recalls.append(len(set(got.tolist()) & set(truth.tolist())) / K)
    assert np.mean(recalls) >= 0.99

    small = rows[:2000]
    kept = dataclasses.replace(Projection.fit(small, dims=16), item_levels=((0.15, 256, 0), (0.6, 512, 2048)))
    snapshot = IndexSnapshot.from_records([([f"t{i}" for i in range(len(small))], small, [{} for _ in small])])
    index = VectorIndex.open(tmp_path / "index", "use-multilingual", dimension=64, create=True)
    write_snapshot(index, "levels", dataclasses.replace(snapshot, projection=kept))
    assert read_snapshot(index, "levels").projection.item_levels == kept.item_levels


def test_a_reused_scan_answers_exactly_as_a_fresh_search_for_every_plan_order():
    """The head scores kept from a thread's last full scan serve the next search with the same vector (a
    filtered one gathers from them) and never a search with another vector."""
    rng = np.random.default_rng(4)
    n = 12_000
    rows = rng.standard_normal((200, 48))[rng.integers(0, 200, n)] + 0.6 * rng.standard_normal((n, 48))
    rows = (rows / np.linalg.norm(rows, axis=1, keepdims=True)).astype(np.float32)
    projection = dataclasses.replace(Projection.fit(rows, dims=16), shortlist=300, prefilter=0)
    masks = [None, rng.random(n) < 0.5, rng.random(n) < 0.3]  # full scans, and a gather that keeps part of what passes

    def answer(search: VectorSearch, vector: np.ndarray, keep: np.ndarray | None) -> tuple[list[int], list[float]]:
        got, scores = search.top_k(vector, 200, keep, item=True)
        return got.tolist(), scores.tolist()

    for seed in rng.choice(n, 6, replace=False):
        other = rows[(seed + 1) % n]
        fresh = [answer(VectorSearch(rows, np.arange(n), projection, mode="projected"), rows[seed], m) for m in masks]
        reusing = VectorSearch(rows, np.arange(n), projection, mode="projected")
        for order in ([0, 1, 2], [2, 1, 0], [1, 0, 2]):
            answer(reusing, other, None)  # another vector's scan in between must not be reused
            for i in order:
                assert answer(reusing, rows[seed], masks[i]) == fresh[i]


def test_calibration_picks_the_cheapest_sizes_that_reach_the_recall():
    """A larger shortlist with a much smaller prefilter wins when its gathers are cheaper (300k x 512)."""
    n, d, tail_dims = 300_000, 512, 64
    full_rank = np.array([100] * 996 + [700] * 4)  # projected-score rank of each exact top row
    head_rank = np.array([1000] * 991 + [20_000] * 5 + [1000] * 4)  # head-score rank
    # (512, 32768) and (512, no prefilter) reach 0.995 too, but gather 8 MB of tail rows or scan all of them
    assert _cheapest_sizes(head_rank, full_rank, n, d, tail_dims, (512, 1024), PREFILTER_CHOICES) == (1024, 8192)
    assert stage_cost(n, d, tail_dims, 1024, 8192) < stage_cost(n, d, tail_dims, 512, 32768)
    assert _cheapest_sizes(head_rank, full_rank, n, d, tail_dims, (512,), PREFILTER_CHOICES) == (512, 32768)
    assert _cheapest_sizes(head_rank, full_rank + n, n, d, tail_dims, SHORTLIST_CHOICES, PREFILTER_CHOICES) == (0, 0)
