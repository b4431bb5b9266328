"""The clustered first stage (flixrec.ivf) on a small corpus: layout, the forced plan's contract, calibration, files."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest

from flixrec.engine import Projection, VectorSearch
from flixrec.ivf import KINDS, LEVELS, Clusters
from flixrec.ivf_calibration import calibrate_clusters

N, DIM, K = 6000, 48, 20


def _clustered_rows(n: int, seed: int = 5) -> np.ndarray:
    rng = np.random.default_rng(seed)
    centres = rng.standard_normal((60, DIM))
    rows = centres[rng.integers(0, 60, n)] + 0.7 * rng.standard_normal((n, DIM))
    rows[1:6] = rows[0]  # exact duplicates: ties come back in tie-rank order
    return (rows / np.linalg.norm(rows, axis=1, keepdims=True)).astype(np.float32)


@pytest.fixture(scope="module")
def corpus():
    rows = _clustered_rows(N)
    projection = Projection.fit(rows, dims=24)
    clusters = Clusters.fit(rows, projection, clusters=64, against_scan=False)
    tie_rank = np.random.default_rng(1).permutation(N)
    by_level = [(0.3, 600, 200), (0.4, 600, 200), (0.8, 600, 200)]  # narrower filters probe further
    forced = dataclasses.replace(clusters, settings={kind: by_level for kind in KINDS})
    search = VectorSearch(rows, tie_rank, projection, mode="clustered", clusters=forced)
    exact = VectorSearch(rows, tie_rank, mode="exact")
    return rows, projection, clusters, search, exact, tie_rank


def test_rows_are_grouped_in_contiguous_cluster_blocks(corpus):
    rows, projection, clusters, *_ = corpus
    assert sorted(clusters.order.tolist()) == list(range(N))
    assert clusters.offsets[0] == 0 and clusters.offsets[-1] == N and np.all(np.diff(clusters.offsets) >= 0)
    assert np.array_equal(clusters.head, projection.head[clusters.order])
    projected = np.hstack([projection.head, projection.tail])
    for j in (0, 17, 63):  # every row of a block is nearest to its own centroid
        block = clusters.order[clusters.offsets[j] : clusters.offsets[j + 1]]
        assert np.all(np.argmax(projected[block] @ clusters.centroids.T, axis=1) == j)


@pytest.mark.parametrize("share", [1.0, 0.5, 0.05, 0.002])
def test_forced_plan_exact_k_filter_scores_order_and_recall(corpus, share):
    rows, _, _, search, exact, tie_rank = corpus
    rng = np.random.default_rng(int(share * 1000))
    base = rng.random(N) < share
    recalls = []
    for query_row in rng.choice(N, size=30, replace=False):
        keep = base.copy()
        keep[query_row] = False
        got, scores = search.top_k(rows[query_row], K, keep, item=True)
        assert search.last_plan.method == "clustered"
        assert len(got) == min(K, int(keep.sum()))
        assert keep[got].all()
        assert np.allclose(scores, rows[got] @ rows[query_row], atol=1e-6)  # exact scores
        order = np.lexsort((tie_rank[got], -scores))
        assert np.array_equal(order, np.arange(len(got)))  # best first, ties in tie-rank order
        truth, _ = exact.top_k(rows[query_row], K, keep)
        recalls.append(len(set(got.tolist()) & set(truth.tolist())) / max(1, len(truth)))
    assert np.mean(recalls) >= 0.99


def test_forced_plan_ties_and_free_text_queries(corpus):
    rows, _, _, search, exact, tie_rank = corpus
    got, scores = search.top_k(rows[0], K)
    tied = [r for r in range(6)]
    assert sorted(got[:6].tolist(), key=lambda r: tie_rank[r]) == got[:6].tolist()
    assert set(got[:6].tolist()) == set(tied) and np.allclose(scores[:6], scores[0])
    _, projection, clusters, *_ = corpus
    assert clusters.settings["any"][0] is not None
    calibrated = VectorSearch(rows, tie_rank, projection, mode="clustered", clusters=clusters)
    rng = np.random.default_rng(2)
    recalls = []
    for query_row in rng.choice(N, size=30, replace=False):  # off the data, like free text
        noise = rng.standard_normal(DIM).astype(np.float32)
        query = rows[query_row] + 0.9 * noise / np.linalg.norm(noise)
        query /= np.linalg.norm(query)
        got, _ = calibrated.top_k(query, K)
        truth, _ = exact.top_k(query, K)
        recalls.append(len(set(got.tolist()) & set(truth.tolist())) / K)
    assert np.mean(recalls) >= 0.98


def test_calibration_reaches_the_recall_or_turns_the_stage_off(corpus):
    rows, projection, clusters, *_ = corpus
    assert clusters.settings["item"][0] is not None  # clustered data: no filter is calibrated
    auto = VectorSearch(rows, np.arange(N), projection, clusters=clusters)
    assert auto.clusters is not None
    random_rows = np.random.default_rng(4).standard_normal((3000, 32)).astype(np.float32)
    random_rows /= np.linalg.norm(random_rows, axis=1, keepdims=True)
    random_projection = dataclasses.replace(Projection.fit(random_rows, dims=16), shortlist=512)
    off = Clusters.fit(random_rows, random_projection, clusters=32, against_scan=False)
    assert not off.enabled
    search = VectorSearch(random_rows, np.arange(3000), random_projection, clusters=off)
    assert search.clusters is None
    search.top_k(random_rows[0], K)
    assert search.last_plan.method != "clustered"


def test_calibration_gives_a_setting_slot_per_kind_and_level_and_is_seeded(corpus):
    rows, projection, clusters, *_ = corpus
    assign = np.empty(N, dtype=np.int64)
    for j in range(len(clusters.offsets) - 1):
        assign[clusters.order[clusters.offsets[j] : clusters.offsets[j + 1]]] = j
    settings = calibrate_clusters(rows, projection, clusters, assign, queries=16, item_queries=32, against_scan=False)
    assert set(settings) == set(KINDS) and all(len(levels) == len(LEVELS) for levels in settings.values())
    again = calibrate_clusters(rows, projection, clusters, assign, queries=16, item_queries=32, against_scan=False)
    assert settings == again  # seeded


def test_clusters_round_trip_through_files_and_older_snapshots_have_none(corpus, tmp_path):
    rows, projection, clusters, *_ = corpus
    assert Clusters.load(tmp_path) is None  # a snapshot written before the clusters
    clusters.save(tmp_path)
    loaded = Clusters.load(tmp_path)
    assert loaded is not None and loaded.settings == clusters.settings
    for name in ("order", "offsets", "centroids", "head"):
        assert np.array_equal(getattr(loaded, name), getattr(clusters, name))
    query = rows[123]
    a = VectorSearch(rows, np.arange(N), projection, clusters=clusters, mode="clustered").top_k(query, K, item=True)
    b = VectorSearch(rows, np.arange(N), projection, clusters=loaded, mode="clustered").top_k(query, K, item=True)
    assert np.array_equal(a[0], b[0]) and np.array_equal(a[1], b[1])


def test_snapshot_files_keep_the_clusters_and_older_ones_load_without(corpus, tmp_path):
    from types import SimpleNamespace

    from flixrec.index import IndexSnapshot, read_snapshot, write_snapshot

    rows, projection, clusters, *_ = corpus
    index = SimpleNamespace(location=SimpleNamespace(snapshot_root=tmp_path), collection=SimpleNamespace(name="titles"),
                            model_name="test")
    ids = [f"t-{i:05d}" for i in range(N)]
    metas = [{"year": 1950 + i % 70} for i in range(N)]
    for stamp, with_clusters in (("new", clusters), ("old", None)):
        snapshot = IndexSnapshot.from_records([(ids, rows, metas)])
        snapshot.projection, snapshot.clusters = projection, with_clusters
        write_snapshot(index, stamp, snapshot)
    new, old = read_snapshot(index, "new"), read_snapshot(index, "old")
    assert new.clusters is not None and new.clusters.settings == clusters.settings
    assert np.array_equal(new.clusters.head, clusters.head) and new.search.clusters is not None
    assert old.clusters is None and old.search.clusters is None  # today's plans
    keep = new.mask(None)
    assert len(old.nearest(rows[7], K, keep, item=True)) == K
