"""Scaling out: the same catalogue built locally and on real servers (Chroma `chroma run` + PostgreSQL), one JSON line.

Data: bench/similar.py's seeded "perturbed-real-v1" catalogue (the demo home's titles and vectors plus
synthetic ones around them) at --n titles; vectors are precomputed, so build figures exclude embedding.
Both servers are started on 127.0.0.1 for the run (tests/pg_server.py, tests/chroma_server.py).

Figures, for "local" (SQLite file + Chroma directory) and "server" (Postgres + Chroma server):
- catalog_load_s: upserting every title into the catalogue;
- build_s, vectors_per_s: build_index writing the vectors (and ledger, snapshot) to Chroma, the ingest
  throughput to the store;
- ready_s: a replica on a fresh host (its own empty FLIXREC_HOME) from nothing to its first answer: for
  "server" it reads every vector from the Chroma server and keeps the snapshot; ready_cached_s: a
  restarted replica with that snapshot on disk;
- query_p50_ms / query_p95_ms: FlixRec.similar_titles (k=20) through the snapshot, single-threaded.

Usage: python bench/scale_out.py [--n 50000] [--queries 200] [--seed 7]   (needs the demo home: make demo)
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import sys
import tempfile
import time
from pathlib import Path

os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")
os.environ.setdefault("ANONYMIZED_TELEMETRY", "False")
ROOT = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(ROOT), str(ROOT / "tests"), str(ROOT / "bench")]

import numpy as np  # noqa: E402
from similar import (  # noqa: E402
    K,
    load_real,
    pct,
    precomputed_embedder,
    synthesise_metadata,
    synthesise_vectors,
    synthetic_titles,
)

from flixrec.catalog import Catalog  # noqa: E402
from flixrec.config import Settings  # noqa: E402
from flixrec.index import IndexLocation, VectorIndex  # noqa: E402
from flixrec.service import FlixRec  # noqa: E402


def build_and_serve(env: dict[str, str], work: Path, titles, matrix: np.ndarray, query_ids: list[str]) -> dict:
    """Load, build, start a fresh replica and a restarted one, and query it; the figures of one backend."""
    from ingest.embed import build_index

    writer = Settings.from_mapping({"FLIXREC_HOME": str(work / "writer"), "FLIXREC_MODEL": "use-multilingual", **env})
    out: dict = {}
    began = time.perf_counter()
    catalog = Catalog.open(writer.database_url)
    for start in range(0, len(titles), 5000):
        catalog.upsert_titles(titles[start : start + 5000])
    out["catalog_load_s"] = round(time.perf_counter() - began, 1)
    embedder = precomputed_embedder(catalog, titles, matrix)
    index = VectorIndex.open(IndexLocation.from_settings(writer), writer.model, dimension=matrix.shape[1], create=True)
    began = time.perf_counter()
    summary = build_index(catalog, index, embedder)
    out["titles"] = catalog.count()
    seconds = time.perf_counter() - began - summary.seconds_embedding
    out["build_s"], out["vectors_per_s"] = round(seconds, 1), round(summary.embedded / max(seconds, 1e-9))

    replica_env = {**env, "FLIXREC_HOME": str(work / "replica"), "FLIXREC_MODEL": "use-multilingual"}
    if "FLIXREC_CHROMA_URL" not in env:  # a local index is only readable where its directory is
        replica_env.update(FLIXREC_INDEX_DIR=str(writer.index_dir), FLIXREC_DATABASE_URL=writer.database_url)
    for label in ("ready_s", "ready_cached_s"):
        began = time.perf_counter()
        replica = FlixRec(Settings.from_mapping(replica_env))
        replica.ready()
        replica.similar_titles(query_ids[0], K)
        out[label] = round(time.perf_counter() - began, 2)
    times = []
    for title_id in query_ids:
        began = time.perf_counter()
        replica.similar_titles(title_id, K)
        times.append(time.perf_counter() - began)
    out["query_p50_ms"], out["query_p95_ms"] = round(pct(times, 50), 2), round(pct(times, 95), 2)
    return out


def main(argv: list[str] | None = None) -> int:
    """Generate the catalogue, run both backends, print one JSON line."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=50_000)
    parser.add_argument("--queries", type=int, default=200)
    parser.add_argument("--seed", type=int, default=7)
    args = parser.parse_args(argv)
    import chroma_server
    import pg_server

    real, real_matrix = load_real(Settings.from_env())
    rng = np.random.default_rng(args.seed)
    n_extra = max(0, args.n - len(real))
    matrix = np.concatenate([real_matrix, synthesise_vectors(real_matrix, n_extra, rng)])[: args.n]
    titles = synthetic_titles(real, n_extra, synthesise_metadata(len(matrix), rng), rng)[: args.n]
    query_ids = [titles[int(r)].title_id for r in rng.choice(len(titles), size=args.queries, replace=False)]
    line: dict = {"bench": "scale_out", "n": len(titles), "queries": len(query_ids), "cpus": os.cpu_count()}
    work = Path(tempfile.mkdtemp(prefix="flixrec-scale-"))
    try:
        line["local"] = build_and_serve({}, work / "local", titles, matrix, query_ids)
        with pg_server.running_postgres() as database_url, chroma_server.running_chroma() as chroma:
            env = {"FLIXREC_DATABASE_URL": database_url, "FLIXREC_CHROMA_URL": chroma.url}
            line["server"] = build_and_serve(env, work / "server", titles, matrix, query_ids)
    finally:
        shutil.rmtree(work, ignore_errors=True)
    print(json.dumps(line), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
