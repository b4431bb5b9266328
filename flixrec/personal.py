"""Recommendations for a person: from several liked titles (optionally rated), never a blend of them.

The mean of the liked titles' vectors recommends what lies between Alien and Notting Hill, which is
neither. Instead each liked title (a seed) gets its own ranked candidates from the blended ranking
(`Recommender.similar_titles`), and the lists are merged:
- seeds are grouped into tastes (clusters of seeds whose title vectors are close, `TASTE_COSINE`);
- a candidate's score is its best weighted per-seed score, plus a little for every other seed that
  also found it, minus a penalty for being close to a "less like these" title;
- the tastes take turns (weighted round-robin: the taste with the fewest picks per unit of weight
  goes next), so each taste gets a share of the list in proportion to its weight.
Every result names the seeds it came from (a Reason of kind "because"). Seeds, watched titles, "less
like these" titles and the filters' hidden ids are never recommended.

Speed: one `similar_titles` call per seed, so at most `MAX_SEEDS` seeds are used: the highest rated,
then the most recently watched or rated, then in the order given (`PersonalRecommendations.seeds_left_out`
says how many were not). A profile of 200 titles takes about as long as 25 single-title searches.
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Iterable, Sequence

import numpy as np

from flixrec.errors import InvalidRequest
from flixrec.models import Filters, RankingWeights, Reason, Recommendation
from flixrec.recommend import Recommender

MAX_SEEDS = 25
"""The most liked titles a list is made from (one blended search each)."""
LIKED_FROM = 6
"""A rating (1-10) at or above this makes a title a seed; at or below DISLIKED_UP_TO it counts as 'less like this'."""
DISLIKED_UP_TO = 4
UNRATED_WEIGHT = 0.6
"""The weight of a liked title without a rating (a 7 or 8 out of 10)."""
TASTE_COSINE = 0.45
"""Seeds whose title vectors are at least this close are one taste (Alien and Aliens; not Alien and Notting Hill)."""
SUPPORT_BONUS = 0.15
"""What each further seed that also found a candidate adds, times its weighted score."""
AVOID_PENALTY = 0.6
"""How much closeness (cosine above AVOID_FLOOR) to a 'less like these' title takes off a candidate's score."""
AVOID_FLOOR = 0.3
PER_SEED_STEP = 60
"""Candidates per seed: twice k, rounded up to a multiple of this, so a longer list (the next page) starts with
the same titles as a shorter one whenever both fit in the same pool."""
BECAUSE_NAMED = 3
"""The most seeds a 'because you liked' line names."""


@dataclasses.dataclass(frozen=True)
class Seed:
    """A title the person liked, with their rating (1-10, None when only watched or picked) and when."""

    title_id: str
    rating: float | None = None
    when: str | None = None  # ISO time it was rated or watched (newer seeds win when there are too many)

    @property
    def weight(self) -> float:
        """How much this seed counts: 0.2 for a 6, 1.0 for a 10; UNRATED_WEIGHT without a rating."""
        if self.rating is None:
            return UNRATED_WEIGHT
        return max(0.2, (self.rating - 5) / 5)


@dataclasses.dataclass(frozen=True)
class PersonalRecommendations:
    """A person's ranked list, which seeds it was made from, and which seeds were not used and why."""

    recommendations: list[Recommendation]
    because: dict[str, tuple[str, ...]]  # recommended title_id -> the seed ids it came from, strongest first
    seeds_used: tuple[str, ...]
    seeds_left_out: int = 0  # liked titles beyond MAX_SEEDS
    seeds_unknown: tuple[str, ...] = ()  # liked ids not in the catalogue or not indexed
    tastes: tuple[tuple[str, ...], ...] = ()  # the seed groups that took turns


def check_rating(rating: object, title_id: str) -> float | None:
    """A rating as a number from 1 to 10 (None stays None); InvalidRequest otherwise."""
    if rating is None:
        return None
    if isinstance(rating, bool) or not isinstance(rating, int | float) or not math.isfinite(rating) or not 1 <= rating <= 10:
        raise InvalidRequest(f"the rating of {title_id!r} must be a number from 1 to 10, not {rating!r}")
    return float(rating)


def split_by_rating(seeds: Iterable[Seed]) -> tuple[list[Seed], list[str]]:
    """Liked seeds (unrated or rated LIKED_FROM+) and disliked ids (rated DISLIKED_UP_TO or less); 5s are neither."""
    liked, disliked = [], []
    for seed in seeds:
        if seed.rating is None or seed.rating >= LIKED_FROM:
            liked.append(seed)
        elif seed.rating <= DISLIKED_UP_TO:
            disliked.append(seed.title_id)
    return liked, disliked


def choose_seeds(seeds: Sequence[Seed], limit: int = MAX_SEEDS) -> list[Seed]:
    """The `limit` seeds a list is made from: highest rated first, then most recent, then as given."""
    order = sorted(range(len(seeds)), key=lambda i: (-(seeds[i].rating or LIKED_FROM + 1.5),
                                                      _negated_time(seeds[i].when), i))
    return [seeds[i] for i in order[:limit]]


def _negated_time(when: str | None) -> tuple[int, str]:
    """Sort key putting newer ISO times first and unknown times last."""
    if not when:
        return (1, "")
    return (0, "".join(chr(0x10FFFF - ord(c)) if c.isdigit() else c for c in when))


def group_tastes(vectors: np.ndarray, weights: Sequence[float]) -> list[list[int]]:
    """Seeds (rows of unit vectors) grouped into tastes: each joins the first group whose leader it is close to."""
    groups: list[list[int]] = []
    for i in sorted(range(len(vectors)), key=lambda i: -weights[i]):
        for group in groups:
            if float(vectors[group[0]] @ vectors[i]) >= TASTE_COSINE:
                group.append(i)
                break
        else:
            groups.append([i])
    return groups


def recommend_for_seeds(recommender: Recommender, seeds: Sequence[Seed], k: int = 20, filters: Filters | None = None,
                  avoid: Iterable[str] = (), watched: Iterable[str] = (),
                  weights: RankingWeights | None = None) -> PersonalRecommendations:
    """The k titles a person is most likely to want, from their liked titles (see the module docstring).

    A result's score is its similarity to the seed it came from most strongly; the order is the tastes'
    turns, each taste's titles best first.

    `seeds` are already checked (ids current, ratings 1-10); `avoid` are "less like these" titles and
    `watched` every title to leave out. Raises InvalidRequest when no liked title is in the index.
    """
    snapshot = recommender.snapshot
    known = [s for s in seeds if snapshot.position(s.title_id) is not None]
    unknown = tuple(s.title_id for s in seeds if snapshot.position(s.title_id) is None)
    liked = list({s.title_id: s for s in choose_seeds(known, len(known))}.values())
    used = liked[:MAX_SEEDS]
    if not used:
        raise InvalidRequest("none of the liked titles is in the catalogue's index; pick or import some titles first")
    avoid_ids = [a for a in dict.fromkeys(avoid) if snapshot.position(a) is not None]
    excluded = frozenset(s.title_id for s in seeds) | frozenset(watched) | frozenset(avoid_ids)
    filters = filters or Filters()
    search_filters = dataclasses.replace(filters, exclude_ids=filters.exclude_ids | excluded)
    per_seed = PER_SEED_STEP * -(-2 * k // PER_SEED_STEP)

    candidates: dict[str, dict[str, float]] = {}  # title id -> seed id -> weighted score
    found: dict[str, Recommendation] = {}  # title id -> the recommendation from its strongest seed
    for seed in used:
        for rec in recommender.similar_titles(seed.title_id, per_seed, search_filters, separate_franchise=False,
                                              weights=weights):
            scored = candidates.setdefault(rec.title.title_id, {})
            scored[seed.title_id] = rec.score * seed.weight
            if max(scored.values()) == scored[seed.title_id]:
                found[rec.title.title_id] = rec
    if not candidates:
        return PersonalRecommendations([], {}, tuple(s.title_id for s in used), len(liked) - len(used), unknown)

    ids = list(candidates)
    totals = np.array([_combined(candidates[tid]) for tid in ids])
    if avoid_ids:
        rows = np.array([snapshot.position(tid) for tid in ids])
        avoid_rows = np.array([snapshot.position(a) for a in avoid_ids])
        closeness = np.asarray(snapshot.matrix[rows], dtype=np.float32) @ np.asarray(snapshot.matrix[avoid_rows], dtype=np.float32).T
        totals -= AVOID_PENALTY * np.clip(closeness.max(axis=1) - AVOID_FLOOR, 0, None)
    score_of = dict(zip(ids, totals.tolist()))

    seed_vectors = np.asarray(snapshot.matrix[[snapshot.position(s.title_id) for s in used]], dtype=np.float32)
    groups = group_tastes(seed_vectors, [s.weight for s in used])
    taste_of_seed = {used[i].title_id: g for g, group in enumerate(groups) for i in group}
    queues: list[list[str]] = [[] for _ in groups]
    for tid in sorted(ids, key=lambda t: (-score_of[t], t)):
        best_seed = max(candidates[tid], key=candidates[tid].get)
        queues[taste_of_seed[best_seed]].append(tid)
    taste_weight = [sum(used[i].weight for i in group) for group in groups]
    picked = _take_turns(queues, taste_weight, k)

    because = {tid: tuple(sorted(candidates[tid], key=lambda s: -candidates[tid][s])) for tid in picked}
    names = {s.title_id: s for s in used}
    labels = recommender.catalog.find_titles(list(names), with_people=False)
    recommendations = []
    for rank, tid in enumerate(picked, start=1):
        rec = found[tid]
        seed_labels = [labels[s].label() if s in labels else s for s in because[tid][:BECAUSE_NAMED]]
        reason = Reason("because", "Because you liked " + _and_list(seed_labels))
        recommendations.append(dataclasses.replace(rec, rank=rank, reasons=(reason, *rec.reasons)))
    return PersonalRecommendations(
        recommendations, because, tuple(names), len(liked) - len(used), unknown,
        tuple(tuple(used[i].title_id for i in group) for group in groups),
    )


def _combined(scores: dict[str, float]) -> float:
    """The best weighted per-seed score plus SUPPORT_BONUS of each other seed's."""
    values = sorted(scores.values(), reverse=True)
    return values[0] + SUPPORT_BONUS * sum(values[1:])


def _take_turns(queues: list[list[str]], weights: Sequence[float], k: int) -> list[str]:
    """Up to k ids, the tastes taking turns: next is the taste with the fewest picks per unit of weight."""
    picked: list[str] = []
    taken = [0] * len(queues)
    heads = [0] * len(queues)
    while len(picked) < k:
        open_tastes = [g for g in range(len(queues)) if heads[g] < len(queues[g])]
        if not open_tastes:
            break
        g = min(open_tastes, key=lambda g: ((taken[g] + 1) / weights[g], -weights[g], g))
        picked.append(queues[g][heads[g]])
        heads[g] += 1
        taken[g] += 1
    return picked


def _and_list(names: Sequence[str]) -> str:
    """'A', 'A and B', 'A, B and C'."""
    return names[0] if len(names) == 1 else ", ".join(names[:-1]) + " and " + names[-1]
