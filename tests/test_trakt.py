"""Trakt ingest against a real local fake Trakt: mapping, pagination, retries, pacing, crawls, the key's secrecy."""

from __future__ import annotations

import dataclasses
import datetime as dt
import logging
import time
from pathlib import Path

import pytest
from fake_trakt import FakeTrakt

from flixrec.catalog import Catalog, title_to_row, utcnow
from flixrec.config import Settings
from flixrec.errors import ConfigError, FlixrecError
from flixrec.models import MAX_CREW_PER_JOB
from ingest.__main__ import main as ingest_main
from ingest.errors import IngestError, TraktAuthError, TraktRateLimited
from ingest.trakt.client import Pacer, TraktClient
from ingest.trakt.crawl import popular_plan, run_crawl, search_plan, updates_plan
from ingest.trakt.mapping import to_people, to_title
from ingest.trakt.people import crawl_people

KEY = "fake-client-id"


@pytest.fixture
def fake_trakt():
    """A fake Trakt with 300 movies and 60 shows (every 7th record has only nulls), fast faults."""
    with FakeTrakt(movies=300, shows=60, client_id=KEY, slow_seconds=0.6) as fake:
        yield fake


def client_for(fake: FakeTrakt, **kwargs) -> TraktClient:
    """A client with test-sized timeouts and backoffs (pacing off unless given)."""
    return TraktClient(kwargs.pop("client_id", KEY), fake.url, **{"timeout": 0.3, "backoff": 0.01, **kwargs})


def expected_titles(fake: FakeTrakt, media: str, keep=lambda record: True) -> dict[str, object]:
    """What the catalogue must hold after crawling the fake: its records, mapped."""
    return {t.title_id: t for t in (to_title(r, media) for r in fake.catalogue(media) if keep(r))}


def stored(catalog: Catalog, media: str) -> dict[str, object]:
    """The catalogue's titles of one media type, by id."""
    return {t.title_id: t for t in catalog.iter_titles(with_people=True) if t.media_type == media}


def cli(fake: FakeTrakt, home: Path, monkeypatch: pytest.MonkeyPatch, *args: str, key: str = KEY) -> int:
    """Run `python -m ingest trakt ...` in-process against the fake."""
    monkeypatch.setenv("FLIXREC_HOME", str(home))
    monkeypatch.setenv("TRAKT_BASE_URL", fake.url)
    monkeypatch.setenv("TRAKT_CLIENT_ID", key)
    return ingest_main(["-q", "trakt", *args, "--backoff", "0.01"] if args[0] != "status" else ["-q", "trakt", *args])


# ---- mapping ------------------------------------------------------------------------------------------


def test_a_full_movie_and_show_map_every_field(fake_trakt):
    movie = to_title(fake_trakt.record("movie", 1), "movie")
    record = fake_trakt.record("movie", 1)
    assert movie.title_id == "trakt-movie-1" and movie.source == "trakt" and movie.media_type == "movie"
    assert (movie.title, movie.year, movie.released, movie.runtime) == tuple(
        record[k] for k in ("title", "year", "released", "runtime"))
    assert isinstance(movie.rating, float) and movie.rating == record["rating"] and movie.votes == record["votes"]
    assert (movie.trakt_id, movie.tmdb_id, movie.imdb_id, movie.slug) == (1, 500001, "tt1000001", record["ids"]["slug"])
    assert movie.genres == tuple(record["genres"]) and movie.overview == record["overview"]
    assert movie.network is None and movie.aired_episodes is None
    show = to_title(fake_trakt.record("show", 2), "show")
    srecord = fake_trakt.record("show", 2)
    assert show.title_id == "trakt-show-2" and show.released == srecord["first_aired"]
    assert (show.network, show.status, show.aired_episodes) == tuple(
        srecord[k] for k in ("network", "status", "aired_episodes"))


def test_a_record_with_every_extended_field_null_maps_to_nulls(fake_trakt):
    for media in ("movie", "show"):
        title = to_title(fake_trakt.record(media, 7), media)
        assert title.title_id == f"trakt-{media}-7"
        always = ("title_id", "media_type", "title", "source", "trakt_id", "aliases", "genres", "keywords", "people",
                  "source_updated_at")  # Trakt sends updated_at on every record
        nullable = [f.name for f in dataclasses.fields(title) if f.name not in always]
        assert all(getattr(title, name) is None for name in nullable), title
        assert title.genres == ()
    assert to_title({"title": "No id", "ids": {"trakt": None}}, "movie") is None
    assert to_title({"title": None, "original_title": None, "ids": {"trakt": 9}}, "movie") is None


def by_role(people):
    """Credits in the catalogue's order: by role, then position."""
    return sorted(people, key=lambda p: (p.role, p.position))


def test_people_keep_cast_order_and_only_directors(fake_trakt):
    data = fake_trakt.people("movie", 10)  # 10 % 5 == 0: two directors
    people = to_people(data)
    cast = [p for p in people if p.role == "cast"]
    directors = [p for p in people if p.role == "director"]
    assert [p.person_id for p in cast] == [f"trakt-person-{c['person']['ids']['trakt']}" for c in data["cast"]]
    assert [p.position for p in cast] == list(range(len(cast))) and cast[0].character == "Role 0"
    wanted = {f"trakt-person-{d['person']['ids']['trakt']}"
              for d in data["crew"]["directing"] if d["job"] == "Director"}
    assert {p.person_id for p in directors} == wanted and len(directors) == 2
    assert to_people(None) == () and to_people({"cast": None, "crew": None}) == ()


def test_key_crew_are_kept_one_credit_each_and_capped_per_job(fake_trakt):
    data = fake_trakt.people("movie", 10)
    crew = [p for p in to_people(data) if p.role == "crew"]
    composer = data["crew"]["sound"][0]["person"]["name"]  # also listed as a producer: one credit, the first job
    assert [(p.name, p.job) for p in crew if p.name == composer] == [(composer, "Original Music Composer")]
    executives = [p for p in crew if p.job == "Executive Producer"]
    assert len(data["crew"]["production"]) == 7 and len(executives) == MAX_CREW_PER_JOB  # credit order kept
    assert [p.name for p in executives] == [e["person"]["name"] for e in data["crew"]["production"][1:1 + MAX_CREW_PER_JOB]]
    assert [p.position for p in crew] == list(range(len(crew)))


def test_catalogue_row_hash_equals_the_models_hash(fake_trakt):
    for media in ("movie", "show"):
        for trakt_id in (1, 2, 7):
            title = to_title(fake_trakt.record(media, trakt_id), media, to_people(fake_trakt.people(media, trakt_id)))
            assert title_to_row(title, utcnow())["record_hash"] == title.record_hash


# ---- the client: pagination, retries, errors -------------------------------------------------------------


def test_paginate_sends_page_and_limit_and_trusts_the_headers(fake_trakt):
    with client_for(fake_trakt) as client:
        pages = list(client.paginate("/search/movie", {"query": "", "extended": "full"}, limit=1000))
    assert [p.number for p in pages] == [1, 2] and all(p.limit == 250 for p in pages)  # clamped by the server
    assert [len(p.items) for p in pages] == [250, 50] and pages[0].item_count == 300 and pages[-1].is_last
    assert all(q.get("limit") == "1000" and "page" in q for q in fake_trakt.queries)
    with client_for(fake_trakt) as client:
        pages = list(client.paginate("/shows/popular", {"extended": "full"}, start_page=2, limit=25))
    assert [p.number for p in pages] == [2, 3] and sum(len(p.items) for p in pages) == 35


def test_retries_every_kind_of_failure_then_succeeds(fake_trakt):
    fake_trakt.inject("429", "429-no-retry-after", "429-html", "500", "502", "503", "slow", "malformed")
    with client_for(fake_trakt) as client:
        page = client.get_page("/search/movie", {"query": ""}, 1, 100)
    assert len(page.items) == 100
    deadline = time.monotonic() + 2
    while any(status == 0 for *_, status in fake_trakt.requests) and time.monotonic() < deadline:
        time.sleep(0.02)  # the slow answer is logged when the server finishes it, after our timeout
    statuses = [status for *_, status in sorted(fake_trakt.requests)]
    assert statuses == [429, 429, 429, 500, 502, 503, 200, 200, 200]  # the slow answer is cut by the timeout
    assert client.requests_sent == 4  # 429 without Retry-After and the malformed page come back to our own loop


def test_retry_after_is_honoured(fake_trakt):
    fake_trakt.retry_after = "1"
    fake_trakt.inject("429")
    with client_for(fake_trakt) as client:
        started = time.monotonic()
        client.get_page("/movies/popular", {}, 1, 10)
    assert time.monotonic() - started >= 1.0
    assert [status for *_, status in fake_trakt.requests] == [429, 200]


def test_rate_limit_and_auth_errors_after_bounded_retries(fake_trakt):
    fake_trakt.inject(*["429-html"] * 4)
    with client_for(fake_trakt, rate_limit_retries=3) as client, pytest.raises(TraktRateLimited, match="429"):
        client.get_page("/movies/popular", {}, 1, 10)
    assert len(fake_trakt.requests) == 4
    with client_for(fake_trakt, client_id="wrong-key") as client, pytest.raises(TraktAuthError, match="HTTP 401"):
        client.get_page("/movies/popular", {}, 1, 10)
    fake_trakt.inject("403")
    with client_for(fake_trakt) as client, pytest.raises(TraktAuthError, match="HTTP 403"):
        client.get_page("/movies/popular", {}, 1, 10)


def test_the_key_comes_from_the_environment_or_secrets_toml(tmp_path, monkeypatch):
    secrets = tmp_path / "secrets.toml"
    monkeypatch.delenv("TRAKT_CLIENT_ID", raising=False)
    monkeypatch.delenv("FLIXREC_MODEL", raising=False)
    monkeypatch.setenv("FLIXREC_HOME", str(tmp_path))
    with pytest.raises(ConfigError, match="https://trakt.tv/oauth/applications"):
        Settings.from_env(secrets_file=secrets).require_trakt_key()
    secrets.write_text('TRAKT_CLIENT_ID = "from-secrets"\nFLIXREC_MODEL = "all-MiniLM-L6-v2"\n')
    settings = Settings.from_env(secrets_file=secrets)
    assert settings.require_trakt_key() == "from-secrets" and settings.model == "all-MiniLM-L6-v2"  # any setting, as in the app
    monkeypatch.setenv("TRAKT_CLIENT_ID", "from-env")
    assert Settings.from_env(secrets_file=secrets).require_trakt_key() == "from-env"  # the environment wins
    secrets.write_text('TRAKT_CLIENT_ID = "s3cr3t-unterminated\n')
    with pytest.raises(ConfigError, match="cannot read") as info:
        Settings.from_env(secrets_file=secrets)
    assert "s3cr3t" not in str(info.value)


# ---- pacing --------------------------------------------------------------------------------------------


def test_pacer_spaces_requests_evenly():
    now = [0.0]
    slept = []

    def sleep(seconds: float) -> None:
        slept.append(seconds)
        now[0] += seconds

    pacer = Pacer(500, 300.0, clock=lambda: now[0], sleep=sleep)
    starts = []
    for _ in range(1200):
        pacer.wait()
        starts.append(now[0])
    assert pacer.interval == pytest.approx(303 / 500)
    # never more than 500 request starts in any 300-second window
    assert 490 <= max(sum(1 for t in starts if s <= t < s + 300) for s in starts) <= 500


def test_pacing_holds_at_the_server_with_retries(fake_trakt):
    fake_trakt.inject("500", "502")  # retries are paced too
    with client_for(fake_trakt, pacer=Pacer(10, period=1.0, margin=0.2)) as client:
        started = time.monotonic()
        pages = list(client.paginate("/search/movie", {"query": ""}, limit=15))
    assert len(pages) == 20 and len(fake_trakt.requests) == 22
    assert time.monotonic() - started >= 2.0  # 22 requests at 10 per 1.2 s
    assert fake_trakt.max_in_window(1.0) <= 10
    assert fake_trakt.max_in_window(1.0) >= 8  # and it does use the rate it is given


# ---- crawls ---------------------------------------------------------------------------------------------


def test_full_crawl_equals_the_fake_catalogue_despite_faults(fake_trakt, tmp_path, monkeypatch, capsys):
    fake_trakt.inject("429", "500", "slow", "malformed", "429-html", "503")
    assert cli(fake_trakt, tmp_path, monkeypatch, "search", "--years", "all", "--limit", "40", "--rate", "0",
               "--timeout", "0.3") == 0
    out = capsys.readouterr().out
    assert "movie search: 300 new, 0 updated, 0 unchanged, 0 skipped, 8 pages, 0 failed pages; complete" in out
    assert "show search: 60 new" in out
    catalog = Catalog.open(Settings.from_env().database_url)
    for media in ("movie", "show"):
        assert stored(catalog, media) == expected_titles(fake_trakt, media)
    # Idempotent: the same crawl again is already complete; with --restart nothing changes.
    assert cli(fake_trakt, tmp_path, monkeypatch, "search", "--years", "all", "--limit", "40", "--rate", "0",
               "--restart", "--type", "movie") == 0
    assert "movie search: 0 new, 0 updated, 300 unchanged" in capsys.readouterr().out
    assert catalog.count() == 360


def test_search_over_year_ranges_and_popular_with_filters(fake_trakt, catalog):
    with client_for(fake_trakt) as client:
        summary = run_crawl(client, catalog, search_plan("movie", (1950, 1999), step=7), limit=20)
        assert summary.done and summary.pages >= 8
        in_range = expected_titles(fake_trakt, "movie", lambda r: r["year"] is not None and 1950 <= r["year"] <= 1999)
        assert stored(catalog, "movie") == in_range
        summary = run_crawl(client, catalog, popular_plan("show", {"languages": "fr,de"}), limit=5)
    wanted = expected_titles(fake_trakt, "show", lambda r: r["language"] in ("fr", "de"))
    assert summary.done and summary.new == len(wanted) and set(stored(catalog, "show")) == set(wanted)


def test_a_failing_page_is_recorded_skipped_and_retried_next_run(fake_trakt, catalog):
    fake_trakt.break_page("/search/movie", 3, *["malformed"] * 4, "500")
    with client_for(fake_trakt, retries=1) as client:
        first = run_crawl(client, catalog, search_plan("movie", None), limit=50)
        assert first.failed_pages == [[0, 3]] and first.done
        assert catalog.count() == 250 and catalog.get_state(search_plan("movie", None).key)["failed"] == [[0, 3]]
        second = run_crawl(client, catalog, search_plan("movie", None), limit=50)
    assert second.failed_pages == [] and second.new == 50 and second.pages == 1
    assert stored(catalog, "movie") == expected_titles(fake_trakt, "movie")


def test_dry_run_writes_nothing(fake_trakt, tmp_path, monkeypatch, capsys):
    assert cli(fake_trakt, tmp_path, monkeypatch, "search", "--years", "all", "--rate", "0", "--dry-run") == 0
    assert "dry run, nothing written: movie search: 300 new" in capsys.readouterr().out
    catalog = Catalog.open(Settings.from_env().database_url)
    assert catalog.count() == 0 and catalog.states("trakt:") == {}


def test_incremental_sync_updates_only_changed_titles(fake_trakt, catalog):
    with client_for(fake_trakt) as client:
        run_crawl(client, catalog, search_plan("movie", None))
        before = {t.title_id: t for t in catalog.iter_titles()}
        hashes = catalog.hashes()
        fake_trakt.update_title("movie", 11, overview="A new overview.")
        fake_trakt.update_title("movie", 12, votes=123456)  # not part of the embedding text
        fake_trakt.update_title("movie", 14, overview="Fills a null record.")  # 14 % 7 == 0: was all nulls
        summary = run_crawl(client, catalog, updates_plan(catalog, "movie"))
    assert (summary.new, summary.updated, summary.unchanged) == (0, 3, 0) and summary.done
    after = {t.title_id: t for t in catalog.iter_titles()}
    changed = {tid for tid in after if after[tid] != before[tid]}
    assert changed == {"trakt-movie-11", "trakt-movie-12", "trakt-movie-14"}
    new_hashes = catalog.hashes()
    assert {tid for tid in hashes if hashes[tid] != new_hashes[tid]} == {"trakt-movie-11", "trakt-movie-14"}
    assert after["trakt-movie-12"].votes == 123456
    state = catalog.get_state("trakt:updates:movie")
    assert state["done"] and state["last_sync"] >= state["start_date"][:13]
    updates_paths = [p for _, p, _, s in fake_trakt.requests if "/updates/" in p]
    # start_date is to the hour, an hour before the full crawl started
    assert updates_paths and updates_paths[0].endswith(":00:00Z")


def test_updates_never_reach_back_more_than_30_days(fake_trakt, catalog):
    now = dt.datetime(2026, 11, 24, 15, 40, tzinfo=dt.UTC)
    plan = updates_plan(catalog, "show", since=now - dt.timedelta(days=90), now=now)
    assert plan.segments[0].path == "/shows/updates/2026-10-25T16:00:00Z"


def test_people_crawl_is_checkpointed_and_survives_a_recrawl(fake_trakt, catalog):
    with client_for(fake_trakt) as client:
        run_crawl(client, catalog, search_plan("show", None))
        first = crawl_people(client, catalog, "show", max_titles=20, batch_size=8)
        assert first.titles == 20 and not first.done
        rest = crawl_people(client, catalog, "show", batch_size=8)
        assert rest.titles == 40 and rest.done
        recrawl = run_crawl(client, catalog, search_plan("show", None), restart=True)
    assert (recrawl.new, recrawl.updated, recrawl.unchanged) == (0, 0, 60)
    show = catalog.get_title("trakt-show-10")
    assert by_role(show.people) == by_role(to_people(fake_trakt.people("show", 10), media="show"))
    assert show.crew == [(e["person"]["name"], "Director of Photography")
                         for e in fake_trakt.people("show", 10)["crew"]["camera"]]  # key crew are kept
    assert len(show.creators) == 2 and show.directors == []  # a show's directors direct episodes (issue 15)
    assert show.cast == [c["person"]["name"] for c in fake_trakt.people("show", 10)["cast"]]


# ---- the key never shows --------------------------------------------------------------------------------


def test_the_api_key_never_appears_in_logs_output_errors_or_the_database(tmp_path, monkeypatch, caplog, capfd):
    secret = "SeCrEt-TRAKT-KEY-5f3c9a7e1d"
    caplog.set_level(logging.DEBUG)  # urllib3 and requests log every request at DEBUG
    with FakeTrakt(movies=120, shows=20, client_id=secret, slow_seconds=0.6) as fake:
        fake.inject("429", "429-html", "500", "slow", "malformed")
        fake.break_page("/search/show", 1, *["malformed"] * 12)
        code = ingest_main_with(fake, tmp_path, monkeypatch, secret, "trakt", "search", "--years", "all",
                                "--limit", "50", "--rate", "0", "--timeout", "0.3", "--backoff", "0.01")
        assert code == 1  # the show page kept failing: recorded, reported
        assert cli(fake, tmp_path, monkeypatch, "people", "--type", "movie", "--rate", "0", key=secret) == 0
        assert cli(fake, tmp_path, monkeypatch, "status", key=secret) == 0
        assert cli(fake, tmp_path, monkeypatch, "popular", "--rate", "0", key=secret + "-wrong") == 2
        with TraktClient(secret, fake.url) as client, TraktClient(secret + "x", fake.url) as wrong:
            with pytest.raises(TraktAuthError) as rejected:
                wrong.get("/movies/popular")
    out, err = capfd.readouterr()
    assert "Trakt rejected the API key" in err and "failed pages" in out
    settings = Settings.from_mapping({"TRAKT_CLIENT_ID": secret, "FLIXREC_HOME": str(tmp_path)})
    for text in (caplog.text, out, err, repr(client), repr(settings), str(rejected.value), repr(rejected.value)):
        assert secret not in text
    assert "urllib3" in caplog.text  # the debug logs were captured, so the check above means something
    for path in tmp_path.rglob("*"):
        if path.is_file():
            assert secret.encode() not in path.read_bytes(), path


def ingest_main_with(fake: FakeTrakt, home: Path, monkeypatch: pytest.MonkeyPatch, key: str, *args: str) -> int:
    """`python -m ingest ...` (not quiet: progress bars on) against the fake."""
    monkeypatch.setenv("FLIXREC_HOME", str(home))
    monkeypatch.setenv("TRAKT_BASE_URL", fake.url)
    monkeypatch.setenv("TRAKT_CLIENT_ID", key)
    return ingest_main(list(args))


def test_missing_key_is_a_clear_error_with_exit_code_2(tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("FLIXREC_HOME", str(tmp_path))
    assert ingest_main(["trakt", "search", "--secrets-file", str(tmp_path / "none.toml")]) == 2
    err = capsys.readouterr().err
    assert err.startswith("error: no Trakt API key") and "TRAKT_CLIENT_ID" in err and "Traceback" not in err


def test_an_interrupted_incremental_sync_resumes_its_own_window(fake_trakt, catalog):
    with client_for(fake_trakt) as client:
        run_crawl(client, catalog, search_plan("movie", None))
        for trakt_id in range(20, 32):
            fake_trakt.update_title("movie", trakt_id, tagline=f"Changed {trakt_id}.")
        first = run_crawl(client, catalog, updates_plan(catalog, "movie"), limit=5, max_pages=1)
        assert (first.updated, first.done) == (5, False)
        window = catalog.get_state("trakt:updates:movie")["start_date"]
        later = dt.datetime.now(dt.UTC) + dt.timedelta(hours=3)
        plan = updates_plan(catalog, "movie", now=later)  # hours later, the same window resumes at page 2
        assert plan.extra_state["start_date"] == window
        rest = run_crawl(client, catalog, plan, limit=5)
    assert (rest.updated, rest.unchanged, rest.done) == (7, 0, True)
    assert fake_trakt.pages_served(f"/movies/updates/{window}") == [1, 2, 3]
    assert catalog.get_title("trakt-movie-31").tagline == "Changed 31."


# ---- arguments are checked before anything runs --------------------------------------------------------


@pytest.mark.parametrize(("args", "message"), [
    (["search", "--years", "19x0"], "argument --years: '19x0' is not a year or a range like 1990-1999 (or 'all')"),
    (["search", "--years", "2000-1990"], "argument --years: '2000-1990': the first year is after the last"),
    (["search", "--step", "0"], "argument --step: '0' is not a positive whole number"),
    (["search", "--limit", "-5"], "argument --limit: '-5' is not a positive whole number"),
    (["popular", "--rate", "lots"], "argument --rate: 'lots' is not a whole number of 0 or more"),
    (["updates", "--since", "yesterday"], "argument --since: 'yesterday' is not a UTC time like 2026-11-20T13"),
    (["people", "--timeout", "nan"], "argument --timeout: 'nan' is not a positive number"),
    (["search", "--step", "-1"], "argument --step: '-1' is not a positive whole number"),  # wrote a last-sync time
    (["people", "--batch-size", "0"], "argument --batch-size: '0' is not a positive whole number"),
    (["people", "--timeout", "0"], "argument --timeout: '0' is not a positive number"),
    (["search", "--timeout", "0"], "argument --timeout: '0' is not a positive number"),
])
def test_bad_arguments_are_one_error_line_exit_2_and_nothing_written(tmp_path, monkeypatch, capsys, args, message):
    monkeypatch.setenv("FLIXREC_HOME", str(tmp_path / "home"))
    monkeypatch.setenv("TRAKT_CLIENT_ID", KEY)
    with pytest.raises(SystemExit) as exited:
        ingest_main(["trakt", *args])
    assert exited.value.code == 2
    err = capsys.readouterr().err
    errors = [line for line in err.splitlines() if ": error: " in line]
    assert len(errors) == 1 and message in errors[0] and "Traceback" not in err
    assert not (tmp_path / "home").exists()


def test_trakt_errors_carry_their_context_without_the_key(fake_trakt):
    with client_for(fake_trakt, client_id="wrong-key") as client, pytest.raises(TraktAuthError) as rejected:
        client.get_page("/movies/popular", {}, 3, 10)
    error = rejected.value
    assert (error.status, error.path, error.page) == (401, "/movies/popular", 3)
    assert error.url == f"{fake_trakt.url}/movies/popular" and "wrong-key" not in str(error) + error.url
    assert isinstance(error, IngestError) and isinstance(error, FlixrecError)


# ---- one title per work ----------------------------------------------------------------------------------


def test_a_crawl_over_the_demo_catalogue_merges_instead_of_duplicating(fake_trakt, catalog):
    from flixrec.models import Person, Title

    year = fake_trakt.record("movie", 3)["year"]  # the fake's movie 3 and show 3 share TMDB number 500003
    film = Title("tmdb-movie-500003", "movie", "Demo Film", "tmdb5000", overview="A film from TMDB-5000.", year=year,
                 tmdb_id=500003, people=(Person("tmdb-9", "A Director", "director"),))
    show = Title("bgm-9", "show", "Demo Show", "bgmd", overview="一部动画。", year=year, tmdb_id=500003)
    catalog.upsert_titles([film, show])
    with client_for(fake_trakt) as client:
        movies = run_crawl(client, catalog, search_plan("movie", None))
        shows = run_crawl(client, catalog, search_plan("show", None))
        assert (movies.new, shows.new) == (300, 60)
        assert catalog.count() == 360  # the two demo titles merged, each into its own kind
        merged_film, merged_show = catalog.get_title("tmdb-movie-500003"), catalog.get_title("bgm-9")
        assert (merged_film.title_id, merged_show.title_id) == ("trakt-movie-3", "trakt-show-3")
        assert "Demo Film" in merged_film.aliases and "Demo Show" in merged_show.aliases
        assert merged_film.directors == ["A Director"] and merged_film.tmdb_id == 500003
        assert [lang for lang, _ in merged_show.overview_versions()] == ["en", "zh"]
        again = run_crawl(client, catalog, search_plan("movie", None), restart=True)
        assert (again.new, again.updated, again.unchanged) == (0, 0, 300) and catalog.count() == 360
        crawl_people(client, catalog, "movie")  # the Trakt record's own people now lead
    wanted = by_role(to_people(fake_trakt.people("movie", 3)))
    assert by_role(catalog.get_title("tmdb-movie-500003").people) == wanted
    assert by_role(catalog.find_records(["trakt-movie-3"])["trakt-movie-3"].people) == wanted
