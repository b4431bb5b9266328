"""Similar titles at scale (300k / 1M titles): latency, recall and build figures, one JSON line per suite.

Data (seeded, reproducible; generator "perturbed-real-v1"): the real demo catalogue and its vectors
(the demo home, FLIXREC_HOME, built by `make demo`) plus synthetic titles around them. Synthetic title i
copies a random real title's text fields (name suffixed with its number) and gets the vector
    normalise(v_parent + a * u + b * (v_x - v_y) / |v_x - v_y|),  a, b ~ U(0.2, 0.6)
where u is an isotropic unit vector and v_x, v_y two random real vectors (noise along the data's own
directions), so neighbourhoods look like real embeddings; its metadata is drawn fresh: year U(1920,
2025), runtime U(20, 200) (10% unknown), votes lognormal (10% unknown), rating N(6.5, 1.2), media type
movie 60% / show 40%, language from 8 weighted codes, 1-3 of 19 genres. Seed: --seed (default 7).
The worst case, random unit vectors with the same metadata, is reported as suite "random-<n>".

Filters of a target selectivity s (50%, 10%, 1%, 0.1%): year >= Q_year(1 - c), runtime <= Q_runtime(c),
votes >= Q_votes(1 - c) with c = s^(1/3) (the issue's 3-condition filter); the measured share is reported.

Figures per suite (all latencies are single-query, OPENBLAS_NUM_THREADS=1, milliseconds):
- similar_<sel>: p50/p95 of the engine (mask + planner + exact re-rank, as similar_titles uses it),
  recall@20 against exact numpy, k_ok (share of queries that returned min(k, passing) results), plan;
- clusters: the clustered first stage (flixrec.ivf): cluster count, k-means + calibration seconds
  (fit_s, 0 when read from a build's files), memory of its arrays, the calibrated settings per query kind
  and filter level (fraction of passing rows probed, prefilter, shortlist; null: off);
- graph: the neighbour graph (flixrec.graph): links + calibration seconds (fit_s, 0 when read from a
  build's files), memory, the calibrated (width, ms) per query kind and filter level (null: off);
- exact_<sel>: exact numpy (gathered sub-matrix) p50/p95 — the old query path;
- seed_<sel>: the seed's approach (exact top-69, then filter): share of queries with fewer than k;
- chroma_<sel>: Chroma query with `where` (as today): p50 and recall@20 (300k only, few queries);
- similar_titles_p50_ms: the full Recommender.similar_titles (catalogue, franchise) on the built home;
- free_text_p50_ms: embed a real overview with the default model + search; embed_titles_per_s (as ingest
  embeds: one worker process per core);
- build_s (build_index from the 300k catalogue, excluding embedding; chroma add + snapshot),
  cold_start_s (new process: import, open, first recommendation), rss_mib (that process after queries);
- peers: hnswlib HNSW, FAISS HNSW (two efs) and FAISS flat on the same vectors, queries and filters
  (bench/peers.py; "skipped" when not installed: pip install -r bench/requirements.txt), and
  versus_peers: per selectivity, FlixRec next to the fastest peer reaching recall@20 >= 0.99;
- load_average_at_start / _at_end: the machine's load average (figures are only comparable when low);
  memory_read_gbps: one thread's memory read speed when the suite started and ended, and cpu_steal_pct: the
  share of CPU time the host took back (bench/host.py: the shared host's swings, which move every figure).

Usage: python bench/similar.py [--n 300000] [--queries 200] [--skip-build] [--random] [--embed-texts 0]
       [--no-peers] [--peer-cache DIR]
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
sys.path.insert(1, str(Path(__file__).resolve().parent))  # bench/peers.py

import numpy as np  # noqa: E402

from flixrec.catalog import Catalog  # noqa: E402
from flixrec.config import Settings  # noqa: E402
from flixrec.embedding import embedding_texts, keyword_text  # noqa: E402
from flixrec.index import IndexSnapshot, VectorIndex, load_snapshot, title_metadata  # noqa: E402
from flixrec.models import Filters, Title  # noqa: E402
from host import HostWatch  # noqa: E402  (bench/host.py)

GENERATOR = "perturbed-real-v1"
SELECTIVITIES = {"none": 1.0, "50pct": 0.5, "10pct": 0.1, "1pct": 0.01, "0.1pct": 0.001}
GENRES = ["Action", "Adventure", "Animation", "Comedy", "Crime", "Documentary", "Drama", "Family", "Fantasy",
          "History", "Horror", "Music", "Mystery", "Romance", "Science Fiction", "Thriller", "War", "Western",
          "Anime"]
LANGUAGES = (["en", "ja", "zh", "fr", "es", "de", "ko", "it"], [0.5, 0.15, 0.1, 0.07, 0.06, 0.05, 0.04, 0.03])
K = 20


def pct(values: list[float], q: float) -> float:
    """Percentile in milliseconds, rounded."""
    return round(float(np.percentile(np.asarray(values) * 1e3, q)), 2) if values else float("nan")


def unit(rows: np.ndarray) -> np.ndarray:
    """Rows scaled to unit length."""
    return (rows / np.maximum(np.linalg.norm(rows, axis=1, keepdims=True), 1e-12)).astype(np.float32)


def synthesise_vectors(real: np.ndarray, n: int, rng: np.random.Generator, random: bool = False) -> np.ndarray:
    """n synthetic unit vectors around the real ones (generator perturbed-real-v1), or random ones."""
    m, d = real.shape
    out = np.empty((n, d), dtype=np.float32)
    for start in range(0, n, 50_000):
        size = min(50_000, n - start)
        if random:
            out[start : start + size] = unit(rng.standard_normal((size, d)).astype(np.float32))
            continue
        parent = real[rng.integers(0, m, size)]
        iso = unit(rng.standard_normal((size, d)).astype(np.float32))
        along = unit(real[rng.integers(0, m, size)] - real[rng.integers(0, m, size)])
        a = rng.uniform(0.2, 0.6, (size, 1)).astype(np.float32)
        b = rng.uniform(0.2, 0.6, (size, 1)).astype(np.float32)
        out[start : start + size] = unit(parent + a * iso + b * along)
    return out


def synthesise_metadata(n: int, rng: np.random.Generator) -> dict[str, np.ndarray]:
    """Fresh metadata columns for n titles (see the module docstring)."""
    runtime = rng.integers(20, 201, n).astype(np.float64)
    runtime[rng.random(n) < 0.1] = np.nan
    votes = np.floor(rng.lognormal(5.0, 2.0, n))
    votes[rng.random(n) < 0.1] = np.nan
    return {
        "year": rng.integers(1920, 2026, n).astype(np.float64),
        "runtime": runtime,
        "votes": votes,
        "rating": np.clip(np.round(rng.normal(6.5, 1.2, n), 1), 0, 10),
        "media": np.where(rng.random(n) < 0.6, "movie", "show"),
        "language": rng.choice(LANGUAGES[0], size=n, p=LANGUAGES[1]),
        "genres": [tuple(sorted(set(rng.choice(GENRES, size=int(rng.integers(1, 4)))))) for _ in range(n)],
    }


def selective_filters(meta: dict[str, np.ndarray]) -> dict[str, Filters | None]:
    """One 3-condition filter per target selectivity (thresholds from quantiles)."""
    out: dict[str, Filters | None] = {}
    for name, share in SELECTIVITIES.items():
        if share >= 1.0:
            out[name] = None
            continue
        c = share ** (1 / 3)
        known = lambda col: col[~np.isnan(col)]  # noqa: E731
        out[name] = Filters(
            year_min=int(np.ceil(np.quantile(known(meta["year"]), 1 - c))),
            runtime_max=int(np.floor(np.quantile(known(meta["runtime"]), c / 0.9 if c < 0.9 else 1.0))),
            min_votes=int(np.ceil(np.quantile(known(meta["votes"]), 1 - c / 0.9 if c < 0.9 else 0.0))),
        )
    return out


def chroma_where(filters: Filters | None) -> dict | None:
    """The same filter as a Chroma `where` clause (as the seed queried)."""
    if filters is None:
        return None
    clauses = [{"year": {"$gte": filters.year_min}}, {"runtime": {"$lte": filters.runtime_max}},
               {"votes": {"$gte": filters.min_votes}}]
    return {"$and": clauses}


def load_real(settings: Settings) -> tuple[list[Title], np.ndarray]:
    """The demo catalogue's titles and their vectors, in the same order."""
    catalog = Catalog.open(settings.database_url, create=False)
    snapshot = load_snapshot(VectorIndex.open(settings.index_dir, settings.model))
    titles = catalog.find_titles(list(snapshot.ids), with_people=False)
    rows = [i for i, t in enumerate(snapshot.ids) if t in titles]
    return [titles[snapshot.ids[i]] for i in rows], np.asarray(snapshot.matrix[rows], dtype=np.float32)


def synthetic_titles(real: list[Title], n_extra: int, meta: dict, rng: np.random.Generator) -> list[Title]:
    """Real titles (their metadata replaced by the generated one) then n_extra synthetic copies."""
    out: list[Title] = []
    parents = rng.integers(0, len(real), n_extra)
    for i in range(len(real) + n_extra):
        base = real[i] if i < len(real) else real[parents[i - len(real)]]
        title_id = base.title_id if i < len(real) else f"syn-{i}"
        name = base.title if i < len(real) else f"{base.title} ({i})"
        runtime, votes = meta["runtime"][i], meta["votes"][i]
        if i >= len(real):  # a copy is another work: none of its parent's external ids
            base = dataclasses.replace(base, trakt_id=None, tmdb_id=None, imdb_id=None, tvdb_id=None, slug=None)
        out.append(dataclasses.replace(
            base, title_id=title_id, title=name, original_title=None, aliases=(), year=int(meta["year"][i]),
            runtime=None if np.isnan(runtime) else int(runtime), votes=None if np.isnan(votes) else int(votes),
            rating=float(meta["rating"][i]), media_type=str(meta["media"][i]), language=str(meta["language"][i]),
            genres=meta["genres"][i], people=(), keywords=(), overviews=None))  # one text -> its vector
    return out


def snapshot_of(titles: list[Title], matrix: np.ndarray, mode: str = "auto") -> IndexSnapshot:
    """An in-memory snapshot of these titles (no Chroma)."""
    metas = [title_metadata(t) for t in titles]
    snapshot = IndexSnapshot.from_records([([t.title_id for t in titles], matrix, metas)])
    snapshot.search_mode = mode
    return snapshot


class NumpyExact:
    """Exact top k in plain numpy, the baseline the engine is measured against (and the recall's truth):
    the passing rows' product (`np.take` of the rows when fewer than a third pass, else every row with the
    others masked), ties in tie-rank order. Kept apart from the engine, whose own loops it must not share."""

    def __init__(self, matrix: np.ndarray, tie_rank: np.ndarray):
        self.matrix, self.tie_rank = matrix, tie_rank

    def top_k(self, vector: np.ndarray, k: int, keep: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray]:
        n = len(self.matrix)
        if keep is not None and np.count_nonzero(keep) * 3 < n:
            rows = np.flatnonzero(keep)
            scores = np.take(self.matrix, rows, axis=0) @ vector
        else:
            rows, scores = np.arange(n), self.matrix @ vector
            if keep is not None:
                np.copyto(scores, -np.inf, where=~keep)
        k = min(k, int(np.count_nonzero(np.isfinite(scores))))
        if k <= 0:
            return rows[:0], scores[:0]
        if scores.size > k:
            kth = np.partition(scores, scores.size - k)[scores.size - k]
            pick = np.flatnonzero(scores >= kth)
        else:
            pick = np.arange(scores.size)
        order = pick[np.lexsort((self.tie_rank[rows[pick]], -scores[pick]))][:k]
        return rows[order], scores[order]


def bench_queries(snapshot: IndexSnapshot, filters: dict[str, Filters | None], queries: np.ndarray,
                  chroma=None, chroma_queries: int = 0, truths: dict | None = None) -> dict:
    """Engine vs exact numpy vs the seed's post-filter (and Chroma `where`) for every selectivity.

    `truths`, when given, receives each selectivity's exact rows per query (for the peers' recall).
    """
    exact = NumpyExact(snapshot.matrix, snapshot.tie_rank)
    truths = {} if truths is None else truths
    out: dict = {}
    for name, flt in filters.items():
        base = snapshot.mask(flt)
        passing = int(base.sum())
        fast_t, exact_t, recalls, k_ok, seed_short, plans, truth_rows = [], [], [], 0, 0, set(), []
        chroma_t, chroma_recall = [], []
        found = []
        for row in queries:  # each method in its own loop, as the peers are: no other work between queries
            began = time.perf_counter()
            keep = snapshot.mask(flt)
            keep[row] = False
            rows, _ = snapshot.search.top_k(snapshot.matrix[row], K, keep, item=True, row=int(row))  # as similar_titles asks
            fast_t.append(time.perf_counter() - began)
            plans.add(snapshot.search.last_plan.method)
            found.append(rows)
        for row in queries:
            began = time.perf_counter()
            keep = snapshot.mask(flt)
            keep[row] = False
            truth, _ = exact.top_k(snapshot.matrix[row], K, keep)
            exact_t.append(time.perf_counter() - began)
            truth_rows.append(truth)
        for n_query, (row, rows, truth) in enumerate(zip(queries, found, truth_rows)):
            recalls.append(len(set(rows.tolist()) & set(truth.tolist())) / max(1, len(truth)))
            k_ok += len(rows) == min(K, passing - int(base[row]))
            seed_rows, _ = exact.top_k(snapshot.matrix[row], 70)  # top-69 besides the seed, then filter
            seed_rows = [r for r in seed_rows if r != row and base[r]][:K]
            seed_short += len(seed_rows) < K
            if chroma is not None and n_query < chroma_queries:
                began = time.perf_counter()
                res = chroma.query(query_embeddings=[snapshot.matrix[row]], n_results=K + 1, where=chroma_where(flt), include=[])
                chroma_t.append(time.perf_counter() - began)
                got = [snapshot.position(i) for i in res["ids"][0] if i != snapshot.ids[row]][:K]
                chroma_recall.append(len(set(got) & set(truth.tolist())) / max(1, len(truth)))
        out[f"similar_{name}"] = {
            "selectivity": round(passing / len(snapshot), 4), "p50_ms": pct(fast_t, 50), "p95_ms": pct(fast_t, 95),
            "recall_at_20": round(float(np.mean(recalls)), 4), "min_recall": round(float(np.min(recalls)), 3),
            "k_ok": round(k_ok / len(queries), 4), "plans": sorted(plans)}
        out[f"exact_{name}"] = {"p50_ms": pct(exact_t, 50), "p95_ms": pct(exact_t, 95)}
        out[f"seed_{name}"] = {"fewer_than_k": round(seed_short / len(queries), 4)}
        truths[name] = truth_rows
        if chroma_t:
            out[f"chroma_{name}"] = {"p50_ms": pct(chroma_t, 50), "recall_at_20": round(float(np.mean(chroma_recall)), 4),
                                     "queries": len(chroma_t)}
    return out


class PrecomputedEmbedder:
    """Returns the vectors already generated for the texts (the build is timed without embedding)."""

    name = "use-multilingual"
    max_tokens = None

    def __init__(self, vectors: dict[str, np.ndarray], dimension: int):
        self._vectors = vectors
        self.dimension = dimension

    def encode(self, texts, batch_size: int = 256, progress=None) -> np.ndarray:
        """The stored vector of each text."""
        return np.stack([self._vectors[t] for t in texts])

    def count_tokens(self, texts) -> list[int]:
        """Word counts (unused: no token limit)."""
        return [len(t.split()) for t in texts]


def precomputed_embedder(catalog: Catalog, titles: list[Title], matrix: np.ndarray) -> PrecomputedEmbedder:
    """An embedder answering every text the build will ask for with the generated vector of its title
    (a work merged from several records gets its first record's vector)."""
    by_id = {t.title_id: matrix[i] for i, t in enumerate(titles)}
    embedder = PrecomputedEmbedder({}, matrix.shape[1])
    for title in catalog.iter_titles():
        variants = [title] + [dataclasses.replace(title, overview=text) for _, text in title.overview_versions()[1:]]
        vector = by_id.get(title.title_id, matrix[0])
        embedder._vectors.update(dict.fromkeys(embedding_texts(variants, embedder), vector))
        if title.keywords:
            embedder._vectors[keyword_text(title)] = vector
    return embedder


COLD_START = r"""
import os, sys, time, json, resource
began = time.perf_counter()
sys.path.insert(0, sys.argv[1])
from flixrec.config import Settings
from flixrec.models import Filters
from flixrec.service import FlixRec
app = FlixRec(Settings.from_mapping({"FLIXREC_HOME": sys.argv[2], "FLIXREC_MODEL": "use-multilingual"}))
app.similar_titles(sys.argv[3], 20)
first = time.perf_counter() - began
ids = json.loads(sys.argv[4])
for i, title_id in enumerate(ids):
    app.similar_titles(title_id, 20, Filters(year_min=1990 + i % 30) if i % 2 else None)
status = dict(line.split(":", 1) for line in open("/proc/self/status").read().splitlines() if ":" in line)
print(json.dumps({"cold_start_s": round(first, 2), "rss_mib": int(status["VmRSS"].split()[0]) // 1024,
                  "peak_rss_mib": int(status["VmHWM"].split()[0]) // 1024}))
"""


def build_suite(workdir: Path, titles: list[Title], matrix: np.ndarray, filters, queries, args) -> dict:
    """Build a real home (SQLite catalogue + Chroma + snapshot) at full size; time it, cold start, RSS."""
    from ingest.embed import build_index

    shutil.rmtree(workdir, ignore_errors=True)
    settings = Settings.from_mapping({"FLIXREC_HOME": str(workdir), "FLIXREC_MODEL": "use-multilingual"})
    out: dict = {}
    began = time.perf_counter()
    catalog = Catalog.open(settings.database_url)
    catalog.upsert_titles(titles)
    out["catalog_load_s"] = round(time.perf_counter() - began, 1)
    embedder = precomputed_embedder(catalog, titles, matrix)
    index = VectorIndex.open(settings.index_dir, "use-multilingual", dimension=matrix.shape[1], create=True)
    began = time.perf_counter()
    summary = build_index(catalog, index, embedder)
    total = time.perf_counter() - began
    out["build_s"] = round(total - summary.seconds_embedding, 1)
    out["build_vectors_per_s"] = round(summary.embedded / max(1e-9, total - summary.seconds_embedding))
    ids = [str(titles[int(r)].title_id) for r in queries[:60]]
    proc = subprocess.run([sys.executable, "-c", COLD_START, str(Path(__file__).resolve().parents[1]), str(workdir),
                           ids[0], json.dumps(ids[1:])], capture_output=True, text=True, check=True)
    out.update(json.loads(proc.stdout.strip().splitlines()[-1]))
    # the full similar_titles (catalogue lookups, franchise separation) in this process
    from flixrec.service import FlixRec

    app = FlixRec(settings)
    app.similar_titles(ids[0], K)
    times = []
    for i, title_id in enumerate(ids):
        began = time.perf_counter()
        app.similar_titles(title_id, K, filters[list(filters)[i % len(filters)]])
        times.append(time.perf_counter() - began)
    out["similar_titles_p50_ms"], out["similar_titles_p95_ms"] = pct(times, 50), pct(times, 95)
    out["chroma"] = index.collection
    out["app"] = app
    return out


def embedding_figures(settings: Settings, real: list[Title], snapshot: IndexSnapshot, n_texts: int) -> dict:
    """Default model: titles/s on real demo texts as ingest embeds them (one worker process per core),
    and free-text (embed in-process + search) latency. bench/embedding.py has the whole-demo figures."""
    from flixrec.embedding import load_embedder

    embedder = load_embedder(settings.model, workers=os.cpu_count() or 1)
    texts = embedding_texts(real[:: max(1, len(real) // n_texts)][:n_texts], embedder)  # movies and anime
    embedder.encode(texts[:64])
    began = time.perf_counter()
    embedder.encode(texts)
    out = {"embed_titles_per_s": round(len(texts) / (time.perf_counter() - began), 1), "embed_texts": len(texts),
           "embed_workers": getattr(embedder, "workers", 1)}
    queries = [(t.overview or t.title).split(".")[0][:200] for t in real[-100:]]
    times = []
    for text in queries:
        began = time.perf_counter()
        vector = embedder.encode([text])[0]
        snapshot.nearest(vector, K, snapshot.mask(None))
        times.append(time.perf_counter() - began)
    out["free_text_p50_ms"], out["free_text_p95_ms"] = pct(times, 50), pct(times, 95)
    return out


def main(argv: list[str] | None = None) -> int:
    """Run the suites and print one JSON line each."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--n", type=int, default=300_000, help="titles in the index")
    parser.add_argument("--queries", type=int, default=200, help="queries per selectivity")
    parser.add_argument("--chroma-queries", type=int, default=10, help="Chroma `where` queries per selectivity")
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--skip-build", action="store_true", help="no Chroma build/cold start (and no Chroma baseline)")
    parser.add_argument("--random", action="store_true", help="also the random-vector worst case")
    parser.add_argument("--embed-texts", type=int, default=2000, help="0: no embedding / free-text figures")
    parser.add_argument("--workdir", type=Path, default=Path("/tmp/flixrec-bench"))
    parser.add_argument("--keep", action="store_true", help="keep the built home in --workdir")
    parser.add_argument("--no-peers", dest="peers", action="store_false",
                        help="no hnswlib / FAISS / numpy baselines (bench/peers.py)")
    parser.add_argument("--peer-cache", type=Path, default=Path("/tmp/flixrec-bench-peers"),
                        help="where the peers' HNSW indexes are kept between runs")
    args = parser.parse_args(argv)

    settings = Settings.from_env()
    suite_began = time.perf_counter()
    real, real_matrix = load_real(settings)
    rng = np.random.default_rng(args.seed)
    n_extra = max(0, args.n - len(real))
    matrix = np.concatenate([real_matrix, synthesise_vectors(real_matrix, n_extra, rng)])
    meta = synthesise_metadata(len(matrix), rng)
    titles = synthetic_titles(real, n_extra, meta, rng)
    queries = rng.choice(len(matrix), size=args.queries, replace=False)
    filters = selective_filters(meta)
    line: dict = {"suite": f"similar-{args.n}", "generator": GENERATOR, "seed": args.seed, "n": len(matrix),
                  "dim": int(matrix.shape[1]), "k": K, "queries": args.queries,
                  "openblas_threads": os.environ.get("OPENBLAS_NUM_THREADS")}
    host = HostWatch()  # the load average, memory speed and steal around the suite (bench/host.py)
    chroma = app = None
    if not args.skip_build:
        built = build_suite(args.workdir, titles, matrix, filters, queries, args)
        chroma, app = built.pop("chroma"), built.pop("app")
        line.update(built)
    began = time.perf_counter()
    if app is not None:
        snapshot = app._current_recommender().snapshot
    else:
        snapshot = snapshot_of(titles, matrix)
        snapshot.fit_clusters()  # as a build's write_snapshot does
    line["snapshot_ready_s"] = round(time.perf_counter() - began, 2)
    line["shortlist"] = snapshot.search.shortlist if snapshot.search.projection is not None else 0
    line["scan_ms"] = snapshot.search.projection.scan_ms if snapshot.search.projection is not None else 0.0
    clusters = snapshot.clusters
    line["clusters"] = None if clusters is None else {
        "count": len(clusters.offsets) - 1, "fit_s": round(clusters.fit_seconds, 1), "mib": round(clusters.nbytes / 2**20, 1),
        "enabled": snapshot.search.clusters is not None, "settings": clusters.settings}
    graph = snapshot.graph
    line["graph"] = None if graph is None else {
        "fit_s": round(graph.fit_seconds, 1), "mib": round(graph.nbytes / 2**20, 1),
        "enabled": snapshot.search.graph is not None, "settings": graph.settings}
    truths: dict = {}
    line.update(bench_queries(snapshot, filters, queries, chroma, args.chroma_queries, truths))
    if args.peers:
        from peers import peers_of, versus_peers

        line["peers"] = peers_of(snapshot, filters, queries, truths, K, args.peer_cache)
        line["versus_peers"] = versus_peers(line, list(SELECTIVITIES))
    if args.embed_texts:
        line.update(embedding_figures(settings, real, snapshot, args.embed_texts))
    line.update(host.figures())
    line["suite_s"] = round(time.perf_counter() - suite_began, 1)
    print(json.dumps(line), flush=True)
    if args.random:
        began = time.perf_counter()
        rnd = synthesise_vectors(real_matrix, len(matrix), np.random.default_rng(args.seed), random=True)
        snap = snapshot_of(titles, rnd)
        out = {"suite": f"random-{args.n}", "generator": "random-unit", "seed": args.seed, "n": len(rnd),
               "shortlist": snap.search.shortlist if snap.search.projection is not None else 0}
        out.update(bench_queries(snap, filters, queries[: max(50, args.queries // 4)]))
        out["suite_s"] = round(time.perf_counter() - began, 1)
        print(json.dumps(out), flush=True)
    if not args.keep and not args.skip_build:
        shutil.rmtree(args.workdir, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
