"""What each title brings to the blend on its own: keyword features (a keyword and its stemmed words),
what each credit behind the camera counts, TF-IDF vectors of such features, how widely seen it is (vote
rank, or user tags without votes), and the overview sentence a reason quotes. flixrec.ranking combines
them per seed and candidate."""

from __future__ import annotations

import functools
import re
from collections.abc import Iterable

import numpy as np
import scipy.sparse as sp

from flixrec.franchise_names import STOP_WORDS, normalise_name
from flixrec.models import MUSIC_JOBS, Person, Title
from flixrec.sparse_rows import sorted_csr

KEYWORD_WORD_WEIGHT = 0.5
"""What a keyword's single (stemmed) words count, next to the whole keyword's 1."""
COMMON_FEATURE_SHARE = 0.05
"""A keyword or person on more than this share of titles tells nothing ("based on novel")."""
CREW_ROLE_WEIGHTS = {"director": 1.0, "creator": 1.0, "writer": 1.0, "episode director": 0.7}
CREW_JOB_WEIGHTS = {"Original Music Composer": 1.0, "Music": 1.0, "Director of Photography": 0.7, "Editor": 0.7,
                    "Production Design": 0.7, "Producer": 0.5, "Executive Producer": 0.3}
"""What a shared credit counts in the crew signal: the story's authors fully, the composer too, those who
shape the look a little less, producers (whose films range widest) least. Measured in docs/ranking.md."""
_WORD = re.compile(r"[^\W\d_]{4,}", re.UNICODE)
_KEYWORD_WORD = re.compile(r"[^\W\d_]{3,}", re.UNICODE)
WORD_FEATURE_PREFIX = "~"
"""Marks a keyword's single-word feature (never shown as a shared theme)."""
_SUFFIXES = ("ations", "ation", "ings", "ing", "ies", "es", "ed", "ic", "s")
_STORY_STOP = frozenset(
    "that this with from they their them when where while which what into after before about over only "
    "have has been were will would could should must also then than there these those your young life "
    "world find finds must help year years time man woman story film takes becomes begins".split()
)


def tfidf_matrix(rows: list[int], features: list[str], n: int,
                 values: list[float] | None = None) -> tuple[sp.csr_matrix, list[str]]:
    """Unit-row TF-IDF matrix of (row, feature[, value]) entries (value 1 by default, a feature listed
    twice on a row counts once), each row's columns in order (flixrec.sparse_rows); features on too many
    titles weigh nothing."""
    vocabulary: dict[str, int] = {}
    cols = [vocabulary.setdefault(f, len(vocabulary)) for f in features]
    if values is None:
        matrix = sp.csr_matrix((np.ones(len(rows), dtype=np.float32), (rows, cols)), shape=(n, len(vocabulary)),
                               dtype=np.float32)
        matrix.data[:] = 1.0
    else:
        matrix = sp.csr_matrix((np.asarray(values, dtype=np.float32), (rows, cols)), shape=(n, len(vocabulary)),
                               dtype=np.float32)
    df = np.asarray((matrix > 0).sum(axis=0)).ravel()
    idf = np.log(max(n, 1) / np.maximum(df, 1)).astype(np.float32)
    idf[df > max(10, COMMON_FEATURE_SHARE * n)] = 0.0
    matrix = sp.csr_matrix(matrix @ sp.diags(idf))
    norms = np.sqrt(np.asarray(matrix.multiply(matrix).sum(axis=1)).ravel())
    norms[norms == 0] = 1.0
    return sorted_csr(sp.diags(1.0 / norms) @ matrix), list(vocabulary)


def crew_weight(person: Person) -> float:
    """What this credit counts in the crew signal (0 for cast and for jobs outside CREW_JOB_WEIGHTS)."""
    if person.role == "crew":
        return CREW_JOB_WEIGHTS.get(person.job or "", 0.0)
    return CREW_ROLE_WEIGHTS.get(person.role, 0.0)


JOB_LABELS = dict.fromkeys(MUSIC_JOBS, "music") | {
    "Director of Photography": "cinematography", "Editor": "editing", "Production Design": "production design",
    "Producer": "producer", "Executive Producer": "executive producer"}
CREW_LABELS = ("crew", *CREW_ROLE_WEIGHTS, *dict.fromkeys(JOB_LABELS.values()))
"""Every credit's job in a few words, as a reason says it ("music", "writer")."""


def crew_label(person: Person) -> str:
    """A credit's job in a few words for a reason (one of CREW_LABELS): "music", "writer", "director"."""
    if person.role == "crew":
        return JOB_LABELS.get(person.job or "", "crew")
    return person.role if person.role in CREW_ROLE_WEIGHTS else "crew"


def keyword_features(keywords: Iterable[str]) -> dict[str, float]:
    """A title's keyword features: each keyword (1) and each of its stemmed words (KEYWORD_WORD_WEIGHT)."""
    features: dict[str, float] = {}
    for keyword in keywords:
        keyword = normalise_name(keyword)
        if not keyword:
            continue
        features[keyword] = 1.0
        for word in _KEYWORD_WORD.findall(keyword):
            if word not in _STORY_STOP and word not in STOP_WORDS:
                key = WORD_FEATURE_PREFIX + _stem(word)
                features[key] = max(features.get(key, 0.0), KEYWORD_WORD_WEIGHT)
    return features


def _stem(word: str) -> str:
    """A crude English stem ("invasions" -> "invas", "volcanic" -> "volcan"): enough to match a keyword's words."""
    for suffix in _SUFFIXES:
        if len(word) > len(suffix) + 3 and word.endswith(suffix):
            return word[: -len(suffix)]
    return word


def vote_rank(votes: np.ndarray) -> np.ndarray:
    """Each title's vote count as its mid-rank share of the known counts, in [0, 1]; unknown counts 0.5
    (neither widely nor rarely seen: anime records carry no votes)."""
    known = np.sort(votes[~np.isnan(votes)])
    out = np.full(len(votes), 0.5, dtype=np.float32)
    if len(known):
        has = ~np.isnan(votes)
        below = np.searchsorted(known, votes[has], "left")
        upto = np.searchsorted(known, votes[has], "right")
        out[has] = (below + upto) / (2.0 * len(known))
    return out


def prominence(votes: np.ndarray, tag_counts: np.ndarray) -> np.ndarray:
    """How widely seen each title is, in [0, 1]: its vote count's mid-rank share among the titles with
    votes; a title without votes (every anime record) gets its keyword count's share among the titles
    without, because user tags (bgm.tv's) accumulate with the audience: a widely watched show carries
    the most, an obscure one few or none."""
    out = vote_rank(votes)
    unknown = np.isnan(votes)
    if unknown.any():
        out[unknown] = vote_rank(np.asarray(tag_counts, dtype=np.float64)[unknown])
    return out


def story_line(seed: Title, title: Title, limit: int = 160) -> str | None:
    """The sentence of `title`'s overview that shares the most telling words with the seed's story."""
    wanted = _seed_story_words(" ".join(filter(None, (seed.overview, seed.tagline, " ".join(seed.keywords)))))
    if not wanted or not title.overview:
        return None
    best, best_hits = None, 0
    for sentence in re.split(r"(?<=[.!?。！？])\s*", title.overview):
        hits = len(_story_words(sentence) & wanted)
        if hits > best_hits:
            best, best_hits = sentence.strip(), hits
    if best is None or best_hits < 2:
        return None
    return best if len(best) <= limit else best[: limit - 1].rsplit(" ", 1)[0] + "…"


@functools.lru_cache(maxsize=256)
def _seed_story_words(text: str) -> frozenset[str]:
    """A seed's story words, computed once for all of its candidates (the same text for each)."""
    return frozenset(_story_words(text))


def _story_words(text: str) -> set[str]:
    words = {w.casefold() for w in _WORD.findall(text)}
    return {w.rstrip("s") for w in words if w not in _STORY_STOP}
