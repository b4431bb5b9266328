"""The REST API over real HTTP: a real `python -m flixrec serve` (uvicorn) on 127.0.0.1 over the small home.

Every endpoint's happy path, every error status (304, 401, 404, 405, 422, 503), the OpenAPI schema, gzip,
the key never shown or logged, and the API answering while `ingest embed` publishes a new build. Hostile
inputs and CORS run in process (tests/test_api_inputs.py).
"""

from __future__ import annotations

import shutil
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path

import httpx
import pytest

from api_server import ROOT, home_env, running_api
from flixrec.catalog import Catalog
from flixrec.models import Title
from small_catalogue import SMALL_TITLES

BY_NAME = {t.title: t.title_id for t in SMALL_TITLES}
INTERSTELLAR, TOY_STORY = BY_NAME["Interstellar"], BY_NAME["Toy Story"]
ENDPOINTS = {"/healthz", "/readyz", "/v1/titles/search", "/v1/titles/{title_id}", "/v1/titles/{title_id}/similar",
             "/v1/titles/{title_id}/franchise", "/v1/recommend", "/v1/profile/import", "/v1/facets", "/v1/status"}
SECRET = "k3y-that-must-never-show-9f8e7d"

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def api(small_home, tmp_path_factory) -> httpx.Client:
    """An HTTP client of a real API server over the small home (read-only)."""
    log = tmp_path_factory.mktemp("api") / "server.log"
    with running_api(home_env(small_home), log) as url, httpx.Client(base_url=url, timeout=60) as client:
        yield client


def problem(response: httpx.Response, status: int) -> dict:
    """The problem body of an error response, checked to be RFC 9457-shaped."""
    assert response.status_code == status, response.text
    assert response.headers["content-type"].startswith("application/problem+json")
    body = response.json()
    assert body["status"] == status and body["type"].startswith("urn:flixrec:problem:") and body["title"] and body["detail"]
    return body


def test_health_and_readiness(api: httpx.Client):
    assert api.get("/healthz").json() == {"status": "ok"}
    ready = api.get("/readyz").json()
    assert ready["status"] == "ready" and ready["build"]


def test_search_exact_first_then_fuzzy_with_pages(api: httpx.Client):
    body = api.get("/v1/titles/search", params={"q": "Intersteller"}).json()
    assert body["items"][0]["title"]["title_id"] == INTERSTELLAR and body["items"][0]["kind"] == "fuzzy"
    batman = api.get("/v1/titles/search", params={"q": "Batman", "limit": 2}).json()
    assert [m["kind"] for m in batman["items"]] == ["exact", "exact"]
    assert {m["title"]["year"] for m in batman["items"]} == {1966, 1989} and batman["next_offset"] == 2
    rest = api.get("/v1/titles/search", params={"q": "Batman", "limit": 2, "offset": 2}).json()
    assert rest["offset"] == 2 and all(m["kind"] == "fuzzy" for m in rest["items"])
    assert not {m["title"]["title_id"] for m in rest["items"]} & {m["title"]["title_id"] for m in batman["items"]}


def test_title_with_people_ids_and_links(api: httpx.Client):
    body = api.get(f"/v1/titles/{TOY_STORY}").json()
    assert body["title"] == "Toy Story" and body["label"] == "Toy Story (1995)"
    assert body["directors"] == ["John Lasseter"] and body["cast"] == ["Tom Hanks"]
    assert body["people"][0]["person_id"] and set(body["ids"]) == {"trakt", "tmdb", "imdb", "slug"}
    assert isinstance(body["links"], dict)


def test_similar_ranked_filtered_and_paged(api: httpx.Client):
    url = f"/v1/titles/{INTERSTELLAR}/similar"
    body = api.get(url, params={"k": 10}).json()
    ids = [r["title"]["title_id"] for r in body["items"]]
    assert len(ids) == 10 and INTERSTELLAR not in ids and body["seed"]["title_id"] == INTERSTELLAR
    scores = [r["score"] for r in body["items"]]
    assert scores == sorted(scores, reverse=True) and [r["rank"] for r in body["items"]] == list(range(1, 11))
    assert all(isinstance(r["reasons"], list) for r in body["items"])
    first, second = (api.get(url, params={"k": 5, "offset": offset}).json() for offset in (0, 5))
    assert [r["title"]["title_id"] for r in first["items"] + second["items"]] == ids
    assert first["next_offset"] == 5 and [r["rank"] for r in second["items"]] == [6, 7, 8, 9, 10]
    filtered = api.get(url, params=[("k", "50"), ("year", "2000-"), ("type", "Movies"), ("genre", "drama"),
                                    ("genre", "thriller"), ("hide", BY_NAME["Gravity"])]).json()
    kept = filtered["filters"]
    assert kept["genre"] == ["Drama", "Thriller"] and kept["type"] == ["movie"] and kept["hide"] == [BY_NAME["Gravity"]]
    assert kept["year"][0] == "2000"
    titles = {t.title_id: t for t in SMALL_TITLES}
    for item in filtered["items"]:
        title = titles[item["title"]["title_id"]]
        assert title.year >= 2000 and title.media_type == "movie" and {"Drama", "Thriller"} & set(title.genres)
        assert title.title_id != BY_NAME["Gravity"]
    assert filtered["next_offset"] is None


def test_franchise_is_its_own_list(api: httpx.Client):
    body = api.get(f"/v1/titles/{TOY_STORY}/franchise").json()
    assert {"Toy Story 2", "Toy Story 3"} <= {r["title"]["title"] for r in body["items"]}
    similar = api.get(f"/v1/titles/{TOY_STORY}/similar", params={"k": 10}).json()
    assert not {r["title"]["title"] for r in similar["items"]} & {"Toy Story 2", "Toy Story 3"}


def test_recommend_by_text_and_by_several_seeds(api: httpx.Client):
    text = api.get("/v1/recommend", params={"text": "a clownfish father searches the sea for his lost son", "k": 3}).json()
    assert "Finding Nemo" in [r["title"]["title"] for r in text["items"]]
    seeds, avoid = [INTERSTELLAR, BY_NAME["The Martian"]], [BY_NAME["Gravity"]]
    body = api.post("/v1/recommend", json={"seeds": seeds, "avoid": avoid, "k": 5,
                                           "filters": {"type": "movie", "year": "1980-"}}).json()
    ids = [r["title"]["title_id"] for r in body["items"]]
    assert len(ids) == 5 and not set(ids) & set(seeds + avoid)
    assert body["filters"]["type"] == ["movie"]


def test_facets_and_status_never_show_a_path_url_or_key(api: httpx.Client, small_home):
    facets = api.get("/v1/facets").json()
    assert "Drama" in facets["genres"] and {"code": "ja", "name": "Japanese"} in facets["languages"]
    assert facets["year"]["min"] <= 1966 and {p["name"] for p in facets["params"]} >= {"year", "genre", "no_genre", "k"}
    response = api.get("/v1/status")
    status = response.json()
    assert status["catalog_titles"] == status["index_vectors"] == len(SMALL_TITLES) and status["in_agreement"]
    assert status["build"] == api.get("/readyz").json()["build"] and status["model"] == "use-multilingual"
    assert str(small_home.home) not in response.text and "://" not in response.text and "sqlite" not in response.text
    assert response.headers["cache-control"] == "no-store"


def test_etag_changes_nothing_until_a_new_build_and_304s(api: httpx.Client):
    url = f"/v1/titles/{INTERSTELLAR}/similar?k=5"
    first = api.get(url)
    etag = first.headers["etag"]
    assert etag.startswith('W/"') and "max-age" in first.headers["cache-control"]
    assert api.get(url).headers["etag"] == etag and api.get(url + "&offset=5").headers["etag"] != etag
    cached = api.get(url, headers={"If-None-Match": etag})
    assert cached.status_code == 304 and cached.content == b"" and cached.headers["etag"] == etag


def test_large_responses_are_gzipped(api: httpx.Client):
    response = api.get(f"/v1/titles/{INTERSTELLAR}/similar", params={"k": 30}, headers={"Accept-Encoding": "gzip"})
    assert response.headers.get("content-encoding") == "gzip" and response.json()["items"]


def test_every_error_status_is_a_problem(api: httpx.Client):
    assert problem(api.get("/v1/titles/no-such-title"), 404)["detail"].startswith("no title with id")
    assert problem(api.get("/v1/titles/no-such-title/similar"), 404)
    assert problem(api.get("/v1/no-such-endpoint"), 404)
    assert problem(api.post("/v1/facets"), 405)
    bad = problem(api.get(f"/v1/titles/{INTERSTELLAR}/similar", params={"lang": "zz", "votes": "-3"}), 422)
    assert {e["parameter"] for e in bad["errors"]} == {"lang", "votes"} and bad["parameter"] in {"lang", "votes"}
    assert problem(api.get(f"/v1/titles/{INTERSTELLAR}/similar", params={"k": "NaN"}), 422)["parameter"] == "k"
    assert problem(api.get(f"/v1/titles/{INTERSTELLAR}/similar", params={"k": str(10**30)}), 422)["parameter"] == "k"
    assert problem(api.post("/v1/recommend", json={"seeds": []}), 422)["parameter"] == "seeds"
    assert problem(api.post("/v1/recommend", json={"seeds": ["no-such-title"]}), 404)
    assert problem(api.post("/v1/recommend", json={"seeds": [INTERSTELLAR], "filters": {"yeer": "2000"}}), 422)[
        "parameter"] == "filters.yeer"
    assert problem(api.get("/v1/titles/%ED%A0%80/similar"), 404)  # a lone surrogate's bytes: no such id


def test_openapi_lists_every_endpoint_with_examples_and_docs_load(api: httpx.Client):
    schema = api.get("/openapi.json").json()
    assert set(schema["paths"]) == ENDPOINTS
    similar = schema["paths"]["/v1/titles/{title_id}/similar"]["get"]
    assert {p["name"] for p in similar["parameters"]} >= {"title_id", "k", "offset", "year", "runtime", "votes", "rating",
                                                           "genre", "no_genre", "lang", "spoken", "no_cert", "type",
                                                           "favour", "hide"}
    assert {"404", "422", "503"} <= set(similar["responses"])
    assert "examples" in schema["components"]["schemas"]["RecommendRequest"]
    for model in ("TitleDetail", "RecommendationOut", "FacetsOut", "StatusOut", "HealthOut", "Problem"):
        assert "examples" in schema["components"]["schemas"][model], model
    docs = api.get("/docs")
    assert docs.status_code == 200 and "swagger" in docs.text.lower()


def test_without_an_index_answers_503_with_the_command_that_builds_it(tmp_path, small_home):
    empty = type(small_home).from_mapping({"FLIXREC_HOME": str(tmp_path / "home")})
    with running_api(home_env(empty), tmp_path / "server.log") as url, httpx.Client(base_url=url) as client:
        assert client.get("/healthz").status_code == 200
        for path in ("/readyz", f"/v1/titles/{INTERSTELLAR}/similar", "/v1/facets", "/v1/titles/search?q=x"):
            body = problem(client.get(path), 503)
            assert body["command"].startswith("python -m ingest") and str(tmp_path) not in body["detail"]


def test_the_key_is_required_and_never_appears_in_responses_or_logs(tmp_path, small_home):
    log = tmp_path / "server.log"
    seen: list[str] = []
    with running_api(home_env(small_home, FLIXREC_API_KEY=SECRET), log) as url, httpx.Client(base_url=url) as client:
        def get(path: str, key: str | None = None, **kwargs) -> httpx.Response:
            response = client.get(path, headers={"X-API-Key": key} if key else {}, **kwargs)
            seen.append(response.text + str(response.headers))
            return response

        assert problem(get("/v1/facets"), 401)["parameter"] == "X-API-Key"
        assert problem(get("/v1/facets", "wrong-key"), 401)
        assert problem(get("/v1/facets", SECRET[:-1]), 401)
        assert get("/v1/facets", SECRET).status_code == 200
        assert get(f"/v1/titles/{INTERSTELLAR}/similar", SECRET, params={"k": 5}).headers["cache-control"].startswith("private")
        assert get("/healthz").status_code == 200 and get("/readyz").status_code == 200
        assert "X-API-Key" in get("/openapi.json").text
        get("/v1/status", SECRET)
    assert not any(SECRET in text for text in seen)
    assert SECRET not in log.read_text() and "GET /v1/facets" in log.read_text()


@pytest.mark.parametrize("workers", [1, 2], ids=["one-process", "forked-workers"])
def test_the_api_keeps_answering_while_ingest_publishes_a_new_build(tmp_path, small_home, workers):
    """One process, or workers forked after loading: each serves the new build once it is published, cache and all."""
    home = tmp_path / "home"
    shutil.copytree(small_home.home, home)
    settings = type(small_home).from_mapping({"FLIXREC_HOME": str(home), "FLIXREC_DOWNLOADS": str(small_home.downloads_dir)})
    new = Title(title_id="small-movie-99", media_type="movie", title="Moon Harvest", source="small", year=2021,
                overview="Astronauts farm potatoes in a dome on the Moon to survive a long winter.",
                genres=("Science Fiction", "Drama"), language="en", runtime=100, votes=100, rating=6.5)
    with (running_api(home_env(settings), tmp_path / "server.log", workers=workers) as url,
          httpx.Client(base_url=url, timeout=60) as client):
        before = client.get("/readyz").json()["build"]
        etag = client.get(f"/v1/titles/{INTERSTELLAR}/similar").headers["etag"]
        catalog = Catalog.open(settings.database_url)
        catalog.upsert_titles([new])
        catalog.engine.dispose()
        statuses: list[int] = []
        done = threading.Event()

        def hammer() -> None:
            while not done.is_set():
                statuses.append(client.get(f"/v1/titles/{INTERSTELLAR}/similar", params={"k": 5}).status_code)

        thread = threading.Thread(target=hammer)
        thread.start()
        try:
            embed = subprocess.run([sys.executable, "-m", "ingest", "-q", "embed", "--workers", "1"], cwd=tmp_path,
                                   env=home_env(settings), capture_output=True, text=True, timeout=600)
        finally:
            done.set()
            thread.join()
        assert embed.returncode == 0, embed.stderr
        assert statuses and set(statuses) == {200}, statuses
        after = client.get("/readyz").json()["build"]
        assert after != before
        assert client.get(f"/v1/titles/{INTERSTELLAR}/similar").headers["etag"] != etag
        similar = client.get(f"/v1/titles/{new.title_id}/similar", params={"k": 5})
        assert similar.status_code == 200 and len(similar.json()["items"]) == 5
        assert client.get("/v1/status").json()["index_vectors"] == len(SMALL_TITLES) + 1
        for _ in range(4 * workers):  # new connections: each worker (the kernel picks one per connection)
            fresh = httpx.get(f"{url}/v1/titles/{INTERSTELLAR}/similar", timeout=60)
            assert fresh.status_code == 200 and fresh.headers["etag"] != etag


def _sockets_on(port: int, state: str) -> set[str]:
    """Inodes of the TCP sockets on this local port in this state (/proc/net/tcp: 01 established, 0A listening)."""
    inodes = set()
    for line in Path("/proc/net/tcp").read_text().splitlines()[1:]:
        fields = line.split()
        if int(fields[1].split(":")[1], 16) == port and fields[3] == state:
            inodes.add(fields[9])
    return inodes


def _established_per_process(port: int) -> dict[int, int]:
    """pid -> connections established on this local port (the server's side), read from /proc."""
    inodes = _sockets_on(port, "01")
    counts: dict[int, int] = {}
    for fd_dir in Path("/proc").glob("[0-9]*/fd"):
        try:
            links = [link.readlink().name for link in fd_dir.iterdir()]
        except OSError:
            continue
        found = sum(link.startswith("socket:[") and link[8:-1] in inodes for link in links)
        if found:
            counts[int(fd_dir.parent.name)] = found
    return counts


@pytest.mark.skipif(not Path("/proc/net/tcp").exists(), reason="reads sockets from Linux's /proc")
def test_forked_workers_share_kept_alive_connections_evenly(tmp_path, small_home):
    """Clients keep their connections (pools, browsers, load generators), so each worker must get its share of
    them: on one shared socket the worker woken first accepted every connection waiting (37-43 of 50)."""
    count = 60
    with running_api(home_env(small_home), tmp_path / "server.log", workers=2) as url:
        port = int(url.rsplit(":", 1)[1])
        # ready means one worker answers; on a busy machine the other may still be starting, and a connection
        # made before it listens stays with the first (as it would in production)
        deadline = time.monotonic() + 60
        while len(_sockets_on(port, "0A")) < 2 and time.monotonic() < deadline:
            time.sleep(0.05)
        connections = [socket.create_connection(("127.0.0.1", port), timeout=60) for _ in range(count)]
        try:
            for connection in connections:  # every connection opened before the first request, as a pool does
                connection.sendall(b"GET /healthz HTTP/1.1\r\nHost: test\r\n\r\n")
            assert all(connection.recv(64).startswith(b"HTTP/1.1 200") for connection in connections)
            per_worker = _established_per_process(port)
            listening = len(_sockets_on(port, "0A"))
        finally:
            for connection in connections:
                connection.close()
    assert len(per_worker) == 2 and sum(per_worker.values()) == count, per_worker
    assert min(per_worker.values()) >= count // 4, per_worker  # an even split is 30 each
    assert listening == 2  # each worker its own socket, the kernel spreading connections over them


@pytest.mark.parametrize("workers", ["1", "2"])
def test_serve_says_at_once_when_its_port_is_taken(tmp_path, workers):
    """Before loading anything (minutes at 300k titles): one error line naming the address and the fix."""
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        result = subprocess.run([sys.executable, "-m", "flixrec", "serve", "--workers", workers, "--port", str(port)],
                                cwd=tmp_path, env={"PYTHONPATH": str(ROOT), "PATH": "/usr/bin:/bin",
                                                   "FLIXREC_HOME": str(tmp_path / "home")},
                                capture_output=True, text=True, timeout=120)
    assert result.returncode == 2, result.stderr
    assert f"error: cannot listen on 127.0.0.1:{port}" in result.stderr and "--port" in result.stderr
    assert "Traceback" not in result.stderr


def test_serve_rejects_bad_options_like_every_cli(tmp_path):
    result = subprocess.run([sys.executable, "-m", "flixrec", "serve", "--port", "70000"], cwd=tmp_path,
                            env={"PYTHONPATH": str(ROOT), "PATH": "/usr/bin:/bin"}, capture_output=True, text=True)
    assert result.returncode == 2 and "70000" in result.stderr
    workers = subprocess.run([sys.executable, "-m", "flixrec", "serve", "--workers", "0"], cwd=tmp_path,
                             env={"PYTHONPATH": str(ROOT), "PATH": "/usr/bin:/bin"}, capture_output=True, text=True)
    assert workers.returncode == 2 and "at least 1" in workers.stderr


@pytest.mark.parametrize("host, says", [("\udcff", "not an address"), ("a" * 10_000, "not an address"),
                                        ("no-such-host.invalid", "give --host an address")])
def test_serve_says_which_host_it_cannot_listen_on(tmp_path, host, says):
    """An undecodable or 10 kB --host is refused by the option; a name that does not resolve names --host."""
    result = subprocess.run([sys.executable, "-m", "flixrec", "serve", "--workers", "2", "--host", host], cwd=tmp_path,
                            env={"PYTHONPATH": str(ROOT), "PATH": "/usr/bin:/bin",
                                 "FLIXREC_HOME": str(tmp_path / "home")},
                            capture_output=True, text=True, timeout=120, errors="replace")
    assert result.returncode == 2, result.stderr
    assert says in result.stderr and "Traceback" not in result.stderr and len(result.stderr) < 2000


def test_a_bad_setting_stops_serve_with_one_error_line(tmp_path: Path):
    result = subprocess.run([sys.executable, "-m", "flixrec", "serve"], cwd=tmp_path, capture_output=True, text=True,
                            env={"PYTHONPATH": str(ROOT), "PATH": "/usr/bin:/bin", "FLIXREC_API_CORS_ORIGINS": "example.org"})
    assert result.returncode == 2 and result.stderr.startswith("error: FLIXREC_API_CORS_ORIGINS")
