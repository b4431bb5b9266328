"""The blended similarity behind "similar titles": text, keywords, people, genres, era and popularity.

The title vectors (overview, tagline, genres and keywords embedded together) find the candidates; so
do shared rare keywords and shared people, so that a title worded differently but sharing a director
and a rare theme is still reachable. Each candidate is then scored by a weighted sum of
- text: cosine of the title vectors, less CROWD_PENALTY times how crowded the candidate's own spot
  is (see `TitleFeatures.crowding`): a title close to everything in the seed's neighbourhood (a hub)
  says less by being close to the seed than one close to the seed alone;
- keywords: cosine of TF-IDF keyword vectors (a rare theme counts more than "based on novel"); a
  keyword also counts its words at title_signals.KEYWORD_WORD_WEIGHT, so "alien invasion" meets "alien"
  and "invasion";
- directors, cast: cosine of TF-IDF vectors of directors and of the six leading actors;
- crew: cosine of TF-IDF vectors of everyone credited behind the camera (directors, creators, writers,
  composer, cinematographer, editor, production designer, producers), each credit counted as
  title_signals.CREW_JOB_WEIGHTS says: the same team often makes films that feel alike;
- genres: Jaccard of the genre sets;
- era: closeness of the release years (exp(-|Δyear| / ERA_YEARS));
- popularity: closeness of the vote counts on a log scale;
- agreement: how alike the candidate and the seed see the seed's neighbourhood (the correlation of
  their cosines to its CROWD_NEIGHBOURS nearest titles, below 0 counted as 0): a second-order
  similarity that lifts a title sharing the seed's surroundings even when its own cosine is modest
  (it reuses the crowding's dot products, so it costs little);
- prominence: how widely seen the candidate is (its vote count's rank among the catalogue's, or for a
  title without votes its count of user tags, see `title_signals.prominence`): among titles about as
  close, the one people know is the better suggestion,
divided by what the seed scores against itself, so a score is in [0, 1]; then another franchise's entries
among the best take their places in release order, and those after its first OTHER_FRANCHISE_ENTRIES wait
until every other candidate is listed (`TitleFeatures.first_films_first`). The default weights and the
constants below were chosen on the development sets in bench/data/ by bench/quality.py (docs/ranking.md);
every weight is a setting. RankingWeights.text_only() keeps the plain cosine (no crowding correction).
"""

from __future__ import annotations

import math
import threading
from collections.abc import Iterable

import numpy as np
import scipy.sparse as sp

from flixrec.franchise import WEAK_TEXT_SIMILARITY, FranchiseIndex, FranchiseRecord, cosine_between, franchise_record
from flixrec.franchise_links import KnownLinks
from flixrec.index.snapshot import IndexSnapshot
from flixrec.models import RankingWeights, Reason, Title
from flixrec.sparse_rows import row_dots, row_entries
from flixrec.title_signals import (
    CREW_LABELS, WORD_FEATURE_PREFIX, crew_label, crew_weight, keyword_features, prominence, story_line, tfidf_matrix,
)

LEADING_CAST = 6
ERA_YEARS = 5.0
"""Release years this far apart keep 1/e of the era signal."""
CROWD_K = 10
"""A title's crowding: the mean cosine of its CROWD_K closest titles in the seed's neighbourhood."""
CROWD_PENALTY = 0.5
"""How much a candidate's crowding (above the neighbourhood's mean) lowers its text signal."""
VECTOR_CANDIDATES = 200
CROWD_NEIGHBOURS = VECTOR_CANDIDATES
"""The seed's neighbourhood, in which crowding is measured: its nearest titles by the title vectors (no more
than a similar-titles search fetches, so that search can hand them over)."""
DISTRIBUTION_CROWDED = 2000
"""A score distribution over every title measures crowding for this many best titles only (see distribution)."""
FRANCHISE_CACHE = 4096
KNOWN_LINKS = 500_000
"""Franchise links of titles kept for the next franchise asked (see FranchiseIndex.franchise): ~40 MB at most."""
FIRST_FILM_RANKS = 40
"""How many of a ranking's best places `first_films_first` checks for entries of one franchise."""
OTHER_FRANCHISE_ENTRIES = 2
"""How many entries of another franchise a row lists before every other candidate: one franchise must not
fill a row (its other entries are in its own franchise row)."""
SHARED_CANDIDATES = 400
BLEND_SIGNALS = ("keywords", "directors", "cast", "crew", "genres", "era", "popularity", "agreement", "prominence")
"""The signals besides the text; with all of them off the ranking is the plain cosine (the index's contract)."""
MATCH_LABELS = ((0.5, "Very similar"), (0.35, "Similar"), (0.0, "Related"))
"""Labels for a score, best first (thresholds from the score distribution on the demo catalogue)."""


def match_label(score: float) -> str:
    """A word for a score: 'Very similar', 'Similar' or 'Related'."""
    return next(label for threshold, label in MATCH_LABELS if score >= threshold)


FEATURE_FIELDS = ("media_type", "title", "original_title", "aliases", "keywords", "source", "tmdb_id")
"""The fields of a Title (besides its id and people) that TitleFeatures and franchise_record read: all the
catalogue is asked for when the features are built."""


class TitleFeatures:
    """Keyword and people vectors, names and franchise indexes of every indexed title, row-aligned with a snapshot.

    `titles` need only FEATURE_FIELDS and their people (Catalog.iter_titles(fields=FEATURE_FIELDS)).
    """

    def __init__(self, snapshot: IndexSnapshot, titles: Iterable[Title]):
        self.snapshot = snapshot
        n = len(snapshot)
        keyword_rows: list[int] = []
        keywords: list[str] = []
        keyword_values: list[float] = []
        director_rows: list[int] = []
        directors: list[str] = []
        cast_rows: list[int] = []
        cast: list[str] = []
        crew_rows: list[int] = []
        crew: list[str] = []
        crew_values: list[float] = []
        crew_jobs: list[int] = []
        self.person_names: dict[str, str] = {}
        records: list[FranchiseRecord] = []
        tag_counts = np.zeros(n, dtype=np.float64)
        for title in titles:
            row = snapshot.position(title.title_id)
            records.append(franchise_record(title))
            if row is None:
                continue
            tag_counts[row] = len(title.keywords)
            for keyword, value in keyword_features(title.keywords).items():
                keyword_rows.append(row)
                keywords.append(keyword)
                keyword_values.append(value)
            credited: dict[str, tuple[float, int]] = {}  # person -> their weightiest credit here (weight, job)
            for person in title.people:
                weight = crew_weight(person)
                if weight > credited.get(person.person_id, (0.0, 0))[0]:
                    credited[person.person_id] = (weight, CREW_LABELS.index(crew_label(person)))
            for person_id, (weight, job) in credited.items():
                crew_rows.append(row)
                crew.append(person_id)
                crew_values.append(weight)
                crew_jobs.append(job)
            for person in title.people:
                self.person_names[person.person_id] = person.name
                if person.role == "director":
                    director_rows.append(row)
                    directors.append(person.person_id)
                elif person.role == "cast" and person.position < LEADING_CAST:
                    cast_rows.append(row)
                    cast.append(person.person_id)
        self.keywords, self.keyword_names = tfidf_matrix(keyword_rows, keywords, n, keyword_values)
        self.directors, self.director_ids = tfidf_matrix(director_rows, directors, n)
        self.cast, self.cast_ids = tfidf_matrix(cast_rows, cast, n)
        self.crew, self.crew_ids = tfidf_matrix(crew_rows, crew, n, crew_values)
        self._crew_column = {person_id: col for col, person_id in enumerate(self.crew_ids)}
        self._crew_jobs = sp.csr_matrix((np.asarray(crew_jobs, dtype=np.int8),
                                         (crew_rows, [self._crew_column[p] for p in crew])), shape=self.crew.shape)
        """Each crew credit's job (an index into CREW_LABELS), so a reason says what a person did on each title."""
        self._by_feature = [sp.csr_matrix(m.T) for m in (self.keywords, self.directors, self.cast, self.crew)]
        self.franchises = FranchiseIndex(records)
        self._franchise_cache: dict[str, dict[str, str]] = {}
        self._known_links = KnownLinks(KNOWN_LINKS)
        self._vectors = np.asarray(snapshot.matrix)  # the memory map as a plain array: no np.memmap overhead per row read
        self._similarity = cosine_between(self._vectors, snapshot.position)
        self._neighbourhoods: dict[int, tuple[np.ndarray, float]] = {}
        self._gram = threading.local()  # the last neighbourhood's cosines among its rows (see _cosines)
        self._genres = snapshot.genre_matrix.astype(np.float32)
        self._genre_counts = self._genres.sum(axis=1)
        self._years = snapshot.numeric["year"]
        self._log_votes = np.log1p(np.nan_to_num(snapshot.numeric["votes"], nan=0.0))
        self._has_votes = ~np.isnan(snapshot.numeric["votes"])
        self._prominence = prominence(snapshot.numeric["votes"], tag_counts)

    def franchise_of(self, title_id: str) -> dict[str, str]:
        """The titles of this title's franchise (id -> reason), see FranchiseIndex.franchise; cached per title."""
        cached = self._franchise_cache.get(title_id)
        if cached is not None:
            return cached
        found = self.franchises.franchise(title_id, self._similarity, self._known_links)
        if len(self._franchise_cache) >= FRANCHISE_CACHE:
            self._franchise_cache.clear()
        self._franchise_cache[title_id] = found
        return found

    def first_films_first(self, rows: np.ndarray, scores: np.ndarray,
                          seeds: Iterable[str] = ()) -> tuple[np.ndarray, np.ndarray]:
        """`scores` with the entries of each other franchise among the FIRST_FILM_RANKS best taking the
        franchise's places in release order, so the film a person names for a franchise (its first) leads it,
        and which rows are held back: a franchise's entries after its first OTHER_FRANCHISE_ENTRIES, which a
        row lists only after every other candidate (sort by held back, then score).
        The seeds' own franchises (when a row keeps them) stay in order of similarity and are never held back.

        Entries count as one franchise when they share a base name (`FranchiseIndex.name_keys`: a dictionary
        lookup per title, where the whole franchise rule costs far more) and their vectors are as close as
        the franchise rule asks of a weak link (WEAK_TEXT_SIMILARITY); their scores are handed out anew,
        so the row stays in score order. Measured in docs/ranking.md.
        """
        best = np.lexsort((self.snapshot.tie_rank[rows], -scores))[:FIRST_FILM_RANKS]
        own = {other for seed in seeds for other in (seed, *self.franchise_of(seed))}
        own_keys = {key for title_id in own for key in self.franchises.name_keys(title_id)}
        group_of_key: dict[str, int] = {}
        groups: dict[int, list[int]] = {}
        for place in best:
            title_id = self.snapshot.ids[rows[place]]
            keys = self.franchises.name_keys(title_id)
            if title_id in own or own_keys.intersection(keys):
                continue
            group = next((group_of_key[key] for key in keys if key in group_of_key), int(place))
            if group != place and self._vectors[rows[group]] @ self._vectors[rows[place]] < WEAK_TEXT_SIMILARITY:
                continue  # a namesake told differently (The Host, 2006 and 2013) is another work
            group_of_key.update(dict.fromkeys(keys, group))
            groups.setdefault(group, []).append(int(place))
        out = scores.copy()
        held_back = np.zeros(len(rows), dtype=bool)
        for members in groups.values():
            if len(members) > 1:  # members are in score order; the earliest release takes the best score
                by_release = sorted(members, key=lambda m: np.nan_to_num(self._years[rows[m]], nan=np.inf))
                out[by_release] = scores[members]
                held_back[by_release[OTHER_FRANCHISE_ENTRIES:]] = True
        return out, held_back

    def shared_candidates(self, row: int, keep: np.ndarray) -> np.ndarray:
        """Rows (among `keep`) that share a telling keyword or a person with `row`, best first."""
        scores = np.zeros(len(self.snapshot), dtype=np.float32)
        for matrix, by_feature in zip((self.keywords, self.directors, self.cast, self.crew), self._by_feature):
            columns, values = row_entries(matrix, row)
            if len(columns):
                scores += (by_feature[columns].T @ values).astype(np.float32)
        scores[~keep] = 0
        found = np.flatnonzero(scores > 0)
        if len(found) > SHARED_CANDIDATES:
            found = found[np.argpartition(-scores[found], SHARED_CANDIDATES)[:SHARED_CANDIDATES]]
        return found

    def neighbourhood(self, row: int, among: np.ndarray | None = None) -> tuple[np.ndarray, float]:
        """The seed's CROWD_NEIGHBOURS nearest rows (no filter: the same for every query of this seed) and
        their mean crowding, the level at which crowding neither lowers nor raises the text signal.

        `among`: rows known to hold them (a search's hits plus the rows it left out), which saves a search.
        """
        cached = self._neighbourhoods.get(row)
        if cached is not None:
            return cached
        if among is None:
            found, _ = self.snapshot.search.top_k(self.snapshot.matrix[row], CROWD_NEIGHBOURS + 1, None, item=True,
                                                  row=row)
        else:
            cosines = self._vectors[among] @ self._vectors[row]
            found = among[np.lexsort((self.snapshot.tie_rank[among], -cosines))]
        found = found[found != row][:CROWD_NEIGHBOURS]
        level = float(self._crowding_in(found, found).mean()) if len(found) else 0.0
        if len(self._neighbourhoods) >= FRANCHISE_CACHE:
            self._neighbourhoods.clear()
        self._neighbourhoods[row] = (found, level)
        return found, level

    def crowding(self, row: int, rows: np.ndarray) -> np.ndarray:
        """How crowded each of `rows` is near the seed `row`, relative to the seed's neighbourhood (0 = typical).

        Crowding is the mean cosine of a title's CROWD_K closest titles among the seed's neighbourhood;
        the cost is len(rows) x CROWD_NEIGHBOURS dot products, whatever the catalogue's size.
        """
        found, level = self.neighbourhood(row)
        return self._crowding_in(rows, found) - level

    def crowding_and_agreement(self, row: int, rows: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """`crowding` and each row's agreement with the seed `row` in [0, 1], from the same dot products.

        Agreement is the correlation of a row's cosines and the seed's cosines over the seed's neighbourhood
        (1 for the seed itself, a title never counting its cosine to itself), 0 when negative.
        """
        found, level = self.neighbourhood(row)
        crowding, agreement = self._crowding_in(rows, found, self._vectors[row])
        return crowding - level, agreement

    def _crowding_in(self, rows: np.ndarray, neighbourhood: np.ndarray,
                     seed: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray] | np.ndarray:
        """Crowding of `rows` in `neighbourhood`; with a `seed` vector, also their agreement with it (see above)."""
        if len(neighbourhood) < 2 or len(rows) == 0:
            zeros = np.zeros(len(rows), dtype=np.float32)
            return zeros if seed is None else (zeros, zeros.copy())
        matrix = self._vectors
        others = np.asarray(matrix[neighbourhood], dtype=np.float32)
        profile = None
        if seed is not None:
            profile = others @ np.asarray(seed, dtype=np.float32)
            profile = profile - profile.mean()
            profile /= max(float(np.linalg.norm(profile)), 1e-9)
            agreement = np.empty(len(rows), dtype=np.float32)
        k = min(CROWD_K, len(neighbourhood) - 1)  # a row inside the neighbourhood has one value fewer
        out = np.empty(len(rows), dtype=np.float32)
        for start in range(0, len(rows), 4096):  # bounded memory when scoring every title
            block = rows[start:start + 4096]
            cosines = self._cosines(block, neighbourhood, others)
            itself = block[:, None] == neighbourhood[None, :]
            if profile is not None:
                agreement[start:start + len(block)] = _agreement(cosines, itself, profile)
            cosines[itself] = -np.inf  # a title is not its own neighbour
            out[start:start + len(block)] = np.partition(cosines, -k, axis=1)[:, -k:].mean(axis=1)
        return out if profile is None else (out, agreement)

    def _cosines(self, block: np.ndarray, neighbourhood: np.ndarray, others: np.ndarray) -> np.ndarray:
        """Cosines of `block` to `neighbourhood` (`others`: its vectors), a new array. The neighbourhood's own
        cosines (its crowding level) are kept for this thread, so scoring the candidates of the same seed,
        most of them in its neighbourhood, reads theirs instead of computing them again."""
        last = getattr(self._gram, "last", None)
        if last is not None and last[0] is neighbourhood:
            _, gram, order = last
            at = order[np.minimum(np.searchsorted(neighbourhood, block, sorter=order), len(order) - 1)]
            inside = neighbourhood[at] == block
            if inside.all():
                return gram[at]
            cosines = np.empty((len(block), len(neighbourhood)), dtype=np.float32)
            cosines[inside] = gram[at[inside]]
            cosines[~inside] = np.asarray(self._vectors[block[~inside]], dtype=np.float32) @ others.T
            return cosines
        cosines = np.asarray(self._vectors[block], dtype=np.float32) @ others.T
        if len(block) == len(neighbourhood) and np.array_equal(block, neighbourhood):
            self._gram.last = (neighbourhood, cosines.copy(), np.argsort(neighbourhood, kind="stable"))
        return cosines

    def components(self, row: int, rows: np.ndarray, crowded: bool = True,
                   agreement: bool = False) -> dict[str, np.ndarray]:
        """Each signal's similarity of `rows` to `row`, in [0, 1]; `crowded`: text corrected for crowding;
        `agreement` (with `crowded`): the neighbourhood agreement too."""
        matrix = self._vectors
        text = np.asarray(matrix[rows], dtype=np.float32) @ np.asarray(matrix[row], dtype=np.float32)
        out = {}
        if crowded and agreement:
            crowding, out["agreement"] = self.crowding_and_agreement(row, rows)
            text = text - CROWD_PENALTY * crowding
        elif crowded:
            text = text - CROWD_PENALTY * self.crowding(row, rows)
        out["text"] = np.clip(text, 0, 1)
        for name, features in (("keywords", self.keywords), ("directors", self.directors), ("cast", self.cast),
                               ("crew", self.crew)):
            out[name] = row_dots(features, rows, row)
        inter = self._genres[rows] @ self._genres[row]
        union = self._genre_counts[rows] + self._genre_counts[row] - inter
        out["genres"] = np.where(union > 0, inter / np.maximum(union, 1), 0.0)
        with np.errstate(invalid="ignore"):
            out["era"] = np.nan_to_num(np.exp(-np.abs(self._years[rows] - self._years[row]) / ERA_YEARS), nan=0.0)
        if self._has_votes[row]:
            out["popularity"] = np.where(self._has_votes[rows], np.exp(-np.abs(self._log_votes[rows] - self._log_votes[row]) / 2), 0.0)
        else:
            out["popularity"] = np.zeros(len(rows))
        out["prominence"] = self._prominence[rows]
        return out

    def blended(self, row: int, rows: np.ndarray, weights: RankingWeights) -> np.ndarray:
        """Blended scores of `rows` against `row`, each in [0, 1] (1 = as similar as the seed to itself)."""
        parts = self.components(row, rows, corrects_crowding(weights), weights.agreement > 0)
        return self._combine(row, parts, weights)

    def distribution(self, row: int, rows: np.ndarray, weights: RankingWeights) -> np.ndarray:
        """Blended scores of many rows (a chart of every title): crowding is measured only for the
        DISTRIBUTION_CROWDED best by the rest of the blend, so the cost stays bounded; the tail keeps its
        uncorrected text signal and has no agreement. The best rows score exactly as `blended` scores them."""
        if not corrects_crowding(weights) or len(rows) <= DISTRIBUTION_CROWDED:
            return self.blended(row, rows, weights)
        scores = self._combine(row, self.components(row, rows, crowded=False), weights)
        best = np.argpartition(-scores, DISTRIBUTION_CROWDED)[:DISTRIBUTION_CROWDED]
        scores[best] = self.blended(row, rows[best], weights)
        return scores

    def _combine(self, row: int, parts: dict[str, np.ndarray], weights: RankingWeights) -> np.ndarray:
        total = sum(getattr(weights, name) * values for name, values in parts.items())
        return np.clip(total / self.self_score(row, weights), 0.0, 1.0)

    def self_score(self, row: int, weights: RankingWeights) -> float:
        """What the seed scores against itself: the sum of the weights of the signals it has."""
        present = {
            "text": True, "keywords": len(row_entries(self.keywords, row)[0]) > 0,
            "directors": len(row_entries(self.directors, row)[0]) > 0,
            "cast": len(row_entries(self.cast, row)[0]) > 0, "crew": len(row_entries(self.crew, row)[0]) > 0,
            "genres": self._genre_counts[row] > 0,
            "era": not math.isnan(self._years[row]), "popularity": bool(self._has_votes[row]),
            "agreement": corrects_crowding(weights), "prominence": True,
        }
        return max(sum(getattr(weights, name) for name, has in present.items() if has), 1e-9)

    def reasons(self, row: int, other: int, seed: Title, title: Title) -> tuple[Reason, ...]:
        """Why `title` is similar to `seed`: shared themes, people (with roles), genres, and the matching story line."""
        reasons: list[Reason] = []
        shared = [k for k in self._shared(self.keywords, row, other, self.keyword_names) if not k.startswith(WORD_FEATURE_PREFIX)]
        if shared:
            reasons.append(Reason("keywords", "Shared themes: " + ", ".join(shared[:4])))
        named: set[str] = set()
        for kind, matrix, ids, label in (("director", self.directors, self.director_ids, "Same director"),
                                         ("cast", self.cast, self.cast_ids, "Also starring")):
            shared_people = self._shared(matrix, row, other, ids)[:3]
            named.update(shared_people)
            if shared_people:
                reasons.append(Reason(kind, f"{label}: " + ", ".join(self.person_names.get(p, p) for p in shared_people)))
        crew = [p for p in self._shared(self.crew, row, other, self.crew_ids) if p not in named][:3]
        if crew:
            reasons.append(Reason("crew", "Same crew: " + ", ".join(self._crew_credit(p, row, other, seed, title)
                                                                    for p in crew)))
        genres = [g for g in title.genres if g in seed.genres]
        if genres:
            reasons.append(Reason("genres", "Both " + " · ".join(genres[:4])))
        line = story_line(seed, title)
        if line:
            reasons.append(Reason("story", f"Story: “{line}”"))
        if not reasons:
            cosine = float(self._vectors[row] @ self._vectors[other])
            reasons.append(Reason("text", f"Told alike: {max(cosine, 0.0):.0%} similar overview and tone"))
        return tuple(reasons)

    def _crew_credit(self, person_id: str, row: int, other: int, seed: Title, title: Title) -> str:
        """"Name (job)", or "Name (job of Seed; other job of Title)" when their jobs on the two titles differ."""
        jobs = []
        for at in (row, other):
            columns, codes = row_entries(self._crew_jobs, at)
            where = np.flatnonzero(columns == self._crew_column[person_id])
            jobs.append(CREW_LABELS[int(codes[where[0]])])
        name = self.person_names.get(person_id, person_id)
        if jobs[0] == jobs[1]:
            return f"{name} ({jobs[0]})"
        return f"{name} ({jobs[0]} of {seed.title}; {jobs[1]} of {title.title})"

    @staticmethod
    def _shared(matrix: sp.csr_matrix, row: int, other: int, names: list[str]) -> list[str]:
        """Features of `row` that `other` has too, most telling first."""
        a, b = row_entries(matrix, row), row_entries(matrix, other)
        weight = {col: w for col, w in zip(*a) if w > 0}
        common = [col for col in b[0] if col in weight]
        return [names[col] for col in sorted(common, key=lambda col: -weight[col])]


def corrects_crowding(weights: RankingWeights) -> bool:
    """Whether the blend corrects the text signal for crowding (not for the plain cosine of text_only())."""
    return any(getattr(weights, name) for name in BLEND_SIGNALS)


def _agreement(cosines: np.ndarray, itself: np.ndarray, profile: np.ndarray) -> np.ndarray:
    """Correlation of each row of `cosines` with the seed's centred unit `profile`, in [0, 1]; a row's
    cosine to itself (`itself`) is set to its row's mean, so it adds nothing."""
    cosines = cosines.copy()
    if itself.any():
        held = itself.any(axis=1)
        cosines[itself] = np.where(itself, 0.0, cosines).sum(axis=1)[held] / (cosines.shape[1] - 1)
    centred = cosines - cosines.mean(axis=1, keepdims=True)
    norms = np.linalg.norm(centred, axis=1)
    return np.clip((centred @ profile) / np.maximum(norms, 1e-9), 0.0, 1.0)


