"""The pure rules of one title per work (flixrec.works): which records are one work, and what their title keeps."""

from __future__ import annotations

import dataclasses
import json
import itertools
import random

from flixrec.models import Person, Title
from flixrec.works import group_records, match_keys, merge_groups, merge_records, name_key


def tmdb_film(tmdb_id: int, title: str, year: int, **changes) -> Title:
    """A TMDB-5000-shaped movie record."""
    base = Title(title_id=f"tmdb-movie-{tmdb_id}", media_type="movie", title=title, source="tmdb5000",
                 original_title=title, overview=f"The English overview of {title}.", genres=("Animation",),
                 keywords=("bathhouse",), year=year, runtime=125, rating=8.0, votes=3000, language="ja",
                 tmdb_id=tmdb_id, people=(Person("tmdb-1", "Hayao Miyazaki", "director"),))
    return dataclasses.replace(base, **changes)


def anime(bgm_id: int, title: str, year: int | None, tmdb_id: int | None, media_type: str = "movie", **changes) -> Title:
    """A bgmd-shaped anime record."""
    base = Title(title_id=f"bgm-{bgm_id}", media_type=media_type, title=title, source="bgmd",
                 original_title=f"{title} (ja)", aliases=(f"{title} (zh)",), overview=f"{title} 的中文简介。",
                 genres=("Animation", "Fantasy"), keywords=("宫崎骏",), year=year, country="JP", language="ja",
                 tmdb_id=tmdb_id)
    return dataclasses.replace(base, **changes)


def trakt(trakt_id: int, title: str, year: int, media_type: str = "movie", **changes) -> Title:
    """A Trakt-shaped record (no people: listings carry none)."""
    base = Title(title_id=f"trakt-{media_type}-{trakt_id}", media_type=media_type, title=title, source="trakt",
                 overview=f"Trakt's overview of {title}.", genres=("anime", "fantasy"), year=year, rating=8.5,
                 votes=40000, trakt_id=trakt_id, imdb_id=f"tt{trakt_id:07d}", slug=name_key(title))
    return dataclasses.replace(base, **changes)


def test_records_sharing_a_tmdb_id_merge_keeping_every_name_overview_and_id():
    film = tmdb_film(129, "Spirited Away", 2001, original_title="千と千尋の神隠し")
    entry = anime(311, "Spirited Away", 2001, 129, original_title="千と千尋の神隠し", aliases=("千与千寻",))
    [(title, records)] = merge_groups([entry, film])
    assert title.title_id == "tmdb-movie-129" and [r.title_id for r in records] == ["tmdb-movie-129", "bgm-311"]
    assert title.title == "Spirited Away" and title.original_title == "千と千尋の神隠し" and title.aliases == ("千与千寻",)
    assert title.overview == film.overview
    assert title.overviews == (("en", film.overview), ("zh", entry.overview))
    assert title.votes == 3000 and title.country == "JP" and title.people == film.people  # first source that has it
    assert title.keywords == ("bathhouse", "宫崎骏") and title.genres == film.genres


def test_tmdb_ids_compare_only_within_their_kind():
    film = tmdb_film(62211, "Monsters University", 2013)
    show = anime(144637, "Sonic Boom", 2014, 62211, media_type="show")
    assert len(group_records([film, show])) == 2
    assert show.links()["TMDB"] == "https://www.themoviedb.org/tv/62211"
    assert film.links()["TMDB"] == "https://www.themoviedb.org/movie/62211"


def test_seasons_of_one_source_sharing_a_tv_id_stay_apart_and_trakt_joins_the_matching_one():
    seasons = [anime(1000 + n, f"Golden Kamuy {n}" if n > 1 else "Golden Kamuy", year, 75214, media_type="show")
               for n, year in ((1, 2018), (2, 2018), (3, 2020), (4, 2023))]
    series = trakt(7, "Golden Kamuy", 2018, media_type="show", tmdb_id=75214)
    groups = group_records([*seasons, series])
    assert len(groups) == 4
    assert [r.title_id for r in groups[0]] == ["trakt-show-7", "bgm-1001"]  # the same id, name and year


def test_names_merge_records_without_common_ids_but_never_across_years_types_or_conflicting_ids():
    film = tmdb_film(149, "Akira", 1988)
    assert len(group_records([film, anime(5118, "AKIRA", 1988, None)])) == 1
    assert len(group_records([film, anime(5118, "AKIRA", 1991, None)])) == 2  # another year
    assert len(group_records([film, anime(5118, "AKIRA", 1988, None, media_type="show")])) == 2
    assert len(group_records([film, anime(5118, "AKIRA", 1988, 555)])) == 2  # another film's id
    assert len(group_records([film, tmdb_film(150, "Akira", 1988)])) == 2  # one source: two works


def test_a_shared_id_years_apart_is_a_mapping_error_and_the_lesser_record_loses_the_film_id():
    film, entry = tmdb_film(8953, "Steamboy", 2004), anime(1938, "Steamboy", 2004, 8953)
    prequel = anime(114130, "Steam Boy", 2007, 8953)
    merged = {title.title_id: title for title, _ in merge_groups([film, entry, prequel])}
    assert set(merged) == {"tmdb-movie-8953", "bgm-114130"}
    assert merged["tmdb-movie-8953"].tmdb_id == 8953 and merged["bgm-114130"].tmdb_id is None


def test_grouping_is_the_same_whatever_the_order_of_the_records():
    records = [tmdb_film(129, "Spirited Away", 2001), anime(311, "Spirited Away", 2001, 129),
               anime(312, "Spirited Away", 2001, 129), trakt(199, "Spirited Away", 2001, tmdb_id=129),
               tmdb_film(149, "Akira", 1988), anime(5118, "AKIRA", 1988, None), anime(5119, "Akira", 1988, None),
               *(anime(1000 + n, "Golden Kamuy", 2018, 75214, media_type="show") for n in range(3))]
    expected = merge_groups(records)
    for seed in range(20):
        shuffled = random.Random(seed).sample(records, len(records))
        assert merge_groups(shuffled) == expected
    assert [len(records) for _, records in expected] == [3, 2, 1, 1, 1, 1, 1]


def test_one_record_is_its_own_title_unchanged():
    record = trakt(1, "Alone", 2020)
    assert merge_records([record]) is record
    assert {"trakt:movie:1", "imdb:tt0000001", "name:movie:2020:alone"} == match_keys(record)


def test_merging_is_a_function_of_the_set_of_records():
    records = [tmdb_film(129, "Spirited Away", 2001), anime(311, "千と千尋の神隠し", 2001, 129),
               trakt(199, "Spirited Away", 2001, tmdb_id=129)]
    titles = {merge_records(list(order)) for order in itertools.permutations(records)}
    assert len(titles) == 1
    [title] = titles
    assert title.title_id == "trakt-movie-199" and title.source == "trakt" and title.people == records[0].people
    assert (title.trakt_id, title.tmdb_id, title.imdb_id) == (199, 129, "tt0000199")
    assert {"千と千尋の神隠し", "千と千尋の神隠し (ja)"} <= set(title.aliases)


def test_a_stored_record_reads_back_equal():
    from flixrec.works import record_from_json, record_to_json

    records = [tmdb_film(129, "Spirited Away", 2001), anime(311, "千と千尋の神隠し", 2001, 129,
                                                            overviews=(("zh", "简介"), ("en", "An overview."))),
               trakt(7, "Golden Kamuy", 2018, media_type="show", tmdb_id=75214),
               Title("x-1", "movie", "Bare", "test")]
    for record in records:
        again = record_from_json(json.loads(json.dumps(record_to_json(record))))
        assert again == record and again.record_hash == record.record_hash


def test_the_stored_json_is_the_record_as_json_whether_its_hash_was_computed_or_not():
    import orjson

    from flixrec.works import record_from_json, record_json, record_to_json

    records = [anime(311, "千と千尋の神隠し", 2001, 129, overviews=(("zh", "简介"), ("en", "An overview."))),
               tmdb_film(129, "Spirited Away", 2001), Title("x-1", "movie", "Bare", "test")]
    for record in records:
        expected = json.loads(json.dumps(record_to_json(record)))
        assert orjson.loads(record_json(record)) == expected
        assert record.record_hash and orjson.loads(record_json(record)) == expected  # the cached hash left out
        assert record_from_json(orjson.loads(record_json(record))) == record
