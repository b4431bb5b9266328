"""Which embedding backend: neighbour quality and speed of each model on the TMDB-5000 movies, one JSON line.

bench/quality.py judges the ranking itself; this bench chose the default model.

For every backend (default: the multilingual USE and the packaged all-MiniLM-L6-v2):
- embed_titles_per_s: throughput embedding the TMDB-5000 texts (`title: overview - tagline Genres: ...`);
- genre_jaccard_at_10: mean genre Jaccard between a movie and its 10 most similar movies (exact cosine),
  next to random_genre_jaccard, the same for 10 random movies;
- director_overlap_at_10 / keyword_jaccard_at_10: share of the top 10 with a director in common with the
  seed, and their mean keyword Jaccard (each with its random baseline);
- cross_lingual_top1 / top5: hand-written German, Spanish, French, Chinese and Japanese descriptions of
  well-known films (below, our own words): how often the film is the first / among the first five hits
  among all 4,803 movies.

Usage: python bench/backends.py [--models use-multilingual all-MiniLM-L6-v2] [--seeds 500]
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
from flixrec.embedding import embedding_texts, load_embedder  # noqa: E402
from ingest.demo import fetch_tmdb, load_tmdb  # noqa: E402

TRANSLATED = [(d["language"], d["title"], d["description"])
              for d in json.loads((Path(__file__).resolve().parent / "data" / "translated_descriptions.json").read_text())]
"""Descriptions of well-known films in German, Spanish, French, Chinese and Japanese (our own words)."""


def jaccard(a: set, b: set) -> float:
    """|a ∩ b| / |a ∪ b| (0 for two empty sets)."""
    return len(a & b) / len(a | b) if a | b else 0.0


def evaluate(model: str, titles, seeds: list[int], rng_seed: int = 11) -> dict:
    """Speed and quality figures of one backend."""
    embedder = load_embedder(model)
    texts = embedding_texts(titles, embedder)
    embedder.encode(texts[:32])  # warm-up (lazy weights, thread pools)
    began = time.perf_counter()
    matrix = embedder.encode(texts)
    seconds = time.perf_counter() - began
    genres = [set(t.genres) for t in titles]
    keywords = [set(t.keywords) for t in titles]
    directors = [set(t.directors) for t in titles]
    rng = random.Random(rng_seed)
    sims = {"genre": [], "keyword": [], "director": []}
    rand = {"genre": [], "keyword": [], "director": []}
    for seed in seeds:
        scores = matrix @ matrix[seed]
        scores[seed] = -np.inf
        top = np.argpartition(-scores, 10)[:10]
        others = rng.sample([i for i in range(len(titles)) if i != seed], 10)
        for bucket, rows in ((sims, top), (rand, others)):
            for row in rows:
                bucket["genre"].append(jaccard(genres[seed], genres[row]))
                bucket["keyword"].append(jaccard(keywords[seed], keywords[row]))
                bucket["director"].append(1.0 if directors[seed] & directors[row] else 0.0)
    by_title = {t.title: i for i, t in enumerate(titles)}
    queries = embedder.encode([text for _, _, text in TRANSLATED])
    ranks = []
    for (_, name, _), vector in zip(TRANSLATED, queries):
        order = np.argsort(-(matrix @ vector))
        ranks.append(int(np.flatnonzero(order == by_title[name])[0]) + 1)
    return {
        "model": model,
        "dimension": int(matrix.shape[1]),
        "titles": len(titles),
        "embed_titles_per_s": round(len(titles) / seconds, 1),
        "genre_jaccard_at_10": round(float(np.mean(sims["genre"])), 4),
        "random_genre_jaccard": round(float(np.mean(rand["genre"])), 4),
        "keyword_jaccard_at_10": round(float(np.mean(sims["keyword"])), 4),
        "random_keyword_jaccard": round(float(np.mean(rand["keyword"])), 4),
        "director_overlap_at_10": round(float(np.mean(sims["director"])), 4),
        "random_director_overlap": round(float(np.mean(rand["director"])), 4),
        "cross_lingual_top1": round(sum(r == 1 for r in ranks) / len(ranks), 3),
        "cross_lingual_top5": round(sum(r <= 5 for r in ranks) / len(ranks), 3),
        "cross_lingual_queries": len(ranks),
    }


def main() -> None:
    """Run every backend on the TMDB-5000 movies and print one JSON line."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--models", nargs="+", default=["use-multilingual", "all-MiniLM-L6-v2"])
    parser.add_argument("--seeds", type=int, default=500, help="movies whose neighbours are scored")
    args = parser.parse_args()
    settings = Settings.from_env()
    titles = load_tmdb(fetch_tmdb(settings.downloads_dir)).titles
    seeds = random.Random(7).sample(range(len(titles)), args.seeds)
    results = [evaluate(model, titles, seeds) for model in args.models]
    print(json.dumps({"bench": "backends", "catalogue": "tmdb5000", "seeds": args.seeds, "backends": results}))


if __name__ == "__main__":
    main()
