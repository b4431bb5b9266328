"""Trakt as the real API behaves (issue 15): each defect found replaying real responses has a test here.

The fake is switched into the real API's misbehaviours (lagging page counts, empty and short pages
mid-listing, missing pagination headers, Cloudflare's HTML errors, Retry-After: 300, redirects) and the
people and record shapes come from Trakt's published schemas and client libraries' recorded answers.
"""

from __future__ import annotations

import dataclasses
import logging
from pathlib import Path

import pytest
from fake_trakt import FakeTrakt
from test_trakt import KEY
from test_trakt import client_for as shared_client_for

from flixrec.catalog import Catalog
from flixrec.config import Settings
from flixrec.models import Person
from ingest.__main__ import main as ingest_main
from ingest.errors import TraktAuthError, TraktPageError
from ingest.trakt.client import TraktClient
from ingest.trakt.crawl import popular_plan, run_crawl, search_plan, updates_plan
from ingest.trakt.mapping import to_people, to_title
from ingest.trakt.people import crawl_people



@pytest.fixture
def fake59():
    """59 movies and 12 shows: at limit 10 a listing has six pages, the last one short."""
    with FakeTrakt(movies=59, shows=12, client_id=KEY, slow_seconds=0.6) as fake:
        yield fake


def client_for(fake: FakeTrakt, **kwargs) -> TraktClient:
    """A client with test-sized timeouts and backoffs (pacing off)."""
    return shared_client_for(fake, **{"timeout": 0.5, **kwargs})


def stored_ids(catalog: Catalog, media: str) -> set[str]:
    """The ids of the catalogue's titles of one media type."""
    return {t.title_id for t in catalog.iter_titles() if t.media_type == media}


def all_ids(fake: FakeTrakt, media: str) -> set[str]:
    """Every id the fake holds for this media type."""
    return {f"trakt-{media}-{i}" for i in fake.ids(media)}


def cli(fake: FakeTrakt, home: Path, monkeypatch: pytest.MonkeyPatch, *args: str) -> int:
    """`python -m ingest -q trakt ...` in-process against the fake."""
    monkeypatch.setenv("FLIXREC_HOME", str(home))
    monkeypatch.setenv("TRAKT_BASE_URL", fake.url)
    monkeypatch.setenv("TRAKT_CLIENT_ID", KEY)
    extra = [] if args[0] == "status" else ["--backoff", "0.01", "--rate", "0"]
    return ingest_main(["-q", "trakt", *args, *extra])


# ---- 1-3: pagination never ends a listing early, and never says complete with rows missing -----------------


def test_1_a_lagging_page_count_does_not_truncate_the_crawl(fake59, tmp_path, monkeypatch, capsys):
    fake59.page_count_lag = 1  # Trakt says 5 pages; 6 hold rows
    assert cli(fake59, tmp_path, monkeypatch, "popular", "--type", "movie", "--limit", "10") == 0
    out = capsys.readouterr().out
    assert "movie popular: 59 new" in out and "; complete" in out
    catalog = Catalog.open(Settings.from_env().database_url)
    assert stored_ids(catalog, "movie") == all_ids(fake59, "movie")
    assert fake59.pages_served("/movies/popular") == [1, 2, 3, 4, 5, 6]


def test_2_an_empty_page_mid_listing_is_retried_not_taken_for_the_end(fake59, catalog):
    fake59.empty_pages[("/movies/popular", 2)] = 1  # served empty once, then with its rows
    with client_for(fake59) as client:
        summary = run_crawl(client, catalog, popular_plan("movie"), limit=10)
    assert summary.done and summary.short == [] and summary.failed_pages == []
    assert stored_ids(catalog, "movie") == all_ids(fake59, "movie")
    assert fake59.pages_served("/movies/popular") == [1, 2, 3, 4, 5, 6, 2]


def test_2_a_listing_that_stays_short_is_never_reported_complete(fake59, tmp_path, monkeypatch, capsys):
    fake59.empty_pages[("/movies/popular", 2)] = -1  # always empty
    fake59.short_pages[("/movies/popular", 4)] = 3  # three rows Trakt counts but never serves
    assert cli(fake59, tmp_path, monkeypatch, "popular", "--type", "movie", "--limit", "10") == 1
    out = capsys.readouterr().out
    assert "movie popular: 46 new" in out and "ended short: popular: 46 of 59 rows" in out
    assert "complete" not in out.replace("complete;", "")
    assert cli(fake59, tmp_path, monkeypatch, "popular", "--type", "movie", "--limit", "10") == 1  # a rerun too
    assert "complete" not in capsys.readouterr().out
    assert cli(fake59, tmp_path, monkeypatch, "status") == 0
    status = capsys.readouterr().out
    assert "popular: 46 of 59 rows, 5 pages; ENDED SHORT" in status


def test_2_a_short_listing_is_not_already_complete_on_the_next_run(fake59, tmp_path, monkeypatch, capsys):
    fake59.short_pages[("/movies/popular", 3)] = 2  # two rows Trakt counts but never serves
    assert cli(fake59, tmp_path, monkeypatch, "popular", "--type", "movie", "--limit", "10") == 1
    assert "ended short: popular: 57 of 59 rows" in capsys.readouterr().out
    assert cli(fake59, tmp_path, monkeypatch, "popular", "--type", "movie", "--limit", "10") == 1
    out = capsys.readouterr().out
    assert "already crawled, but it ended short: popular: 57 of 59 rows" in out and "complete" not in out
    fake59.short_pages.clear()
    assert cli(fake59, tmp_path, monkeypatch, "popular", "--type", "movie", "--limit", "10", "--restart") == 0
    assert "movie popular: 2 new, 0 updated, 57 unchanged" in capsys.readouterr().out


def test_3_missing_pagination_headers_with_a_limit_above_250(catalog):
    with FakeTrakt(movies=700, shows=0, client_id=KEY) as fake:
        fake.headerless = {"updates"}
        with client_for(fake) as client:
            run_crawl(client, catalog, search_plan("movie", None))
            for trakt_id in range(1, 601):
                fake.overrides[("movie", trakt_id)] = {"tagline": f"Changed {trakt_id}.",
                                                       "updated_at": "2099-01-01T00:00:00.000Z"}
            fake._listings.clear()
            summary = run_crawl(client, catalog, updates_plan(catalog, "movie"), limit=1000)
        assert summary.done and summary.updated == 600 and summary.short == []
        assert [int(q["limit"]) for q, (_, p, _, _) in zip(fake.queries, fake.requests) if "/updates/" in p] == [1000] * 3
    assert catalog.get_title("trakt-movie-600").tagline == "Changed 600."


def test_3_the_cli_refuses_a_limit_trakt_would_clamp(tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("FLIXREC_HOME", str(tmp_path / "home"))
    monkeypatch.setenv("TRAKT_CLIENT_ID", KEY)
    with pytest.raises(SystemExit) as exited:
        ingest_main(["trakt", "updates", "--limit", "1000"])
    assert exited.value.code == 2
    assert "argument --limit: '1000' is above 250, the most rows Trakt serves per page" in capsys.readouterr().err
    assert not (tmp_path / "home").exists()


def test_headers_that_agree_the_listing_ends_on_a_full_page_cost_no_extra_request(fake59):
    with client_for(fake59) as client:
        pages = list(client.paginate("/shows/popular", {}, limit=6))  # 12 shows: two full pages
    assert [len(p.items) for p in pages] == [6, 6] and pages[-1].is_last


def test_without_headers_a_full_last_page_is_followed_by_one_empty_page(fake59):
    fake59.headerless = {"popular"}
    with client_for(fake59) as client:
        pages = list(client.paginate("/shows/popular", {}, limit=6))
    assert [len(p.items) for p in pages] == [6, 6, 0] and pages[0].item_count == -1


# ---- 4: Cloudflare's HTML errors are retried; the log counts the retries that happened ----------------------


def test_4_cloudflare_520_521_522_are_retried(fake59):
    fake59.inject("520", "522", "521")
    with client_for(fake59) as client:
        page = client.get_page("/search/movie", {"query": ""}, 1, 20)
    assert len(page.items) == 20
    assert [status for *_, status in fake59.requests] == [520, 522, 521, 200]


def test_4_an_error_says_how_many_retries_really_happened(fake59):
    fake59.break_page("/movies/popular", 1, *["522"] * 10)
    with client_for(fake59, retries=2) as client, pytest.raises(TraktPageError) as failed:
        client.get_page("/movies/popular", {}, 1, 10)
    assert "HTTP 522" in str(failed.value) and "after 2 retries" in str(failed.value)
    assert [status for *_, status in fake59.requests] == [522, 522, 522]  # and there were two
    fake59.inject("401")
    with client_for(fake59) as client, pytest.raises(TraktAuthError) as rejected:
        client.get_page("/movies/popular", {}, 1, 10)
    assert "retries" not in str(rejected.value)


def test_4_three_cloudflare_errors_in_a_row_do_not_abort_a_crawl(fake59, tmp_path, monkeypatch, capsys):
    fake59.inject("520", "522", "521", "520", "522", "521")
    assert cli(fake59, tmp_path, monkeypatch, "search", "--years", "all", "--type", "movie", "--limit", "20") == 0
    assert "movie search: 59 new" in capsys.readouterr().out


def test_4_a_429_html_page_with_retry_after_300_is_waited_out(fake59, caplog):
    caplog.set_level(logging.WARNING, logger="ingest.trakt")
    slept: list[float] = []
    fake59.inject("429-html-300")
    with client_for(fake59, sleep=slept.append) as client:
        page = client.get_page("/movies/popular", {}, 1, 10)
    assert len(page.items) == 10 and 300 in slept
    assert "asked to wait 300 s" in caplog.text
    assert [status for *_, status in fake59.requests] == [429, 200]


# ---- 5: the people crawl reaches titles added after it completed --------------------------------------------


def test_5_people_reach_titles_added_after_a_completed_people_crawl(catalog):
    with FakeTrakt(movies=30, shows=0, client_id=KEY) as fake, client_for(fake) as client:
        run_crawl(client, catalog, search_plan("movie", None))
        assert crawl_people(client, catalog, "movie").titles == 30  # the last id in text order: trakt-movie-9
        fake.counts["movie"] = 40  # trakt-movie-31 .. -40 sort below trakt-movie-9 as text
        fake._listings.clear()
        run_crawl(client, catalog, search_plan("movie", None), restart=True)
        later = crawl_people(client, catalog, "movie")
    assert later.titles == 10 and later.done
    assert all(t.people for t in catalog.iter_titles(with_people=True))


def test_5_credits_stored_before_key_crew_were_kept_are_fetched_once_more(catalog):
    with FakeTrakt(movies=6, shows=0, client_id=KEY) as fake, client_for(fake) as client:
        run_crawl(client, catalog, search_plan("movie", None))
        assert crawl_people(client, catalog, "movie").titles == 6
        before_crew = [dataclasses.replace(t, people=tuple(p for p in t.people if p.role != "crew"))
                       for t in catalog.iter_records(source="trakt")]
        catalog.upsert_titles(before_crew[:4])  # as a people crawl before issue 12 stored them
        fake.people_without_crew = True
        assert crawl_people(client, catalog, "movie").titles == 4  # asked again, once
        assert crawl_people(client, catalog, "movie").titles == 0  # Trakt lists no key crew for them: not again
        fake.people_without_crew = False
        assert crawl_people(client, catalog, "movie", restart=True).titles == 4
    assert all(t.crew for t in catalog.iter_titles(with_people=True))


def test_5_titles_trakt_has_no_people_for_are_not_asked_again(catalog):
    with FakeTrakt(movies=12, shows=0, client_id=KEY) as fake, client_for(fake) as client:
        run_crawl(client, catalog, search_plan("movie", None))
        fake.counts["movie"] = 10  # 11 and 12 vanish from Trakt: their /people answer 404
        assert crawl_people(client, catalog, "movie").missing == 2
        again = crawl_people(client, catalog, "movie")
        assert again.titles == 0 and again.done
        assert crawl_people(client, catalog, "movie", restart=True).titles == 2


# ---- 6-8: shows' people, characters, unrated titles ---------------------------------------------------------

SHOW_PEOPLE = {  # written from the shape of Trakt's /shows/{id}/people (extended=full) for a series
    "cast": [
        {"characters": ["Coach"], "character": "Coach", "episode_count": 34,
         "person": {"name": "Lead Actor", "ids": {"trakt": 11, "slug": "lead-actor"}}},
        {"characters": ["Twin A", "Twin B"], "episode_count": 12,  # no `character`
         "person": {"name": "Twin Actor", "ids": {"trakt": 12, "slug": "twin-actor"}}},
    ],
    "crew": {
        "created by": [
            {"jobs": ["Creator"], "job": "Creator", "episode_count": 34,
             "person": {"name": "Show Creator", "ids": {"trakt": 21}}},
            {"jobs": ["Creator"], "episode_count": 34, "person": {"name": "Co Creator", "ids": {"trakt": 22}}},
        ],
        "directing": [
            {"jobs": ["Director"], "job": "Director", "episode_count": 2, "person": {"name": "Guest Director", "ids": {"trakt": 31}}},
            {"jobs": ["Director"], "job": "Director", "episode_count": 9, "person": {"name": "Main Director", "ids": {"trakt": 32}}},
            {"jobs": ["Script Supervisor"], "episode_count": 34, "person": {"name": "Supervisor", "ids": {"trakt": 33}}},
        ],
        "writing": [
            {"jobs": ["Staff Writer"], "episode_count": 3, "person": {"name": "Staff", "ids": {"trakt": 41}}},
            {"jobs": ["Writer", "Story Editor"], "episode_count": 20, "person": {"name": "Head Writer", "ids": {"trakt": 42}}},
        ],
    },
}


def test_6_a_shows_people_are_its_creators_episode_directors_and_writers():
    people = to_people(SHOW_PEOPLE, media="show")
    by_role = {}
    for p in people:
        by_role.setdefault(p.role, []).append((p.name, p.job, p.episode_count))
    assert by_role["creator"] == [("Show Creator", "Creator", 34), ("Co Creator", "Creator", 34)]
    assert "director" not in by_role  # episode directors are not the show's directors
    assert by_role["episode director"] == [("Main Director", "Director", 9), ("Guest Director", "Director", 2)]
    assert by_role["writer"] == [("Head Writer", "Writer, Story Editor", 20), ("Staff", "Staff Writer", 3)]
    assert [p.episode_count for p in people if p.role == "cast"] == [34, 12]


def test_6_a_show_whose_directing_group_holds_only_a_script_supervisor_keeps_its_creators(catalog):
    with FakeTrakt(movies=0, shows=12, client_id=KEY) as fake, client_for(fake) as client:
        run_crawl(client, catalog, search_plan("show", None))
        crawl_people(client, catalog, "show")
        raw = fake.people("show", 6)
    assert [e["jobs"] for e in raw["crew"]["directing"]] == [["Script Supervisor"]]
    show = catalog.get_title("trakt-show-6")
    assert show.creators and show.directors == []
    assert not [p for p in show.people if p.role == "episode director"]
    ten = catalog.get_title("trakt-show-10")
    assert len(ten.creators) == 2 and all(p.episode_count for p in ten.people if p.role != "creator")
    assert [p.episode_count for p in ten.people if p.role == "episode director"] == [9, 3, 1]


def test_6_a_movies_people_keep_directors_and_writers_with_their_job():
    people = to_people({"crew": {"directing": [{"jobs": ["Director"], "person": {"name": "D", "ids": {"trakt": 1}}}],
                                 "writing": [{"job": "Novel", "person": {"name": "N", "ids": {"trakt": 2}}}]}})
    assert [(p.role, p.job, p.episode_count) for p in people] == [("director", "Director", None), ("writer", "Novel", None)]


def test_7_a_cast_entry_with_only_characters_keeps_them():
    twin = [p for p in to_people(SHOW_PEOPLE, media="show") if p.name == "Twin Actor"][0]
    assert twin.character == "Twin A / Twin B"
    lead = to_people({"cast": [{"characters": ["Elsa"], "person": {"name": "E", "ids": {"trakt": 5}}}]})[0]
    assert lead.character == "Elsa"


def test_8_rating_0_with_0_votes_is_unknown_not_zero(fake59, catalog):
    record = fake59.record("movie", 13)
    assert (record["rating"], record["votes"]) == (0, 0)
    title = to_title(record, "movie")
    assert title.rating is None and title.votes is None
    rated = to_title({**record, "rating": 7.5, "votes": 3}, "movie")
    assert (rated.rating, rated.votes) == (7.5, 3)
    assert to_title({**record, "rating": 0, "votes": 4}, "movie").rating == 0.0  # rated zero by four people


# ---- 9: the key never follows a redirect to another host --------------------------------------------------


def test_9_a_redirect_to_another_host_does_not_carry_the_key(fake59):
    with FakeTrakt(movies=5, shows=0, client_id=KEY, host="127.0.0.2") as elsewhere:
        fake59.redirect_to = elsewhere.url
        fake59.inject("redirect")
        with client_for(fake59) as client, pytest.raises(TraktAuthError):
            client.get_page("/movies/popular", {}, 1, 10)
        assert fake59.keys_seen == [True] and elsewhere.keys_seen == [False]


def test_9_a_redirect_on_the_same_host_keeps_the_key(fake59):
    fake59.redirect_to = fake59.url
    fake59.inject("redirect")
    with client_for(fake59) as client:
        page = client.get_page("/movies/popular", {}, 1, 10)
    assert len(page.items) == 10 and fake59.keys_seen == [True, True]


# ---- 10: bad arguments are one error line, exit 2, nothing written ----------------------------------------




def test_10_the_functions_refuse_bad_values_too(fake59, catalog):
    with pytest.raises(ValueError, match="step"):
        search_plan("movie", (1990, 1999), step=-1)
    with pytest.raises(ValueError, match="timeout"):
        TraktClient(KEY, fake59.url, timeout=0)
    with client_for(fake59) as client:
        with pytest.raises(ValueError, match="batch_size"):
            crawl_people(client, catalog, "movie", batch_size=0)
        with pytest.raises(ValueError, match="limit"):
            list(client.paginate("/movies/popular", {}, limit=0))
    assert catalog.states("trakt:") == {} and fake59.requests == []


# ---- all at once ------------------------------------------------------------------------------------------


def test_a_crawl_through_every_real_misbehaviour_at_once_stores_everything(tmp_path, monkeypatch, capsys):
    with FakeTrakt(movies=230, shows=45, client_id=KEY, slow_seconds=0.6) as fake:
        fake.page_count_lag = 2
        fake.empty_pages[("/search/movie", 3)] = 1
        fake.empty_pages[("/search/show", 2)] = 2
        fake.inject("520", "429-html", "522", "malformed", "503", "521")
        command = ("search", "--years", "all", "--limit", "20", "--timeout", "0.5")
        assert cli(fake, tmp_path, monkeypatch, *command) == 1  # one show page stayed empty: not complete
        out = capsys.readouterr().out
        assert "movie search: 230 new" in out and "movie search: 230 new, 0 updated, 0 unchanged, 0 skipped, 13 pages, 0 failed pages; complete" in out
        assert "show search: 25 new" in out and "1 failed pages" in out and "ended short: all years: 25 of 45 rows" in out
        assert cli(fake, tmp_path, monkeypatch, *command) == 0  # the same command again fills the hole
        out = capsys.readouterr().out
        assert "show search: 20 new, 0 updated, 0 unchanged, 0 skipped, 1 pages, 0 failed pages; complete" in out
        catalog = Catalog.open(Settings.from_env().database_url)
        for media in ("movie", "show"):
            assert stored_ids(catalog, media) == all_ids(fake, media)
        assert cli(fake, tmp_path, monkeypatch, "status") == 0
        status = capsys.readouterr().out
        assert "all years: 230 of 230 rows" in status and "all years: 45 of 45 rows" in status
        assert "ENDED SHORT" not in status


def test_6_shows_whose_people_were_mapped_the_old_way_are_fetched_again(catalog):
    with FakeTrakt(movies=3, shows=4, client_id=KEY) as fake, client_for(fake) as client:
        run_crawl(client, catalog, search_plan("show", None))
        run_crawl(client, catalog, search_plan("movie", None))
        old_way = (Person("trakt-person-1", "Episode Director", "director"),)  # as the old mapping stored it
        catalog.upsert_titles([dataclasses.replace(t, people=old_way) for t in catalog.iter_titles()])
        refreshed = crawl_people(client, catalog, "show")
        assert refreshed.titles == 4 and crawl_people(client, catalog, "movie").titles == 3  # no key crew yet
        assert crawl_people(client, catalog, "show").titles == crawl_people(client, catalog, "movie").titles == 0
    assert all(not t.directors and t.creators for t in catalog.iter_titles(with_people=True) if t.media_type == "show")


def test_the_fake_uses_trakts_real_default_page_sizes():
    with FakeTrakt(movies=150, shows=0, client_id=KEY) as fake, client_for(fake) as client:
        search = client.get("/search/movie", {"query": ""})
        popular = client.get("/movies/popular")
    assert len(search.data) == 50 and search.headers["X-Pagination-Limit"] == "50"
    assert len(popular.data) == 100 and popular.headers["X-Pagination-Item-Count"] == "150"
