"""The records of the fake Trakt, generated from their ids, in the shapes the real API sends.

Written from Trakt's published response schemas and client libraries' recorded answers (trakt.py,
TraktKit), not copied from them: see tests/fake_trakt.py for the server that serves them.
"""

from __future__ import annotations

import random
from typing import Any

OLD = "2025-06-01T00:00:00.000Z"  # when every generated record was last updated (outside the 30-day window)
WORDS = ("night city river ghost empire island winter signal mirror garden machine ocean crown letter storm "
         "stranger forest memory shadow dream journey heart secret fire glass silver train mountain voice "
         "promise window kingdom echo harbor orchard comet lantern desert violin circus atlas").split()
GENRES = ("action adventure animation comedy crime documentary drama family fantasy history horror music "
          "mystery romance science-fiction thriller war western").split()
LANGUAGES = ("en", "fr", "de", "es", "ja", "ko", "it", "zh")
COUNTRIES = ("us", "gb", "fr", "de", "es", "jp", "kr", "it", "cn")
NETWORKS = ("HBO", "BBC One", "Netflix", "NHK", "ARD", "Canal+", "AMC")
SUBGENRES = ("heist", "time-travel", "coming-of-age", "dystopia", "whodunit", "road-trip", "space-opera")
CERTIFICATIONS = {"movie": ("G", "PG", "PG-13", "R", None), "show": ("TV-PG", "TV-14", "TV-MA", None)}


def people(media: str, trakt_id: int) -> dict[str, Any]:
    """Cast and crew of one title, shaped as Trakt sends them.

    Movies: 3-5 cast, a director (one title in five has two) and a second unit director, a writer, a
    composer who also produces, six executive producers.
    Shows: every cast and crew entry has `episode_count`; "created by" holds one or two creators; the
    directing group lists episode directors (most episodes first is NOT guaranteed), except one show in
    six whose directing group holds only a script supervisor; one cast entry in four has `characters`
    but no `character`.
    """
    rnd = random.Random(f"people-{media}-{trakt_id}")
    pool = list(range(1, 401))
    chosen = rnd.sample(pool, 10)
    show = media == "show"

    def person(pid: int) -> dict[str, Any]:
        return {"name": f"Person {pid}", "ids": {"trakt": pid, "slug": f"person-{pid}", "imdb": f"nm{pid:07d}",
                                                  "tmdb": 10000 + pid}}

    def credit(pid: int, jobs: list[str], episodes: int) -> dict[str, Any]:
        entry: dict[str, Any] = {"job": jobs[0], "jobs": jobs, "person": person(pid)}
        if show:
            entry["episode_count"] = episodes
        return entry

    cast = []
    for k, pid in enumerate(chosen[: rnd.randint(3, 5)]):
        entry: dict[str, Any] = {"characters": [f"Role {k}"], "person": person(pid)}
        if show and (trakt_id + k) % 4 == 0:
            entry["characters"] = [f"Role {k}", f"Role {k} (young)"]  # `character` left out, as Trakt may
        else:
            entry["character"] = f"Role {k}"
        if show:
            entry["episode_count"] = rnd.randint(1, 60)
        cast.append(entry)
    if not show:
        directors = [credit(chosen[5], ["Director"], 0)]
        if trakt_id % 5 == 0:
            directors.append(credit(chosen[0], ["Director"], 0))
        directors.append(credit(chosen[4], ["Second Unit Director"], 0))
        writing = [credit(chosen[6], ["Screenplay"], 0)]
        producers = [credit(401 + (trakt_id + j) % 50, ["Executive Producer"], 0) for j in range(6)]
        return {"cast": cast, "crew": {"directing": directors, "writing": writing,
                                       "sound": [credit(chosen[7], ["Original Music Composer", "Music"], 0)],
                                       "production": [credit(chosen[7], ["Producer"], 0), *producers]}}
    if trakt_id % 6 == 0:
        directing = [credit(chosen[5], ["Script Supervisor"], 12)]
    else:
        directing = [credit(chosen[5], ["Director"], 3), credit(chosen[7], ["Director"], 9),
                     credit(chosen[8], ["Director", "Producer"], 1)]
    creators = [credit(chosen[6], ["Creator"], 0)]
    if trakt_id % 5 == 0:
        creators.append(credit(chosen[9], ["Creator"], 0))
    writing = [credit(chosen[6], ["Writer"], 20), credit(chosen[9], ["Staff Writer", "Story Editor"], 4)]
    return {"cast": cast, "crew": {"created by": creators, "directing": directing, "writing": writing,
                                   "camera": [credit(chosen[4], ["Director of Photography"], 30)]}}


def record(media: str, i: int, null_every: int = 7, overview_words: int = 40) -> dict[str, Any]:
    """The extended=full,images record of one title, generated from its id (every `null_every`-th: all nulls)."""
    rnd = random.Random(i * 7919 + (1 if media == "show" else 0))
    year = 1900 + (i * 37) % 122
    name = " ".join(rnd.choice(WORDS).capitalize() for _ in range(rnd.randint(1, 3)))
    ids: dict[str, Any] = {"trakt": i, "slug": f"{name.lower().replace(' ', '-')}-{year}-{i}",
                           "imdb": f"tt{1000000 + i}", "tmdb": 500000 + i}
    if media == "show":
        ids["tvdb"] = 70000 + i
    if null_every and i % null_every == 0:
        # Trakt's extended fields are all nullable: this record has none of them.
        ids = {k: (i if k == "trakt" else None) for k in ids}
        record = {"title": f"{name} {i}", "year": None, "ids": ids}
        for key in ("tagline", "overview", "runtime", "country", "trailer", "homepage", "status", "rating",
                    "votes", "comment_count", "language", "languages", "available_translations", "genres",
                    "subgenres", "certification", "original_title"):
            record[key] = None
        record["updated_at"] = OLD
        if media == "movie":
            record["released"] = None
        else:
            record.update(first_aired=None, airs=None, network=None, aired_episodes=None)
        return record
    language = LANGUAGES[i % len(LANGUAGES)]
    record = {
        "title": f"{name} {i}",
        "year": year,
        "ids": ids,
        "tagline": f"The {rnd.choice(WORDS)} never {rnd.choice(WORDS)}s." if i % 3 else None,
        "overview": " ".join(rnd.choice(WORDS) for _ in range(overview_words)) + ".",
        "runtime": rnd.randint(20, 180),
        "country": COUNTRIES[i % len(COUNTRIES)],
        "trailer": None if i % 4 == 0 else f"https://youtube.com/watch?v=t{i}",
        "homepage": None,
        "status": "released" if media == "movie" else rnd.choice(["returning series", "ended", "canceled"]),
        "rating": round(rnd.uniform(1, 10), 5),
        "votes": rnd.randint(0, 50000),
        "comment_count": rnd.randint(0, 300),
        "updated_at": OLD,
        "language": language,
        "languages": [language],
        "available_translations": ["en", language],
        "genres": sorted(rnd.sample(GENRES, rnd.randint(1, 3))),
        "subgenres": sorted(rnd.sample(SUBGENRES, rnd.randint(0, 2))),
        "certification": rnd.choice(CERTIFICATIONS[media]),
        "original_title": f"{name} {i} ({language})" if language != "en" else f"{name} {i}",
    }
    ids["plex"] = {"guid": f"5d77{i:020x}", "slug": ids["slug"]}
    if i % 3 == 0:
        record["languages"] = [language, "en"] if language != "en" else ["en", "es"]
        record["homepage"] = f"https://example.org/{ids['slug']}"
    if i % 13 == 0:
        record.update(rating=0, votes=0)  # how Trakt sends a title nobody has rated
    kind = "shows" if media == "show" else "movies"
    record["images"] = {key: [f"walter-r2.trakt.tv/images/{kind}/000/{i:03d}/{key}s/medium/{i:010x}.jpg.webp"]
                        for key in ("poster", "fanart", "logo")}
    if media == "movie":
        record["released"] = f"{year}-{rnd.randint(1, 12):02d}-{rnd.randint(1, 28):02d}"
        record.update(after_credits=i % 4 == 1, during_credits=i % 9 == 1)
    else:
        record.update(first_aired=f"{year}-{rnd.randint(1, 12):02d}-{rnd.randint(1, 28):02d}T01:00:00.000Z",
                      airs={"day": "Sunday", "time": "21:00", "timezone": "America/New_York"},
                      network=NETWORKS[i % len(NETWORKS)], aired_episodes=rnd.randint(1, 200))
    if i % 11 == 0:  # an older record: newer keys missing altogether, not null
        for key in ("subgenres", "languages", "available_translations", "images", "after_credits",
                    "during_credits", "homepage"):
            record.pop(key, None)
        ids.pop("plex", None)
    return record


TRANSLATED_COUNTRIES = {"en": ("us",), "fr": ("fr",), "de": ("de",), "es": ("es", "mx"), "ja": ("jp",),
                        "ko": ("kr",), "it": ("it",), "zh": ("cn", "tw")}
TRANSLATED_NAMES = {"de": "Der {} (Deutsch)", "es": "El {} (España)", "fr": "Le {} (Français)", "it": "Il {} (Italiano)",
                    "ja": "{}の物語", "ko": "{} 이야기", "zh": "{}的故事", "en": "{}"}


def translations(media: str, i: int, language: str | None, base: dict[str, Any]) -> list[dict[str, Any]]:
    """`/movies|shows/{id}/translations[/{language}]`, shaped as Trakt sends it: a list of {title, overview,
    tagline, language, country}, one per country the language is translated for (es: Spain and Mexico), any
    field null (one translation in five has no overview, one in nine no title). A language the record does not
    list in `available_translations` has no entry (an empty list)."""
    out = []
    for code in base.get("available_translations") or ():
        if language is not None and code != language:
            continue
        for k, country in enumerate(TRANSLATED_COUNTRIES.get(code, (code,))):
            name = TRANSLATED_NAMES.get(code, "{} (" + code + ")").format(base["title"])
            entry = {"title": name if k == 0 else f"{name} [{country.upper()}]",
                     "overview": f"[{code}-{country}] " + (base.get("overview") or "")[:80],
                     "tagline": f"[{code}] {base['tagline']}" if base.get("tagline") else None,
                     "language": code, "country": country}
            if (i + ord(code[0])) % 5 == 0:
                entry["overview"] = None
            if (i + k) % 9 == 0:
                entry["title"] = None
            out.append(entry)
    return out
