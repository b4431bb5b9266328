"""The neighbour graph first stage (flixrec.graph): links, the walk, calibration, files and the planner.

A seeded, clustered corpus of a few thousand rows stands in for the catalogue; the walk's answers are
compared with the exact ranking (flixrec.engine in exact mode).
"""

from __future__ import annotations

import dataclasses
import threading

import numpy as np
import pytest

from flixrec.engine import Projection, VectorSearch
from flixrec.plan_cost import scan_plan_cost
from flixrec.graph import KINDS, LEVELS, LINKS, WIDTH, NeighbourGraph
from flixrec.graph_calibration import calibrate_graph
from flixrec.ivf import Clusters

N, DIM, K = 6000, 48, 20


@pytest.fixture(scope="module")
def built():
    """(matrix, projection, graph without settings) on clustered unit vectors."""
    rng = np.random.default_rng(5)
    centres = rng.standard_normal((60, DIM))
    rows = centres[rng.integers(0, 60, N)] + 0.7 * rng.standard_normal((N, DIM))
    matrix = (rows / np.linalg.norm(rows, axis=1, keepdims=True)).astype(np.float32)
    projection = Projection.fit(matrix, dims=24)
    clusters = Clusters.fit(matrix, projection, clusters=64, calibrate=False)
    return matrix, projection, NeighbourGraph.fit(matrix, projection, clusters.centroids, calibrate=False)


def _exact_top(matrix, row, k, keep=None):
    scores = matrix @ matrix[row]
    scores[row] = -np.inf
    if keep is not None:
        scores[~keep] = -np.inf
    return set(np.argsort(-scores, kind="stable")[:k].tolist())


def test_links_are_each_rows_nearest_rows_then_rows_linking_to_it(built):
    matrix, _, graph = built
    assert graph.links.shape == (N, WIDTH) and graph.links.dtype == np.int32
    rng = np.random.default_rng(1)
    overlap = []
    for row in rng.choice(N, 100, replace=False):
        own = [int(r) for r in graph.links[row, :LINKS] if r >= 0]
        assert row not in own and len(own) == len(set(own))
        overlap.append(len(set(own) & _exact_top(matrix, row, LINKS)) / LINKS)
        # a row's own links come first, best first (exact scores)
        scores = matrix[own] @ matrix[row]
        assert np.all(np.diff(scores) <= 1e-6)
    assert np.mean(overlap) >= 0.9  # rows sharing clusters hold nearly all true nearest rows
    # backward links: a row linked by another lists it too, while it has room
    linked_by = graph.links[0, :LINKS][graph.links[0, :LINKS] >= 0]
    full = [r for r in linked_by if np.count_nonzero(graph.links[r] >= 0) < WIDTH]
    assert all(0 in graph.links[r] for r in full)
    # every centroid's entry is a row of the index (or -1 when no row is nearest to it)
    assert np.all((graph.entries >= -1) & (graph.entries < N))


def test_links_built_by_two_threads_are_those_of_one(built, monkeypatch):
    """The build shares the clusters between two threads, each keeping its own lists, then merges them: each
    row keeps the same best candidates as one thread offering every cluster in turn."""
    import flixrec.graph as graph_module
    from flixrec.rescore import on_threads

    matrix, projection, graph = built
    clusters = Clusters.fit(matrix, projection, clusters=64, calibrate=False)
    monkeypatch.setattr(graph_module, "SCAN_THREADS", 1)
    one = NeighbourGraph.fit(matrix, projection, clusters.centroids, calibrate=False)
    monkeypatch.setattr(graph_module, "SCAN_THREADS", 2)
    threads = []
    monkeypatch.setattr(graph_module, "on_threads",
                        lambda work, items: on_threads(lambda i: (threads.append(threading.get_ident()), work(i))[1], items))
    two = NeighbourGraph.fit(matrix, projection, clusters.centroids, calibrate=False)
    assert len(threads) == 2
    same = [set(a[:LINKS].tolist()) == set(b[:LINKS].tolist()) for a, b in zip(one.links, two.links)]
    assert np.mean(same) >= 0.999  # equal up to ties between equal scores
    assert np.array_equal(one.entries, two.entries)


def test_the_walk_finds_the_exact_neighbours_with_exact_scores(built):
    matrix, projection, graph = built
    graph = dataclasses.replace(graph, settings={kind: [(64, 0.0)] for kind in KINDS})
    search = VectorSearch(matrix, np.arange(N), projection, mode="graph", graph=graph)
    rng = np.random.default_rng(2)
    recalls = []
    for row in rng.choice(N, 60, replace=False):
        keep = np.ones(N, dtype=bool)
        keep[row] = False
        rows, scores = search.top_k(matrix[row], K, keep, item=True, row=int(row))
        assert search.last_plan.method == "graph"
        assert len(rows) == K and row not in rows
        np.testing.assert_allclose(scores, matrix[rows] @ matrix[row], rtol=0, atol=1e-6)
        assert np.all(np.diff(scores) <= 0)
        recalls.append(len(set(rows.tolist()) & _exact_top(matrix, row, K)) / K)
    assert np.mean(recalls) >= 0.99


def test_a_filtered_walk_returns_only_passing_rows_and_narrow_filters_fall_back_to_the_scan(built):
    matrix, projection, graph = built
    graph = dataclasses.replace(graph, settings={kind: [(64, 0.0)] for kind in KINDS})
    search = VectorSearch(matrix, np.arange(N), projection, mode="graph", graph=graph)
    rng = np.random.default_rng(3)
    half = rng.random(N) < 0.5
    rows, _ = search.top_k(matrix[10], K, half, item=True, row=10)
    assert search.last_plan.method == "graph" and len(rows) == K and half[rows].all()
    assert len(set(rows.tolist()) & _exact_top(matrix, 10, K, half)) >= K - 1
    few = np.zeros(N, dtype=bool)
    few[rng.choice(N, 30, replace=False)] = True  # 0.5% pass: the walk meets fewer than k of them
    rows, _ = search.top_k(matrix[10], K, few, item=True, row=10)
    assert len(rows) == K and few[rows].all()
    assert set(rows.tolist()) == _exact_top(matrix, 10, K, few)
    assert search.last_plan.method != "graph"


def test_calibration_keeps_the_narrowest_width_that_reaches_the_recall(built):
    matrix, projection, graph = built
    settings = calibrate_graph(matrix, projection, graph, seed=4, against_scan=False)
    assert set(settings) == set(KINDS) and all(len(levels) == len(LEVELS) for levels in settings.values())
    item = settings["item"][0]
    assert item is not None
    ef, ms = item
    assert ef >= KINDS["item"] and ms > 0
    # the planner takes the graph for an unfiltered stored row's neighbours when it was measured faster
    graph = dataclasses.replace(graph, settings=settings)
    search = VectorSearch(matrix, np.arange(N), dataclasses.replace(projection, shortlist=1024), graph=graph)
    search.top_k(matrix[7], K, None, item=True, row=7)
    scan = scan_plan_cost(search.projection, N, DIM, N, *search.projection.sizes(True, K))
    assert search.last_plan.method == ("graph" if ms < scan else "projected-full")
    # a filter below the calibrated levels, or a k beyond every kind, never takes the graph
    assert graph.setting(True, K, 0.4) is None
    assert graph.setting(True, 200, 1.0) is None


def test_calibration_turns_the_graph_off_where_the_scan_is_cheaper(built):
    matrix, projection, graph = built  # 6,000 rows: a scan of them costs less than any walk
    projection = dataclasses.replace(projection, shortlist=1024)
    graph = dataclasses.replace(graph, settings=calibrate_graph(matrix, projection, graph, seed=4))
    assert not graph.enabled
    search = VectorSearch(matrix, np.arange(N), projection, graph=graph)
    assert search.graph is None
    search.top_k(matrix[7], K, None, item=True, row=7)
    assert search.last_plan.method != "graph"


def test_the_files_read_back_the_same_graph_and_other_settings_are_ignored(built, tmp_path):
    _, _, graph = built
    graph = dataclasses.replace(graph, settings={kind: [(48, 0.25)] for kind in KINDS})
    graph.save(tmp_path)
    again = NeighbourGraph.load(tmp_path)
    assert again is not None and again.settings == graph.settings
    np.testing.assert_array_equal(np.asarray(again.links), graph.links)
    np.testing.assert_array_equal(again.entries, graph.entries)
    text = (tmp_path / "graph.json").read_text().replace('"levels": [1.0]', '"levels": [1.0, 0.3]')
    (tmp_path / "graph.json").write_text(text)
    assert NeighbourGraph.load(tmp_path) is None  # calibrated for other levels: the other plans answer
    assert NeighbourGraph.load(tmp_path / "missing") is None


def test_threads_walk_at_once_with_their_own_marks(built):
    matrix, projection, graph = built
    rows = list(range(0, N, 97))
    expected = {row: graph.search(matrix, projection, matrix[row], 48, None, row).tolist() for row in rows}
    found: dict[int, list[int]] = {}
    errors = []

    def walk(part):
        try:
            for _ in range(5):
                for row in part:
                    found[row] = graph.search(matrix, projection, matrix[row], 48, None, row).tolist()
        except Exception as exc:  # noqa: BLE001 - reported below
            errors.append(exc)

    threads = [threading.Thread(target=walk, args=(rows[i::2],)) for i in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert not errors and found == expected
