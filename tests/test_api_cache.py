"""The API's per-build response cache (flixrec.api.cache), in process over the small home.

A repeated GET is answered from the cache with the same bytes and ETag; what must reach the routes does
(If-None-Match, a missing key, /v1/status, errors); CORS headers never leak between origins; a new build
empties it; it stays within its byte budget.
"""

from __future__ import annotations

import dataclasses

import pytest
from fastapi.testclient import TestClient

from flixrec.api import create_app
from flixrec.api.cache import CACHE_HEADER, ResponseCache
from flixrec.api.deps import normalised_query
from small_catalogue import SMALL_TITLES

INTERSTELLAR = next(t.title_id for t in SMALL_TITLES if t.title == "Interstellar")
SIMILAR = f"/v1/titles/{INTERSTELLAR}/similar"


@pytest.fixture()
def client(small_app) -> TestClient:
    """A fresh app (an empty cache) over the small home's service."""
    with TestClient(create_app(service=small_app)) as test_client:
        yield test_client


def test_a_repeated_get_is_a_hit_with_the_same_bytes_and_etag(client: TestClient):
    first = client.get(SIMILAR, params={"k": 5, "genre": "Drama"})
    again = client.get(SIMILAR, params={"k": 5, "genre": "Drama"})
    assert first.status_code == again.status_code == 200
    assert (first.headers[CACHE_HEADER], again.headers[CACHE_HEADER]) == ("miss", "hit")
    assert again.content == first.content and again.headers["etag"] == first.headers["etag"]
    assert again.headers["cache-control"] == first.headers["cache-control"]
    reordered = client.get(f"{SIMILAR}?genre=Drama&k=5")  # the same request, its parameters in another order
    assert reordered.headers[CACHE_HEADER] == "hit" and reordered.headers["etag"] == first.headers["etag"]
    other = client.get(SIMILAR, params={"k": 4, "genre": "Drama"})
    assert other.headers[CACHE_HEADER] == "miss" and len(other.json()["items"]) == 4


def test_gzip_and_identity_are_cached_apart(client: TestClient):
    zipped = client.get(SIMILAR, headers={"Accept-Encoding": "gzip"})
    plain = client.get(SIMILAR, headers={"Accept-Encoding": "identity"})
    assert zipped.headers["content-encoding"] == "gzip" and "content-encoding" not in plain.headers
    assert plain.headers[CACHE_HEADER] == "miss"
    assert client.get(SIMILAR, headers={"Accept-Encoding": "identity"}).json() == zipped.json()


def test_revalidation_status_and_errors_reach_the_routes(client: TestClient):
    etag = client.get(SIMILAR).headers["etag"]
    assert client.get(SIMILAR).headers[CACHE_HEADER] == "hit"
    assert client.get(SIMILAR, headers={"If-None-Match": etag}).status_code == 304
    for path in ("/v1/status", "/v1/titles/no-such-title/similar", f"{SIMILAR}?k=0"):
        client.get(path)
        assert client.get(path).headers.get(CACHE_HEADER) != "hit", path
    assert client.app.state.response_cache.stats()["entries"] == 1


def test_a_hit_needs_the_key_and_carries_no_other_origins_cors_headers(small_app):
    settings = dataclasses.replace(small_app.settings, api_key="s3cret-key", api_cors_origins=("https://a.example",))
    with TestClient(create_app(settings, small_app)) as client:
        keyed = {"X-API-Key": "s3cret-key"}
        assert client.get(SIMILAR, headers={**keyed, "Origin": "https://a.example"}).status_code == 200
        assert client.get(SIMILAR).status_code == 401
        assert client.get(SIMILAR, headers={"X-API-Key": "s3cret-kez"}).status_code == 401
        hit = client.get(SIMILAR, headers={**keyed, "Origin": "https://b.example"})
        assert hit.headers[CACHE_HEADER] == "hit" and "access-control-allow-origin" not in hit.headers
        again = client.get(SIMILAR, headers={**keyed, "Origin": "https://a.example"})
        assert again.headers[CACHE_HEADER] == "hit" and again.headers["access-control-allow-origin"] == "https://a.example"


def test_no_cache_when_turned_off(small_app):
    with TestClient(create_app(service=small_app, response_cache_mib=0)) as client:
        client.get(SIMILAR)
        assert CACHE_HEADER not in client.get(SIMILAR).headers


def test_a_new_build_empties_the_cache_and_the_budget_holds():
    cache = ResponseCache(max_bytes=16 * 1000)
    headers = [(b"etag", b'W/"x"')]
    assert cache.get("build-1", ("/v1/x", "0", "")) is None  # a miss, and the cache holds build 1 from now on
    for i in range(40):
        cache.put("build-1", ("/v1/x", str(i), ""), headers, b"x" * 500)
    assert cache.size <= cache.max_bytes and cache.get("build-1", ("/v1/x", "0", "")) is None  # evicted (oldest)
    assert cache.get("build-1", ("/v1/x", "39", "")) == (headers, b"x" * 500)
    cache.put("build-1", ("/v1/big", "", ""), headers, b"x" * 5000)  # over a sixteenth of the budget: not kept
    assert cache.get("build-1", ("/v1/big", "", "")) is None
    assert cache.get("build-2", ("/v1/x", "39", "")) is None and cache.stats()["entries"] == 0
    cache.put("build-1", ("/v1/x", "1", ""), headers, b"late")  # a response of the previous build is not kept
    assert cache.stats()["entries"] == 0


def test_normalised_query_sorts_names_and_keeps_each_names_value_order():
    assert normalised_query("k=5&genre=Drama") == normalised_query("genre=Drama&k=5") == "genre=Drama&k=5"
    assert normalised_query("year=2010&k=5&year=1990") == "k=5&year=2010&year=1990"
    assert normalised_query("") == "" and normalised_query("k=5") == "k=5"


def test_normalised_query_leaves_out_a_lone_default_k_or_offset():
    assert normalised_query("k=20") == normalised_query("offset=0&k=20") == normalised_query("") == ""
    assert normalised_query("genre=Drama&offset=0") == "genre=Drama"
    assert normalised_query("k=20&k=5") == "k=20&k=5" and normalised_query("k=5&k=20") == "k=5&k=20"  # the last one counts
    assert normalised_query("offset=0&offset=20") == "offset=0&offset=20"


def test_a_default_k_is_the_same_request_as_no_k(client: TestClient):
    bare = client.get(SIMILAR)
    spelt = client.get(SIMILAR, params={"k": 20, "offset": 0})
    assert spelt.headers[CACHE_HEADER] == "hit" and spelt.headers["etag"] == bare.headers["etag"]
    assert client.get(SIMILAR, params={"k": 19}).headers["etag"] != bare.headers["etag"]
