"""Answers computed ahead (flixrec.api.answers, `python -m ingest answers`), over copies of the small home.

Filling stores every title's default similar-titles page; the API sends it with the bytes, headers and
ETag the routes answer with, and nothing else from the file; a fill that stops resumes where it stopped;
the file of another build or version, or a damaged one, is never used (a new fill replaces it); with a
key the key stays required and never lands in the file.
"""

from __future__ import annotations

import dataclasses
import logging
import shutil
import sqlite3
import subprocess
import sys
from pathlib import Path

import httpx
import pytest
from fastapi.testclient import TestClient

from api_server import home_env, running_api
from conftest import make_settings
from flixrec.api import answers, create_app
from flixrec.api.answers import StoredAnswers, answers_file, fill_answers, similar_page_path
from flixrec.api.cache import CACHE_HEADER
from flixrec.catalog import Catalog
from flixrec.config import Settings
from flixrec.models import RankingWeights, Title
from flixrec.service import FlixRec
from small_catalogue import SMALL_TITLES

INTERSTELLAR = next(t.title_id for t in SMALL_TITLES if t.title == "Interstellar")
PAGE = similar_page_path(INTERSTELLAR)
SECRET = "answers-test-key-9b1f2c"


def copied_home(small_home: Settings, where: Path, **extra: str) -> Settings:
    """A private copy of the small home (filling writes beside its snapshots)."""
    shutil.copytree(small_home.home, where)
    return make_settings(where, **extra)


def same_answer(sent: httpx.Response, routed: httpx.Response) -> bool:
    """The same headers (but the cache's own) and the same page; a score may differ in its last float32 digit
    between processes (BLAS sums in another order), and with it the body's length by a byte."""
    headers = {k: v for k, v in sent.headers.items() if k not in (CACHE_HEADER, "content-length")}
    if headers != {k: v for k, v in routed.headers.items() if k != "content-length"}:
        return False
    got, want = sent.json(), routed.json()
    scores = [(a.pop("score"), b.pop("score")) for a, b in zip(got["items"], want["items"])]
    return got == want and all(abs(a - b) <= 2e-6 for a, b in scores)


def ingest(settings: Settings, *args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "ingest", "-q", *args], env=home_env(settings), cwd=settings.home.parent,
                          capture_output=True, text=True, timeout=600)


@pytest.fixture(scope="module")
def answered(small_home, tmp_path_factory) -> Settings:
    """A copy of the small home whose answers were computed by the CLI in two forked processes."""
    settings = copied_home(small_home, tmp_path_factory.mktemp("answered") / "home")
    run = ingest(settings, "answers", "--workers", "2")
    assert run.returncode == 0, run.stderr
    assert f"answers:   {len(SMALL_TITLES)} of {len(SMALL_TITLES)} titles" in run.stdout
    return settings


def test_every_default_page_is_sent_as_the_routes_would_send_it(answered, use_embedder):
    service = FlixRec(answered, embedder=use_embedder)
    ids = service.indexed_ids()
    assert len(ids) == len(SMALL_TITLES)
    with (TestClient(create_app(answered, service, response_cache_mib=0)) as stored,
          TestClient(create_app(answered, service, response_cache_mib=0, stored_answers=False)) as live):
        for title_id in ids:
            for encoding in ("gzip", "identity"):
                sent = stored.get(similar_page_path(title_id), headers={"Accept-Encoding": encoding})
                routed = live.get(similar_page_path(title_id), headers={"Accept-Encoding": encoding})
                assert sent.headers[CACHE_HEADER] == "stored", title_id
                assert same_answer(sent, routed) and sent.json()["seed"]["title_id"] == title_id
        zipped = stored.get(PAGE, headers={"Accept-Encoding": "gzip"})
        assert zipped.headers["content-encoding"] == "gzip" and len(zipped.json()["items"]) == 20
        spelt_out = stored.get(f"{PAGE}?offset=0&k=20")  # the same request as no parameters: the same answer
        assert spelt_out.headers[CACHE_HEADER] == "stored" and spelt_out.headers["etag"] == zipped.headers["etag"]
        for other in (f"{PAGE}?k=5", f"{PAGE}?genre=Drama", f"{PAGE}?offset=1", f"/v1/titles/{INTERSTELLAR}",
                      f"/v1/titles/{INTERSTELLAR}/franchise", "/v1/titles/no-such-title/similar"):
            answer = stored.get(other)
            assert CACHE_HEADER not in answer.headers, other  # reached the routes
        assert len(stored.get(f"{PAGE}?k=5").json()["items"]) == 5


def test_forked_server_workers_send_stored_answers(answered, tmp_path):
    log = tmp_path / "server.log"
    with running_api(home_env(answered), log, workers=2) as url, httpx.Client(base_url=url, timeout=60) as client:
        for _ in range(6):
            assert client.get(PAGE).headers[CACHE_HEADER] in ("stored", "hit")
            fresh = httpx.get(f"{url}{PAGE}", timeout=60)  # a new connection: either worker
            assert fresh.status_code == 200 and fresh.headers[CACHE_HEADER] in ("stored", "hit")
        assert client.get(PAGE, params={"k": 5}).headers[CACHE_HEADER] == "miss"
    assert "default similar-titles pages of build" in log.read_text()  # each worker says it uses the file


def test_a_fill_that_stops_resumes_where_it_stopped(small_home, tmp_path, monkeypatch, use_embedder):
    settings = copied_home(small_home, tmp_path / "home")
    monkeypatch.setattr(answers, "COMMIT_EVERY", 5)
    seen: list[int] = []

    def stop_after_ten(done: int, total: int) -> None:
        seen.append(done)
        if done >= 10:
            raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        fill_answers(settings, progress=stop_after_ten, service=FlixRec(settings, embedder=use_embedder))
    stamp = FlixRec(settings, embedder=use_embedder).build_stamp()
    assert not answers_file(settings, stamp).exists()
    resumed = fill_answers(settings, service=FlixRec(settings, embedder=use_embedder))
    assert (resumed.titles, resumed.answers, resumed.computed) == (len(SMALL_TITLES), len(SMALL_TITLES), len(SMALL_TITLES) - 10)
    assert sorted(p.name for p in answers_file(settings, stamp).parent.iterdir()) == [answers_file(settings, stamp).name]
    again = fill_answers(settings, service=FlixRec(settings, embedder=use_embedder))
    assert again.computed == 0 and again.answers == len(SMALL_TITLES)


def test_another_build_or_version_never_uses_the_file_and_a_new_fill_replaces_it(answered, tmp_path, use_embedder):
    settings = copied_home(answered, tmp_path / "home")
    stamp = FlixRec(settings, embedder=use_embedder).build_stamp()
    assert StoredAnswers(settings).get(stamp, PAGE, "", gzip_ok=True) is not None
    assert StoredAnswers(settings).get("another-build", PAGE, "", gzip_ok=True) is None
    for changed in (dataclasses.replace(settings, ranking=RankingWeights(directors=0.5)),
                    dataclasses.replace(settings, api_key=SECRET)):
        assert StoredAnswers(changed).get(stamp, PAGE, "", gzip_ok=True) is None
    catalog = Catalog.open(settings.database_url)
    catalog.upsert_titles([Title(title_id="small-movie-98", media_type="movie", title="Salt Road", source="small", year=2019,
                                 overview="Two sisters drive a salt caravan across the desert.", genres=("Drama",),
                                 language="en", runtime=95, votes=50, rating=6.0)])
    catalog.engine.dispose()
    embed = ingest(settings, "embed", "--workers", "1")
    assert embed.returncode == 0, embed.stderr
    service = FlixRec(settings, embedder=use_embedder)
    new_stamp = service.build_stamp()
    assert new_stamp != stamp
    with TestClient(create_app(settings, service, response_cache_mib=0)) as client:
        assert CACHE_HEADER not in client.get(PAGE).headers  # the old build's answers are not this build's
    refill = ingest(settings, "answers", "--workers", "1")
    assert refill.returncode == 0, refill.stderr
    assert f"{len(SMALL_TITLES) + 1} of {len(SMALL_TITLES) + 1} titles" in refill.stdout
    assert [p.name for p in answers_file(settings, new_stamp).parent.iterdir()] == [answers_file(settings, new_stamp).name]
    with TestClient(create_app(settings, FlixRec(settings, embedder=use_embedder), response_cache_mib=0)) as client:
        assert client.get(similar_page_path("small-movie-98")).headers[CACHE_HEADER] == "stored"


def test_a_damaged_file_is_ignored_then_replaced(answered, tmp_path, use_embedder, caplog, monkeypatch):
    settings = copied_home(answered, tmp_path / "home")
    service = FlixRec(settings, embedder=use_embedder)
    path = answers_file(settings, service.build_stamp())
    path.write_bytes(b"\0not a database\0" * 4096)
    monkeypatch.setattr(answers, "RECHECK_S", 0.0)
    with caplog.at_level(logging.WARNING, "flixrec.api"), TestClient(create_app(settings, service, response_cache_mib=0)) as client:
        for _ in range(3):
            answer = client.get(PAGE)
            assert answer.status_code == 200 and CACHE_HEADER not in answer.headers and answer.json()["items"]
        warnings = [r.getMessage() for r in caplog.records if "stored answers" in r.getMessage()]
        assert len(warnings) == 1 and "python -m ingest answers" in warnings[0] and str(tmp_path) not in warnings[0]
        repaired = fill_answers(settings, service=FlixRec(settings, embedder=use_embedder))
        assert repaired.computed == repaired.answers == len(SMALL_TITLES)
        assert client.get(PAGE).headers[CACHE_HEADER] == "stored"  # the running server takes the new file


def test_with_a_key_the_key_stays_required_and_never_lands_in_the_file(small_home, tmp_path, use_embedder):
    settings = copied_home(small_home, tmp_path / "home", FLIXREC_API_KEY=SECRET)
    summary = fill_answers(settings, service=FlixRec(settings, embedder=use_embedder))
    assert SECRET.encode() not in answers_file(settings, summary.stamp).read_bytes()
    with TestClient(create_app(settings, FlixRec(settings, embedder=use_embedder), response_cache_mib=0)) as client:
        assert client.get(PAGE).status_code == 401
        assert client.get(PAGE, headers={"X-API-Key": SECRET[:-1]}).status_code == 401
        keyed = client.get(PAGE, headers={"X-API-Key": SECRET})
        assert keyed.headers[CACHE_HEADER] == "stored" and keyed.headers["cache-control"].startswith("private")
        assert SECRET not in keyed.text and SECRET not in str(keyed.headers)


def test_answers_says_what_to_do_without_an_index(tmp_path):
    run = ingest(make_settings(tmp_path / "empty-home"), "answers")
    assert run.returncode == 2 and run.stderr.startswith("error: ") and "python -m ingest" in run.stderr
    assert "Traceback" not in run.stderr


def test_a_damaged_entry_is_answered_live(answered, tmp_path, use_embedder, caplog):
    settings = copied_home(answered, tmp_path / "home")
    service = FlixRec(settings, embedder=use_embedder)
    path = answers_file(settings, service.build_stamp())
    with sqlite3.connect(path) as db:
        db.execute("UPDATE answers SET body = ? WHERE key = ?", (b"\x1f\x8bnot gzip", f"{PAGE}?"))
    with caplog.at_level(logging.WARNING, "flixrec.api"), TestClient(create_app(settings, service, response_cache_mib=0)) as client:
        answer = client.get(PAGE, headers={"Accept-Encoding": "identity"})
        assert answer.status_code == 200 and CACHE_HEADER not in answer.headers and answer.json()["items"]
    assert any("python -m ingest answers" in r.getMessage() for r in caplog.records)


def test_a_path_no_page_can_have_is_no_lookup_error(answered, use_embedder):
    stamp = FlixRec(answered, embedder=use_embedder).build_stamp()
    answers_of = StoredAnswers(answered)
    assert answers_of.get(stamp, PAGE, "", gzip_ok=True) is not None
    for odd in ("/v1/titles/\udc80/similar", "/v1/titles/" + "x" * 10_000 + "/similar", "/v1/titles/\0/similar"):
        assert answers_of.get(stamp, odd, "", gzip_ok=True) is None
    assert answers_of.get(stamp, PAGE, "", gzip_ok=False) is not None  # still in use afterwards
