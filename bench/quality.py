"""The judge of ranking changes: FlixRec's public API on a built home against the development sets, one JSON line.

Development sets (bench/data/, written from common film knowledge and checked against the demo catalogue):
- franchises.json: franchise groups (Harry Potter, James Bond, Riddick, ...);
- related_pairs.json: pairs of titles any film fan calls similar (same premise, often different studios);
- related_pairs_holdout.json: more such pairs, written after the ranking's constants were chosen and
  kept for checking a change, not for choosing it (no pair of related_pairs.json, no franchise pair);
- related_pairs_holdout2.json: 110 fresh pairs written before any experiment looked at them, once the first
  held-out set had been looked at (no title of the two other sets, no franchise pair); for confirming only;
- related_pairs_holdout3.json: 68 more pairs that passed the same checks as holdout2's, never ranked until
  they confirmed the prominence signal; for confirming only;
- related_pairs_holdout4.json: 120 fresh pairs (23 of them anime), written and checked against the catalogue
  only, then drawn at random from the 125 that passed; for confirming only;
- related_pairs_holdout5.json: 120 more (37 of them anime), checked the same way (no title of any other set),
  drawn with random.Random(5) from the 162 that passed; first ranked to confirm the first-films rule;
- related_pairs_holdout6.json: 120 more (28 of them anime), checked the same way (no title of any other set),
  drawn with random.Random(6) from the 350 that passed; first ranked to check the franchise name rules;
- related_pairs_holdout7.json: the other 230 pairs that passed those checks (59 of them anime), never
  ranked until they confirmed the tag-count prominence of titles without votes;
- related_pairs_holdout8.json: 150 fresh pairs (32 of them anime), written and checked the same way against
  a catalogue with crew credits, drawn with random.Random(8) from the 277 that passed; first ranked to
  confirm the crew signal.

Printed:
- franchise_recall_at_10: per group member, the share of the rest of its group in `franchise_titles(k=10)`
  (out of min(10, group size - 1));
- franchise_leak: the share of `similar_titles(k=10)` slots taken by the seed's own franchise;
- related_top10 / related_top20: how often the other title of a pair is in the seed's similar titles
  (both directions); related_a_* / related_b_* the same for the even and the odd pairs (a choice that
  fits only one half shows up); holdout_top10 / holdout_top20, holdout2_* ... holdout8_*
  the same on the eight held-out sets;
- genre_jaccard_at_10 and random_genre_jaccard: genre overlap of a title and its 10 similar titles, and
  of 10 random titles;
- cross_catalogue: the share of anime among the 20 similar titles of live-action movies, and of
  non-anime titles among those of anime; same_work_top10: for titles of one work kept twice (shared
  external id, one per catalogue) the share found in each other's top 10 (None when the catalogue
  has no such duplicates), and duplicate_works: how many such pairs there are;
- one_franchise_rows: the share of the genre figure's seeds whose 20 similar titles hold 4 or more
  entries of one other franchise (by base name);
- free_text_top1 / top5: German, Spanish, French, Chinese and Japanese descriptions finding their film;
- ablation: related_top10/20 and genre_jaccard_at_10 with each signal's weight set to 0 (signals already off are left out);
- latency: similar_titles p50/p95 (ms) blended, and text-only, on this home;
- profiles (several liked titles, `FlixRec.recommend_for_profile`, watched titles excluded):
  group_holdout_top20: a profile of two thirds of a franchise group (groups of 3+), the share of the held-out
  third found in its top 20; single_seed_holdout_top20 the same from each profile title alone
  (`similar_titles(k=20)` with the franchise kept in), averaged; pair_mix_top20: a profile of the first
  titles of two related pairs, the share of the two other titles in its top 20, and pair_mix_both_top20
  how often both are (each taste represented), next to related_top20 (one seed); recommend_p50_ms.

Usage: python bench/quality.py [--home ~/.cache/flixrec] [--no-ablation]
(other settings, e.g. FLIXREC_WEIGHT_AGREEMENT, are read from the environment)
"""

from __future__ import annotations

import argparse
import collections
import dataclasses
import json
import os
import re
import sys
import time
import unicodedata
from pathlib import Path

os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import numpy as np  # noqa: E402

from flixrec.config import Settings  # noqa: E402
from flixrec.franchise_names import franchise_key  # noqa: E402
from flixrec.models import RankingWeights, Title  # noqa: E402
from flixrec.service import FlixRec  # noqa: E402

DATA = Path(__file__).resolve().parent / "data"
TRANSLATED = [(d["language"], d["title"], d["description"])
              for d in json.loads((DATA / "translated_descriptions.json").read_text())]
"""Descriptions of well-known films in German, Spanish, French, Chinese and Japanese (our own words)."""


HELD_OUT = ("holdout", "holdout2", "holdout3", "holdout4", "holdout5", "holdout6", "holdout7", "holdout8")
"""The held-out sets: bench/data/related_pairs_<name>.json, printed as <name>_top10, <name>_top20, ..."""


def normalise(text: str) -> str:
    return unicodedata.normalize("NFKC", text).casefold().strip()


class Resolver:
    """'Title (year)' -> a title id of the catalogue: exact name (any of its names), year ±1, most voted first."""

    def __init__(self, titles: dict[str, Title]):
        self.by_name: dict[str, list[Title]] = collections.defaultdict(list)
        for title in titles.values():
            for name in {title.title, title.original_title or title.title, *title.aliases}:
                self.by_name[normalise(name)].append(title)

    def __call__(self, name: str) -> str | None:
        match = re.fullmatch(r"(.*?)\s*\((\d{4})\)", name)
        plain, year = (match.group(1), int(match.group(2))) if match else (name, None)
        hits = self.by_name.get(normalise(plain), [])
        if year:
            hits = [t for t in hits if t.year is not None and abs(t.year - year) <= 1]
        hits = sorted(hits, key=lambda t: (t.title != plain, -(t.votes or 0), t.title_id))
        return hits[0].title_id if hits else None


def ranked_ids(app: FlixRec, title_id: str, k: int, weights: RankingWeights | None = None) -> list[str]:
    return [r.title.title_id for r in app.similar_titles(title_id, k, weights=weights)]


def franchise_figures(app: FlixRec, groups: list[list[str]], k: int = 10) -> dict:
    recall, leak, slots = [], 0, 0
    for group in groups:
        for seed in group:
            others = set(group) - {seed}
            found = {r.title.title_id for r in app.franchise_titles(seed, k)}
            recall.append(len(found & others) / min(k, len(others)))
            similar = ranked_ids(app, seed, k)
            leak += sum(1 for t in similar if t in others)
            slots += len(similar)
    return {"franchise_recall_at_10": round(float(np.mean(recall)), 4), "franchise_leak": round(leak / max(1, slots), 4),
            "franchise_seeds": len(recall)}


def related_figures(app: FlixRec, pairs: list[tuple[str, str]], weights: RankingWeights | None = None,
                    prefix: str = "related", halves: bool = False) -> dict:
    """Top-10/20 share of the pairs' other titles; with `halves`, also for the even (a) and odd (b) pairs."""
    found: list[tuple[int, bool, bool]] = []
    for index, (a, b) in enumerate(pairs):
        for seed, other in ((a, b), (b, a)):
            similar = ranked_ids(app, seed, 20, weights)
            found.append((index % 2, other in similar[:10], other in similar))

    def shares(rows: list[tuple[int, bool, bool]], name: str) -> dict:
        return {f"{name}_top10": round(sum(r[1] for r in rows) / max(1, len(rows)), 4),
                f"{name}_top20": round(sum(r[2] for r in rows) / max(1, len(rows)), 4)}

    out = shares(found, prefix) | {f"{prefix}_queries": len(found)}
    if halves:
        for half, name in ((0, "a"), (1, "b")):
            out |= shares([r for r in found if r[0] == half], f"{prefix}_{name}")
    return out


def genre_figures(app: FlixRec, titles: dict[str, Title], seeds: list[str], weights: RankingWeights | None = None) -> dict:
    rng = np.random.default_rng(3)
    ids = sorted(titles)
    near, rand = [], []
    for seed in seeds:
        mine = set(titles[seed].genres)
        for other in ranked_ids(app, seed, 10, weights):
            theirs = set(titles[other].genres)
            near.append(len(mine & theirs) / len(mine | theirs) if mine | theirs else 0.0)
        for other in rng.choice(ids, 10, replace=False):
            theirs = set(titles[other].genres)
            rand.append(len(mine & theirs) / len(mine | theirs) if mine | theirs else 0.0)
    return {"genre_jaccard_at_10": round(float(np.mean(near)), 4), "random_genre_jaccard": round(float(np.mean(rand)), 4)}


def is_anime(title: Title) -> bool:
    return title.source == "bgmd" or title.title_id.startswith("bgm-")


def cross_catalogue_figures(app: FlixRec, titles: dict[str, Title], seeds: int = 200) -> dict:
    rng = np.random.default_rng(5)
    movies = sorted(t for t, x in titles.items() if not is_anime(x) and "Animation" not in x.genres)
    anime = sorted(t for t, x in titles.items() if is_anime(x))
    out: dict = {}
    for name, pool, other in (("live_action_anime_share", movies, True), ("anime_other_share", anime, False)):
        if not pool:
            continue
        shares = []
        for seed in rng.choice(pool, min(seeds, len(pool)), replace=False):
            similar = ranked_ids(app, str(seed), 20)
            shares.append(np.mean([is_anime(titles[t]) == other for t in similar]) if similar else 0.0)
        out[name] = round(float(np.mean(shares)), 4)
    works = collections.defaultdict(list)
    for title in titles.values():
        if title.tmdb_id:
            works[(title.media_type, title.tmdb_id)].append(title)
    duplicates = [(a.title_id, b.title_id) for group in works.values() for a in group for b in group
                  if a.title_id < b.title_id and a.source != b.source and (a.year or 0) and abs((a.year or 0) - (b.year or 0)) <= 1]
    out["duplicate_works"] = len(duplicates)
    found = [b in ranked_ids(app, a, 10) for a, b in duplicates] + [a in ranked_ids(app, b, 10) for a, b in duplicates]
    out["same_work_top10"] = round(float(np.mean(found)), 4) if found else None
    return out


def one_franchise_figures(app: FlixRec, titles: dict[str, Title], seeds: list[str], k: int = 20, most: int = 4) -> dict:
    """The share of similar rows (k titles) in which one other franchise, by base name (title or original
    name), holds `most` or more places."""
    crowded = []
    for seed in seeds:
        by_key = collections.defaultdict(set)
        for other in ranked_ids(app, seed, k):
            for key in {franchise_key(name) for name in (titles[other].title, titles[other].original_title) if name}:
                if key:
                    by_key[key].add(other)
        crowded.append(max(map(len, by_key.values()), default=0) >= most)
    return {"one_franchise_rows": round(float(np.mean(crowded)), 4)}


def free_text_figures(app: FlixRec, resolve: Resolver) -> dict:
    ranks = []
    for _, name, text in TRANSLATED:
        target = resolve(name)
        hits = [r.title.title_id for r in app.similar_to_text(text, 20)]
        ranks.append(hits.index(target) + 1 if target in hits else 99)
    return {"free_text_top1": round(sum(r == 1 for r in ranks) / len(ranks), 3),
            "free_text_top5": round(sum(r <= 5 for r in ranks) / len(ranks), 3), "free_text_queries": len(ranks)}


def latency_figures(app: FlixRec, seeds: list[str]) -> dict:
    out = {}
    for name, weights in (("blended", None), ("text_only", RankingWeights.text_only())):
        times = []
        for seed in seeds:
            began = time.perf_counter()
            app.similar_titles(seed, 20, weights=weights)
            times.append((time.perf_counter() - began) * 1000)
        out[f"similar_{name}_p50_ms"] = round(float(np.percentile(times, 50)), 2)
        out[f"similar_{name}_p95_ms"] = round(float(np.percentile(times, 95)), 2)
    return out


def profile_figures(app: FlixRec, groups: list[list[str]], pairs: list[tuple[str, str]], k: int = 20) -> dict:
    """Held-out checks for profiles of several liked titles (see the module docstring)."""
    held_found, single_found, times = [], [], []
    for group in (g for g in groups if len(g) >= 3):
        held = group[1::3]
        profile = [t for t in group if t not in held]
        began = time.perf_counter()
        found = app.recommend_for_profile(profile, k)
        times.append((time.perf_counter() - began) * 1000)
        shown = {r.title.title_id for r in found.recommendations}
        assert not shown & set(profile), "a liked title came back"
        held_found.append(len(shown & set(held)) / min(k, len(held)))
        single = [len({r.title.title_id for r in app.similar_titles(seed, k, separate_franchise=False)} & set(held))
                  / min(k, len(held)) for seed in profile]
        single_found.append(float(np.mean(single)))
    mix, both = [], []
    for (a1, b1), (a2, b2) in zip(pairs[::2], pairs[1::2]):
        if len({a1, b1, a2, b2}) < 4:
            continue
        began = time.perf_counter()
        shown = {r.title.title_id for r in app.recommend_for_profile([a1, a2], k).recommendations}
        times.append((time.perf_counter() - began) * 1000)
        mix.append(((b1 in shown) + (b2 in shown)) / 2)
        both.append(b1 in shown and b2 in shown)
    return {"profiles": {
        "group_holdout_top20": round(float(np.mean(held_found)), 4), "group_profiles": len(held_found),
        "single_seed_holdout_top20": round(float(np.mean(single_found)), 4),
        "pair_mix_top20": round(float(np.mean(mix)), 4), "pair_mix_both_top20": round(float(np.mean(both)), 4),
        "pair_profiles": len(mix), "recommend_p50_ms": round(float(np.percentile(times, 50)), 1),
    }}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--home", default=os.environ.get("FLIXREC_HOME") or str(Path.home() / ".cache" / "flixrec"))
    parser.add_argument("--seeds", type=int, default=300, help="random titles for the genre figure")
    parser.add_argument("--no-ablation", action="store_true")
    parser.add_argument("--only-profiles", action="store_true", help="just the profile figures (and single-seed related)")
    args = parser.parse_args()
    began = time.perf_counter()
    app = FlixRec(Settings.from_mapping({"FLIXREC_HOME": args.home}, os.environ))
    titles = {t.title_id: t for t in app.catalog.iter_titles(with_people=False)}
    resolve = Resolver(titles)
    groups = [[t for t in (resolve(n) for n in g["titles"]) if t] for g in json.loads((DATA / "franchises.json").read_text())]
    groups = [g for g in groups if len(g) >= 2]
    def load(name: str) -> list[tuple[str, str]]:
        return [(a, b) for a, b in ((resolve(x), resolve(y)) for x, y in json.loads((DATA / name).read_text())) if a and b]

    pairs = load("related_pairs.json")
    held_out = {name: load(f"related_pairs_{name}.json") for name in HELD_OUT}
    rng = np.random.default_rng(7)
    genre_seeds = [str(t) for t in rng.choice(sorted(t for t, x in titles.items() if x.genres), args.seeds, replace=False)]
    app.similar_titles(genre_seeds[0], 10)  # warm-up: snapshot, catalogue features, franchise index
    line: dict = {"bench": "quality", "titles": len(titles), "groups": len(groups), "pairs": len(pairs)}
    line |= {f"{name}_pairs": len(held) for name, held in held_out.items()}
    line["weights"] = dataclasses.asdict(app.settings.ranking)
    if args.only_profiles:
        print(json.dumps(line | related_figures(app, pairs) | profile_figures(app, groups, pairs), ensure_ascii=False))
        return
    line |= franchise_figures(app, groups)
    line |= related_figures(app, pairs, halves=True)
    for name, held in held_out.items():
        line |= related_figures(app, held, prefix=name)
    line |= genre_figures(app, titles, genre_seeds)
    line |= cross_catalogue_figures(app, titles)
    line |= one_franchise_figures(app, titles, genre_seeds)
    line |= free_text_figures(app, resolve)
    line |= profile_figures(app, groups, pairs)
    if not args.no_ablation:
        line["ablation"] = {}
        for field in dataclasses.fields(RankingWeights):
            if field.name == "text" or getattr(app.settings.ranking, field.name) == 0:
                continue  # a signal that is off has nothing to take away
            weights = dataclasses.replace(app.settings.ranking, **{field.name: 0.0})
            figures = related_figures(app, pairs, weights) | genre_figures(app, titles, genre_seeds[:100], weights)
            line["ablation"][f"no_{field.name}"] = {k: v for k, v in figures.items() if k != "related_queries" and k != "random_genre_jaccard"}
        text_only = related_figures(app, pairs, RankingWeights.text_only()) | genre_figures(app, titles, genre_seeds[:100], RankingWeights.text_only())
        line["ablation"]["text_only"] = {k: v for k, v in text_only.items() if k not in ("related_queries", "random_genre_jaccard")}
    line |= latency_figures(app, genre_seeds[:100])
    line["suite_s"] = round(time.perf_counter() - began, 1)
    print(json.dumps(line, ensure_ascii=False))


if __name__ == "__main__":
    main()
