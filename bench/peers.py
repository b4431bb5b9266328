"""The libraries people would pick instead, as baselines for bench/similar.py: hnswlib, FAISS HNSW and FAISS flat.

Same vectors, same item queries, same filters (the seed excluded, as similar_titles does), one query
thread, k=20; recall@20 against exact numpy. HNSW M=32, efConstruction 80 (built on every core, then
cached on disk under --peer-cache keyed by the data, since a build takes minutes); hnswlib filters with
its `filter=` callback, FAISS with `IDSelectorBitmap`. The libraries are bench-only
(bench/requirements.txt, never the app's requirements.txt): when one is not installed its figures are
reported as skipped.
"""

from __future__ import annotations

import hashlib
import os
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np

HNSW_M = 32
HNSW_EF_CONSTRUCTION = 80
HNSWLIB_EF = (256,)
FAISS_EF = (256, 64)
SLOW_QUERY_S = 0.25
"""A peer whose first queries at a filter average more than this is reported as too slow there."""

Truth = Callable[[int, str], tuple[np.ndarray, Callable[[], np.ndarray]]]
"""(query number, selectivity name) -> (exact rows, a function building the keep mask with the seed
excluded: timed with each peer's query, as FlixRec's timing includes its mask)."""


def data_key(matrix: np.ndarray) -> str:
    """A short fingerprint of the vectors (shape and sampled rows), naming cached peer indexes."""
    digest = hashlib.blake2b(digest_size=8)
    digest.update(str(matrix.shape).encode())
    for row in np.linspace(0, len(matrix) - 1, 64).astype(int):
        digest.update(np.ascontiguousarray(matrix[row]).tobytes())
    return digest.hexdigest()


def _pct(values: list[float], q: float) -> float:
    return round(float(np.percentile(np.asarray(values) * 1e3, q)), 3) if values else float("nan")


def _measure(search: Callable[[np.ndarray, int, np.ndarray | None], np.ndarray], matrix: np.ndarray,
             queries: np.ndarray, selectivities: list[str], truth: Truth, k: int) -> dict:
    """p50/p95/recall@k of one peer's `search(vector, k, keep or None)` at every selectivity."""
    out: dict = {}
    for name in selectivities:
        times, recalls = [], []
        for n_query, row in enumerate(queries):
            exact, mask = truth(n_query, name)
            vector = np.ascontiguousarray(matrix[row], dtype=np.float32)
            began = time.perf_counter()
            found = search(vector, k, None if name == "none" else mask())
            if name == "none":
                found = found[found != row][:k]
            times.append(time.perf_counter() - began)
            recalls.append(len(set(found.tolist()) & set(exact.tolist())) / max(1, len(exact)))
            if n_query == 4 and float(np.mean(times)) > SLOW_QUERY_S:
                break
        if len(times) < len(queries):
            out[name] = {"skipped": f"too slow (> {SLOW_QUERY_S * 1e3:.0f} ms per query)", "queries": len(times),
                         "p50_ms": _pct(times, 50)}
        else:
            out[name] = {"p50_ms": _pct(times, 50), "p95_ms": _pct(times, 95),
                         "recall_at_20": round(float(np.mean(recalls)), 4)}
    return out


def hnswlib_figures(matrix: np.ndarray, queries, selectivities, truth: Truth, k: int, cache: Path) -> dict:
    """hnswlib HNSW (inner product), `filter=` callback, ef in HNSWLIB_EF."""
    try:
        import hnswlib
    except ImportError:
        return {f"hnswlib_ef{ef}": {"skipped": "hnswlib is not installed (pip install -r bench/requirements.txt)"}
                for ef in HNSWLIB_EF}
    n, d = matrix.shape
    path = cache / f"hnswlib-{data_key(matrix)}-M{HNSW_M}-efc{HNSW_EF_CONSTRUCTION}.bin"
    index = hnswlib.Index(space="ip", dim=d)
    began = time.perf_counter()
    if path.exists():
        index.load_index(str(path), max_elements=n)
        build = None
    else:
        index.init_index(max_elements=n, ef_construction=HNSW_EF_CONSTRUCTION, M=HNSW_M)
        index.add_items(np.asarray(matrix, dtype=np.float32), np.arange(n), num_threads=os.cpu_count() or 1)
        build = round(time.perf_counter() - began, 1)
        cache.mkdir(parents=True, exist_ok=True)
        index.save_index(str(path))
    index.set_num_threads(1)
    out: dict = {}
    for ef in HNSWLIB_EF:
        index.set_ef(ef)

        def search(vector, count, keep):
            try:
                if keep is None:
                    labels, _ = index.knn_query(vector, count + 1, num_threads=1)
                else:
                    labels, _ = index.knn_query(vector, count, num_threads=1, filter=lambda label: bool(keep[label]))
            except RuntimeError:  # fewer than `count` found under the filter
                return np.zeros(0, dtype=np.int64)
            return labels[0].astype(np.int64)

        out[f"hnswlib_ef{ef}"] = {"build_s": build, **_measure(search, matrix, queries, selectivities, truth, k)}
    return out


def faiss_figures(matrix: np.ndarray, queries, selectivities, truth: Truth, k: int, cache: Path) -> dict:
    """FAISS HNSW (IndexHNSWFlat, inner product) at ef in FAISS_EF and FAISS flat (exact), `IDSelectorBitmap`."""
    try:
        import faiss
    except ImportError:
        skipped = {"skipped": "faiss-cpu is not installed (pip install -r bench/requirements.txt)"}
        return {**{f"faiss_hnsw_ef{ef}": skipped for ef in FAISS_EF}, "faiss_flat": skipped}
    n, d = matrix.shape
    data = np.ascontiguousarray(matrix, dtype=np.float32)
    path = cache / f"faiss-hnsw-{data_key(matrix)}-M{HNSW_M}-efc{HNSW_EF_CONSTRUCTION}.index"
    faiss.omp_set_num_threads(os.cpu_count() or 1)
    build = None
    if path.exists():
        hnsw = faiss.read_index(str(path))
    else:
        began = time.perf_counter()
        hnsw = faiss.IndexHNSWFlat(d, HNSW_M, faiss.METRIC_INNER_PRODUCT)
        hnsw.hnsw.efConstruction = HNSW_EF_CONSTRUCTION
        hnsw.add(data)
        build = round(time.perf_counter() - began, 1)
        cache.mkdir(parents=True, exist_ok=True)
        faiss.write_index(hnsw, str(path))
    flat = faiss.IndexFlatIP(d)
    flat.add(data)
    faiss.omp_set_num_threads(1)

    def searcher(index, params_for: Callable[[object], object]):
        def search(vector, count, keep):
            selector = bitmap = None
            if keep is not None:  # the selector only points at the bitmap: keep it alive through the search
                bitmap = np.packbits(keep, bitorder="little")
                selector = faiss.IDSelectorBitmap(n, faiss.swig_ptr(bitmap))
            _, labels = index.search(vector[None, :], count + (keep is None), params=params_for(selector))
            del bitmap
            labels = labels[0]
            return labels[labels >= 0].astype(np.int64)
        return search

    out: dict = {}
    for ef in FAISS_EF:
        search = searcher(hnsw, lambda selector, ef=ef: faiss.SearchParametersHNSW(efSearch=ef, sel=selector))
        out[f"faiss_hnsw_ef{ef}"] = {"build_s": build, **_measure(search, matrix, queries, selectivities, truth, k)}
    search = searcher(flat, lambda selector: faiss.SearchParameters(sel=selector) if selector is not None else None)
    out["faiss_flat"] = _measure(search, matrix, queries, selectivities, truth, k)
    return out


def peer_figures(matrix: np.ndarray, queries: np.ndarray, selectivities: list[str], truth: Truth, k: int,
                 cache: Path) -> dict:
    """Every peer's figures: {peer: {selectivity: {p50_ms, p95_ms, recall_at_20}}} (or {"skipped": why})."""
    return {**hnswlib_figures(matrix, queries, selectivities, truth, k, cache),
            **faiss_figures(matrix, queries, selectivities, truth, k, cache)}


def peers_of(snapshot, filters: dict, queries: np.ndarray, truths: dict, k: int, cache: Path) -> dict:
    """The peers' figures on a snapshot's vectors, with bench/similar.py's queries, filters and exact rows."""

    def truth(n_query: int, name: str):
        def mask() -> np.ndarray:
            keep = snapshot.mask(filters[name])
            keep[queries[n_query]] = False
            return keep
        return truths[name][n_query], mask

    return peer_figures(snapshot.matrix, queries, list(filters), truth, k, cache)


def versus_peers(line: dict, selectivities: list[str]) -> dict:
    """Per selectivity: FlixRec's p50 and recall next to the fastest peer reaching recall@20 >= 0.99
    (numpy exact, the line's `exact_<sel>`, among them) and the fastest peer at any recall."""
    out = {}
    for name in selectivities:
        ours = line[f"similar_{name}"]
        candidates = {"numpy_exact": {"p50_ms": line[f"exact_{name}"]["p50_ms"], "recall_at_20": 1.0}}
        candidates.update({peer: figures[name] for peer, figures in line["peers"].items() if name in figures})
        good = {peer: f for peer, f in candidates.items() if f.get("recall_at_20", 0) >= 0.99}
        best = min(good, key=lambda peer: good[peer]["p50_ms"])
        fastest = min((p for p in candidates if "recall_at_20" in candidates[p]), key=lambda p: candidates[p]["p50_ms"])
        out[name] = {"flixrec_p50_ms": ours["p50_ms"], "flixrec_recall": ours["recall_at_20"],
                     "best_peer_at_0.99": best, "best_peer_p50_ms": good[best]["p50_ms"],
                     "best_peer_recall": good[best]["recall_at_20"],
                     "fastest_peer": fastest, "fastest_peer_p50_ms": candidates[fastest]["p50_ms"],
                     "fastest_peer_recall": candidates[fastest]["recall_at_20"],
                     "ahead_at_0.99": ours["p50_ms"] <= good[best]["p50_ms"] and ours["recall_at_20"] >= 0.995}
    return out
