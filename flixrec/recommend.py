"""Similar titles: exact cosine ranking under filters, the seed never returned, franchise kept apart."""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence

import numpy as np

from flixrec.catalog import Catalog
from flixrec.errors import IndexNotBuilt, TitleNotFound
from flixrec.index.snapshot import IndexSnapshot
from flixrec.models import Filters, Recommendation, Title
from flixrec.search import normalise_name

FRANCHISE_WINDOW = 200
"""Franchise entries are looked for among this many nearest titles (sequels embed close together)."""
AVOID_WEIGHT = 0.5
"""How strongly a title's closeness to an avoided title lowers its multi-seed score (see recommend_for)."""

_SEQUEL_SUFFIX = re.compile(
    r"(\s*(\(\d{4}\)|\d+|[ivx]+|part\.?\s*\w+|chapter\s+\w+|vol(ume)?\.?\s*\w+|season\s+\w+|"
    r"oad|ova|oav|sp|specials?|the movie|movie|第.+[季部章]))+$"
)
_FILM_PREFIX = re.compile(r"^(剧场版|劇場版|映画|电影版|the movie)\s*")


def franchise_key(name: str) -> str:
    """The base of a title's name: no leading article, subtitle after ':' or ' - ', or sequel number."""
    key = _FILM_PREFIX.sub("", normalise_name(name))
    key = re.split(r"\s*[:：]\s*|\s+-\s+", key, maxsplit=1)[0]
    key = re.sub(r"^(the|a|an)\s+", "", key)
    key = _SEQUEL_SUFFIX.sub("", key).strip()
    return key


def same_franchise(a: Title, b: Title) -> bool:
    """Whether two titles look like entries of one franchise (or share a name): Toy Story 2, Batman Returns.

    Names, original names and aliases count (an anime film's alias is often its series' name), and so
    does a keyword naming the other's franchise ("batman" on The Dark Knight) when the two share much
    of their other keywords too (so the keyword "alien" does not make Independence Day an Alien film).
    """
    keys_a = _franchise_keys(a)
    keys_b = _franchise_keys(b)
    if any(_extends(ka, kb) for ka in keys_a for kb in keys_b):
        return True
    words_a, words_b = set(a.keywords), set(b.keywords)
    for words, keys in ((words_a, keys_b), (words_b, keys_a)):
        for word in words:
            if any(_extends(word, key) for key in keys):
                shared = (words_a & words_b) - {word}
                if len(shared) >= 4 and len(shared) >= 0.3 * min(len(words_a), len(words_b)):
                    return True
    return False


def _extends(x: str, y: str) -> bool:
    """One key is the other (or its plural), or the other followed by more words ("batman" / "batman returns")."""
    short, long_ = sorted((x, y), key=len)
    return len(short) >= 3 and (short == long_ or long_ == short + "s" or long_.startswith(short + " "))


def _franchise_keys(title: Title) -> set[str]:
    names = (title.title, title.original_title, *title.aliases[:8])
    return {franchise_key(n) for n in names if n} - {""}


class Recommender:
    """Similar titles from an index snapshot, with the catalogue for the titles' details."""

    def __init__(self, catalog: Catalog, snapshot: IndexSnapshot, encode_query: Callable[[str], np.ndarray] | None = None):
        self.catalog = catalog
        self.snapshot = snapshot
        self._encode_query = encode_query

    def _seed_vector(self, title_id: str) -> tuple[Title, np.ndarray]:
        seed = self.catalog.get_title(title_id)  # raises TitleNotFound
        vector = self.snapshot.vector(title_id)
        if vector is None:
            raise IndexNotBuilt(f"{seed.label()} is in the catalogue but not in the index yet; run: python -m ingest embed")
        return seed, vector

    def similar_titles(self, title_id: str, k: int = 20, filters: Filters | None = None, separate_franchise: bool = True) -> list[Recommendation]:
        """The k titles most similar to `title_id` that pass `filters`, best first; never the title itself.

        Exactly k come back whenever k titles pass. With `separate_franchise`, entries of the seed's own
        franchise (see `franchise_titles`) are left out so they do not crowd out the discoveries.
        Raises TitleNotFound for an unknown id.
        """
        seed, vector = self._seed_vector(title_id)
        keep = self.snapshot.mask(filters)
        row = self.snapshot.position(title_id)
        keep[row] = False
        fetch = k + (16 if separate_franchise else 0)
        while True:
            hits = self.snapshot.nearest(vector, fetch, keep, item=True)
            if separate_franchise:
                titles = self.catalog.find_titles([tid for tid, _ in hits], with_people=False)
                hits = [(tid, s) for tid, s in hits if tid in titles and not same_franchise(seed, titles[tid])]
            else:
                titles = None
            if len(hits) >= k or fetch >= int(keep.sum()):
                break
            fetch *= 4
        return self._recommendations(hits[:k], titles)

    def franchise_titles(self, title_id: str, k: int = 10) -> list[Recommendation]:
        """Sequels, prequels and same-name titles of `title_id` among its nearest titles, best first."""
        seed, vector = self._seed_vector(title_id)
        keep = np.ones(len(self.snapshot), dtype=bool)
        keep[self.snapshot.position(title_id)] = False
        hits = self.snapshot.nearest(vector, FRANCHISE_WINDOW, keep, item=True)
        titles = self.catalog.find_titles([tid for tid, _ in hits], with_people=False)
        hits = [(tid, s) for tid, s in hits if tid in titles and same_franchise(seed, titles[tid])]
        return self._recommendations(hits[:k], titles)

    def similar_to_text(self, text: str, k: int = 20, filters: Filters | None = None) -> list[Recommendation]:
        """The k titles closest to a free-text description (any language the model reads)."""
        if self._encode_query is None:
            raise RuntimeError("free-text search needs encode_query: this Recommender was built without one")
        if not text or not text.strip():
            return []
        vector = self._encode_query(text.strip()[:2000])
        hits = self.snapshot.nearest(vector, k, self.snapshot.mask(filters))
        return self._recommendations(hits, None)

    def recommend_for(self, seeds: Sequence[str], avoid: Sequence[str] = (), k: int = 20,
                      filters: Filters | None = None) -> list[Recommendation]:
        """The k titles closest to several seeds together, steered away from `avoid`; never a seed or an avoided title.

        Each seed's nearest titles under the filters are the candidates; a candidate's score is its mean
        similarity to the seeds minus AVOID_WEIGHT times its highest similarity to an avoided title, clipped
        to [0, 1]. Exactly min(k, passing titles) come back. Raises TitleNotFound for an unknown seed or
        avoided id; an avoided title that is not indexed yet is only left out.
        """
        seeds = list(dict.fromkeys(seeds))
        if not seeds or k <= 0:
            return []
        seed_vectors = np.stack([self._seed_vector(title_id)[1] for title_id in seeds])
        avoid = [title_id for title_id in dict.fromkeys(avoid) if title_id not in seeds]
        known_avoided = self.catalog.find_titles(avoid, with_people=False)
        if missing := [title_id for title_id in avoid if title_id not in known_avoided]:
            raise TitleNotFound(missing[0])
        avoid_rows = [row for row in map(self.snapshot.position, avoid) if row is not None]
        keep = self.snapshot.mask(filters)
        keep[[self.snapshot.position(title_id) for title_id in seeds] + avoid_rows] = False
        per_seed = 2 * k + 10  # room for the avoid penalty to reorder
        pool = list(dict.fromkeys(tid for vector in seed_vectors
                                  for tid, _ in self.snapshot.nearest(vector, per_seed, keep, item=True)))
        if not pool:
            return []
        candidates = np.asarray(self.snapshot.matrix[[self.snapshot.position(tid) for tid in pool]], dtype=np.float32)
        scores = (candidates @ seed_vectors.T).mean(axis=1)
        if avoid_rows:
            avoided = np.asarray(self.snapshot.matrix[avoid_rows], dtype=np.float32)
            scores -= AVOID_WEIGHT * (candidates @ avoided.T).max(axis=1)
        scores = np.clip(scores, 0.0, 1.0)
        ranked = sorted(zip(pool, scores.tolist()), key=lambda hit: (-hit[1], hit[0]))
        return self._recommendations(ranked[:k], None)

    def score_distribution(self, title_id: str) -> np.ndarray:
        """Similarity of every other indexed title to this one (to see how far the top-k stands out)."""
        _, vector = self._seed_vector(title_id)
        scores = self.snapshot.scores_against(vector)
        return np.delete(scores, self.snapshot.position(title_id))

    def _recommendations(self, hits: list[tuple[str, float]], titles: dict[str, Title] | None) -> list[Recommendation]:
        if titles is None:
            titles = self.catalog.find_titles([tid for tid, _ in hits], with_people=False)
        return [
            Recommendation(titles[tid], round(score, 6), rank)
            for rank, (tid, score) in enumerate(((t, s) for t, s in hits if t in titles), start=1)
        ]
