"""Franchise detection: sequels and same-name titles are kept apart from "similar"."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest

from flixrec.models import Title
from flixrec.franchise import FranchiseIndex, FranchiseRecord, franchise_key, same_franchise
from flixrec.franchise_links import Besides, KnownLinks
from flixrec.franchise_names import leading_pair


def t(name: str, original: str | None = None, aliases: tuple[str, ...] = (), keywords: tuple[str, ...] = ()) -> Title:
    return Title(title_id=name, media_type="movie", title=name, source="test", original_title=original,
                 aliases=aliases, keywords=keywords)


@pytest.mark.parametrize(
    ("name", "key"),
    [("Toy Story 3", "toy story"), ("The Avengers", "avengers"), ("Avengers: Age of Ultron", "avengers"),
     ("Rocky IV", "rocky"), ("Attack on Titan Season 3 Part.2", "attack on titan"), ("进击的巨人 OAD", "进击的巨人"),
     ("剧场版 进击的巨人 完结篇", "进击的巨人 完结篇"), ("Kill Bill: Vol. 2", "kill bill"), ("Alien³", "alien"),
     ("The Matrix", "matrix"), ("Mad Max", "mad max"), ("Wasp", "wasp"), ("Pompeii", "pompeii"), ("进击的巨人OAD", "进击的巨人"),
     ("忍たま乱太郎 18期", "忍たま乱太郎"), ("忍者乱太郎 第29季", "忍者乱太郎")],
)
def test_franchise_key(name: str, key: str):
    assert franchise_key(name) == key


@pytest.mark.parametrize(
    ("a", "b", "expected"),
    [
        (t("Toy Story"), t("Toy Story 2"), True),
        (t("The Avengers"), t("Avengers: Age of Ultron"), True),
        (t("Batman"), t("Batman Returns"), True),
        (t("Alien"), t("Aliens"), True),
        (t("Attack on Titan", "進撃の巨人"), t("剧场版 进击的巨人", aliases=("進撃の巨人",)), True),
        (t("Alien"), t("Alien Nation"), True),  # a shared name: listed apart, as FlixRec's same-title list was
        (t("Up"), t("Upside Down"), False),
        (t("Titanic"), t("Raise the Titanic"), False),
        (t("Crazy, Stupid, Love", keywords=("love", "divorce")), t("Love", keywords=("love",)), False),
    ],
)
def test_same_franchise_by_name(a: Title, b: Title, expected: bool):
    assert same_franchise(a, b) is expected and same_franchise(b, a) is expected


def test_a_keyword_naming_a_franchise_counts_only_with_much_else_in_common():
    shared = ("dc comics", "gotham city", "crime fighter", "superhero", "secret identity")
    dark_knight = t("The Dark Knight", keywords=("batman", "joker", *shared))
    assert same_franchise(dark_knight, t("Batman Begins", keywords=shared))
    assert not same_franchise(dark_knight, t("Batman Begins", keywords=("ninja", "himalaya")))
    alien = t("Alien", keywords=("spacecraft", "android", "space", "monster"))
    assert not same_franchise(alien, t("Independence Day", keywords=("alien", "spacecraft", "president", "war")))


_ORDER_PROBE = """
import json
from flixrec.franchise import FranchiseIndex, FranchiseRecord
themes = ("red moon", "blue sun", "green sea", "grey hill", "gold road", "pale star")
shared = ("heist", "betrayal", "vault", "getaway", "double cross")
records = [FranchiseRecord("seed", ("Tee",), keywords=themes + shared)]
records += [FranchiseRecord(t, (t.title(),), keywords=(t,) + shared) for t in themes]
roles = ("Alma Kane", "Boris Lynx", "Cora Moth", "Dario Fenn")
records += [FranchiseRecord("hero", ("Hero",), characters=(("p-1", " / ".join(roles)),))]
records += [FranchiseRecord(f"role-{i}", (f"Film {i}",), characters=(("p-1", role),)) for i, role in enumerate(roles)]
index = FranchiseIndex(records)
print(json.dumps([list(index.related("seed").items()), list(index.franchise("hero").items())]))
"""


def test_franchise_links_come_in_the_same_order_in_every_process():
    """The first link's reason wins when links are merged, so their order must not follow str hashing."""
    outputs = {
        subprocess.run([sys.executable, "-c", _ORDER_PROBE], capture_output=True, text=True, check=True,
                       env={**os.environ, "PYTHONHASHSEED": str(seed)}).stdout
        for seed in (1, 2, 3, 4, 5)
    }
    assert len(outputs) == 1
    by_keyword, by_character = json.loads(outputs.pop())
    assert len(by_keyword) == 6 and len(by_character) == 4


def _record(title_id: str, *names: str, characters=(), keywords=()) -> FranchiseRecord:
    return FranchiseRecord(title_id, names, keywords=tuple(keywords), characters=tuple(characters))


def test_a_franchise_reaches_one_hop_further_by_links_of_the_same_kind_only():
    index = FranchiseIndex([
        _record("apes", "Planet of the Apes"),
        _record("beneath", "Beneath the Planet of the Apes"),
        _record("battle", "Battle for the Planet of the Apes"),
        _record("bat", "Bat Hero"),
        _record("crossing", "Bat Hero: Sky Crossing", characters=[("p-ryder", "Rex Ryder")]),
        _record("sky", "The Sky Guardian", characters=[("p-ryder", "Rex Ryder")]),
    ])
    close = lambda _, others: [1.0] * len(others)  # noqa: E731 - every text close
    assert set(index.franchise("beneath", close)) == {"apes", "battle"}  # sequels linked only through the first
    assert index.related("crossing", close) == {"bat": "name", "sky": "character"}  # a crossover belongs to both
    assert index.franchise("bat", close) == {"crossing": "name"}  # but does not carry the other one in


def test_links_kept_between_calls_give_the_same_franchises_and_stay_bounded():
    records = [_record(f"apes-{i}", f"Planet of the Apes {i}" if i else "Planet of the Apes") for i in range(30)]
    records += [_record("beneath", "Beneath the Planet of the Apes"), _record("bat", "Bat Hero"),
                _record("crossing", "Bat Hero: Sky Crossing", characters=[("p-ryder", "Rex Ryder")]),
                _record("sky", "The Sky Guardian", characters=[("p-ryder", "Rex Ryder")])]
    index = FranchiseIndex(records)
    close = lambda _, others: [1.0] * len(others)  # noqa: E731 - every text close
    asked: list[str] = []
    def counting(tid, similarity=None, besides=None):
        if besides is None:  # a title's own links (a namesake's, read besides the title's, are not kept)
            asked.append(tid)
        return FranchiseIndex.related(index, tid, similarity, besides)

    index.related = counting
    plain = {r.title_id: index.franchise(r.title_id, close) for r in records}
    without = len(asked)
    known = KnownLinks(limit=10**6)
    asked.clear()
    assert {r.title_id: index.franchise(r.title_id, close, known) for r in records} == plain
    assert len(asked) == len(records) < without  # each title's links found once, then reused
    small = KnownLinks(limit=40)  # past the limit everything kept is dropped: the answers do not change
    assert {r.title_id: index.franchise(r.title_id, close, small) for r in records} == plain
    assert small._size <= 40


def test_what_a_base_name_links_is_worked_out_once_and_changes_no_answer():
    records = [_record(f"apes-{i}", f"Planet of the Apes {i}" if i else "Planet of the Apes") for i in range(30)]
    records += [_record("beneath", "Beneath the Planet of the Apes"), _record("re", "Re:Zero"),
                _record("re2", "Re:Creators"), _record("bat", "Bat"), _record("bats", "Bats"),
                _record("batman", "Batman Returns"), _record("bat-hero", "Bat Hero: Sky Crossing")]
    close = lambda _, others: [1.0] * len(others)  # noqa: E731 - every text close
    def answers(index):
        return {r.title_id: (list(index.related(r.title_id, close).items()),
                             list(index.franchise(r.title_id, close).items())) for r in records}

    index = FranchiseIndex(records)
    worked_out: list[str] = []
    def counting(key):
        worked_out.append(key)
        return FranchiseIndex._links_of_key(index, key)

    index._links_of_key = counting
    kept = answers(index)
    assert sorted(worked_out) == sorted({key for r in records for key in index.name_keys(r.title_id)})
    dropping = FranchiseIndex(records)
    dropping._key_links = KnownLinks(limit=1, size=lambda links: len(links[0]) + len(links[1]))
    assert answers(dropping) == kept  # the same links in the same order, kept or not
    assert set(dict(kept["apes-3"][1])) == {f"apes-{i}" for i in range(30) if i != 3} | {"beneath"}
    assert dict(kept["re"][0]) == {"re2": "name"}  # a short base name: a weak signal, here with a close text


def test_links_read_besides_what_a_caller_has_are_the_rest_in_the_same_order():
    records = [_record(f"apes-{i}", f"Planet of the Apes {i}" if i else "Planet of the Apes",
                       characters=[("p-cornelius", "Cornelius")] if i % 3 == 0 else ()) for i in range(12)]
    records += [_record("beneath", "Beneath the Planet of the Apes"), _record("rise", "Rise of the Planet of the Apes"),
                _record("planet", "Planet Earth"), _record("apes-doc", "The Apes of Gombe")]
    index = FranchiseIndex(records)
    halfway = lambda tid, others: [0.4 + 0.2 * ((len(tid) + len(o)) % 2) for o in others]  # noqa: E731 - some close
    for title in records:
        for have in ({"apes-0", "apes-3", "beneath"}, {r.title_id for r in records[:8]}, set()):
            everything = index.related(title.title_id, halfway)
            rest = index.related(title.title_id, halfway, Besides(have))
            assert list(rest.items()) == [(o, why) for o, why in everything.items() if o not in have]


def test_a_title_naming_another_franchise_in_its_subtitle_does_not_bring_that_franchise_in():
    index = FranchiseIndex([
        _record("wars", "Space Wars"),
        _record("kid", "Robo Kid: Little Space Wars"),
        _record("kid2", "Robo Kid: Ocean Journey"),
    ])
    close = lambda _, others: [1.0] * len(others)  # noqa: E731 - every text close
    assert "kid" in index.related("wars", close) and "kid2" in index.related("kid", close)
    assert set(index.franchise("wars", close)) == {"kid"}
    assert set(index.franchise("kid2", close)) == {"kid"}  # the franchise itself is whole from inside


def test_a_name_that_is_a_topic_links_only_titles_of_that_very_name():
    street = [_record("wall", "Wall Street", keywords=["wall street"]),
              _record("sleeps", "Wall Street: Money Never Sleeps", keywords=["wall street"]),
              _record("wolf", "The Wolf of Wall Street")]
    others_on_it = [_record("margin", "Margin Call", keywords=["wall street"]),
                    _record("short", "The Big Short", keywords=["wall street"]),
                    _record("psycho", "American Psycho", keywords=["wall street"])]
    close = lambda _, others: [1.0] * len(others)  # noqa: E731 - every text close
    assert "wolf" in FranchiseIndex(street).franchise("wall", close)  # a name inside another's, close text: linked
    topic = FranchiseIndex(street + others_on_it)  # more titles are about Wall Street than named after it
    assert set(topic.franchise("wall", close)) == {"sleeps"}
    assert "wolf" not in topic.franchise("sleeps", close) and set(topic.franchise("wolf", close)) == set()
    apes = FranchiseIndex([_record("apes", "Planet of the Apes", keywords=["planet of the apes"]),
                           _record("rise", "Rise of the Planet of the Apes", keywords=["planet of the apes"]),
                           _record("zoo", "Zoo Story", keywords=["planet of the apes", "ape"])])
    assert set(apes.franchise("apes", close)) == {"rise"}  # a franchise name tagged on one other title stays a name


@pytest.mark.parametrize(
    ("name", "lead"),
    [("She's All That", "she's all"), ("She's the Man", None), ("I'm Quitting Heroing", "i'm quitting"),
     ("Indiana Jones and the Temple of Doom", "indiana jones"), ("Angel`s Egg", None)],
)
def test_a_leading_pair_keeps_a_contraction_whole(name: str, lead: str | None):
    assert leading_pair(name) == lead


def test_titles_sharing_only_a_contraction_at_the_start_are_not_a_franchise():
    index = FranchiseIndex([_record("all", "She's All That"), _record("man", "She's the Man Again"),
                            _record("league", "She's Out of My League")])
    close = lambda _, others: [1.0] * len(others)  # noqa: E731 - every text close
    assert index.franchise("all", close) == {} and index.franchise("league", close) == {}


def test_a_base_name_of_two_letters_needs_a_close_text():
    index = FranchiseIndex([_record("zero", "Re:Zero"), _record("zero2", "Re:Zero Season 2"),
                            _record("creators", "Re:Creators")])
    texts = {frozenset(("zero", "zero2")): 0.9}
    by_text = lambda tid, others: [texts.get(frozenset((tid, o)), 0.3) for o in others]  # noqa: E731
    assert set(index.franchise("zero", by_text)) == {"zero2"}
    assert index.franchise("creators", by_text) == {}
