"""The API in process (TestClient) over the small home: hostile input is a 4xx problem, never a 500; CORS; settings.

"A result or a problem, never a 500": a table of hostile inputs (huge and negative numbers, NaN, unicode,
lone surrogates, NUL, 10 kB strings, broken bodies) and Hypothesis over every endpoint's parameters.
"""

from __future__ import annotations

import dataclasses
import json
from urllib.parse import quote

import pytest
from fastapi.testclient import TestClient
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from flixrec.api import create_app
from flixrec.config import Settings
from flixrec.errors import ConfigError
from small_catalogue import SMALL_TITLES

INTERSTELLAR = next(t.title_id for t in SMALL_TITLES if t.title == "Interstellar")
LONG = "x" * 10_000
SIMILAR = f"/v1/titles/{INTERSTELLAR}/similar"


@pytest.fixture(scope="module")
def client(small_app) -> TestClient:
    """The API over the small home's service, in process; server errors come back as responses (500), not raised."""
    with TestClient(create_app(service=small_app), raise_server_exceptions=False) as test_client:
        yield test_client


HOSTILE_GETS = [
    f"{SIMILAR}?k={10**40}", f"{SIMILAR}?k=-5", f"{SIMILAR}?k=NaN", f"{SIMILAR}?k=inf", f"{SIMILAR}?k=1e3",
    f"{SIMILAR}?k=5.5", f"{SIMILAR}?offset=-1", f"{SIMILAR}?offset={10**30}", f"{SIMILAR}?year={10**40}-",
    f"{SIMILAR}?year=-5--3", f"{SIMILAR}?year=NaN-inf", f"{SIMILAR}?runtime=1-2-3", f"{SIMILAR}?votes=1e400",
    f"{SIMILAR}?rating=nan", f"{SIMILAR}?rating=11", f"{SIMILAR}?rating=-0.0", f"{SIMILAR}?genre={LONG}",
    f"{SIMILAR}?lang=%ED%A0%80", f"{SIMILAR}?type=%00", f"{SIMILAR}?hide=%ED%A0%80", f"{SIMILAR}?hide={LONG}",
    f"{SIMILAR}?genre=🎬&no_genre=ドラマ", f"{SIMILAR}?year={LONG}", f"{SIMILAR}?votes={'9' * 400}",
    f"{SIMILAR}?{'&'.join(['genre=Drama'] * 300)}", f"{SIMILAR}?{'&'.join(['year=1'] * 3)}",
    "/v1/titles/%ED%A0%80", "/v1/titles/%ED%A0%80/similar", "/v1/titles/%C0%AF", "/v1/titles/a%00b/franchise",
    f"/v1/titles/{LONG}", f"/v1/titles/{'é' * 150}", "/v1/titles/..%2F..%2Fetc%2Fpasswd", "/v1/titles/%25",
    f"/v1/titles/search?q={LONG}", "/v1/titles/search?q=", "/v1/titles/search?q=%ED%A0%80",
    "/v1/titles/search?q=%00", "/v1/titles/search?q=x&limit=0", f"/v1/titles/search?q=x&limit={10**20}",
    "/v1/titles/search?q='; DROP TABLE titles; --", "/v1/titles/search?q=%25_%25", "/v1/titles/search",
    f"/v1/recommend?text={LONG}", "/v1/recommend?text=%00", "/v1/recommend?text=%ED%A0%80", "/v1/recommend?text=",
    "/v1/recommend?text=%20%20%20", "/v1/recommend", f"/v1/titles/{INTERSTELLAR}/franchise?limit=-1",
]
HOSTILE_BODIES = [
    b"", b"not json", b"[]", b"null", b'"seeds"', b'{"seeds": "x"}', b'{"seeds": [1, 2]}', b'{"seeds": [null]}',
    b'{"seeds": ["\\ud800"]}', b'{"seeds": ["a\\u0000b"]}', b'{"seeds": ["' + LONG.encode() + b'"]}',
    b'{"seeds": [' + b",".join([b'"x"'] * 1000) + b"]}", b'{"seeds": ["x"], "k": 1e400}', b'{"seeds": ["x"], "k": NaN}',
    b'{"seeds": ["%s"], "k": -1}' % INTERSTELLAR.encode(), b'{"seeds": ["%s"], "offset": 1e30}' % INTERSTELLAR.encode(),
    b'{"seeds": ["%s"], "avoid": ["\\udfff"]}' % INTERSTELLAR.encode(),
    b'{"seeds": ["%s"], "filters": {"year": {"a": 1}}}' % INTERSTELLAR.encode(),
    b'{"seeds": ["%s"], "filters": {"year": 5}}' % INTERSTELLAR.encode(),
    b'{"seeds": ["%s"], "filters": {"k": "5"}}' % INTERSTELLAR.encode(),
    b'{"seeds": ["%s"], "filters": {"hide": ["\\ud800"]}}' % INTERSTELLAR.encode(),
    b'{"seeds": ["%s"], "unknown": 1}' % INTERSTELLAR.encode(), b"\xff\xfe\x00", b'{"seeds": ["x"]' + b" " * 10_000,
]


def assert_answer(response) -> None:
    """A result, or a 4xx problem: never a server error."""
    assert response.status_code < 500, response.text[:500]
    if response.status_code >= 400:
        assert response.headers["content-type"].startswith("application/problem+json")
        body = response.json()
        assert body["status"] == response.status_code and body["detail"]


@pytest.mark.parametrize("url", HOSTILE_GETS, ids=range(len(HOSTILE_GETS)))
def test_hostile_query_strings_and_paths_never_cause_a_500(client: TestClient, url: str):
    assert_answer(client.get(url))


@pytest.mark.parametrize("body", HOSTILE_BODIES, ids=range(len(HOSTILE_BODIES)))
def test_hostile_bodies_never_cause_a_500(client: TestClient, body: bytes):
    response = client.post("/v1/recommend", content=body, headers={"Content-Type": "application/json"})
    assert_answer(response)
    assert response.status_code in (400, 404, 422)  # 400: a body that is not even text


def test_a_bad_value_names_its_parameter(client: TestClient):
    body = client.get(SIMILAR, params={"rating": "11", "type": "cartoon"}).json()
    assert body["status"] == 422 and {e["parameter"] for e in body["errors"]} == {"rating", "type"}
    assert all(e["location"] == "query" for e in body["errors"])


TEXT = st.text(max_size=60)
PARAM_VALUES = st.one_of(TEXT, st.integers(min_value=-(10**30), max_value=10**30).map(str),
                         st.floats(allow_nan=True, allow_infinity=True).map(str))
FILTER_NAMES = ("k", "offset", "year", "runtime", "votes", "rating", "genre", "no_genre", "lang", "spoken", "no_cert",
                "type", "favour", "hide")


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(params=st.lists(st.tuples(st.sampled_from(FILTER_NAMES), PARAM_VALUES), max_size=6))
def test_any_filter_parameters_give_a_result_or_a_422(client: TestClient, params):
    response = client.get(SIMILAR, params=params)
    assert_answer(response)
    assert response.status_code in (200, 422)


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(title_id=st.text(st.characters(exclude_categories=()), max_size=60), q=TEXT)  # lone surrogates too
def test_any_id_or_name_gives_a_result_or_a_problem(client: TestClient, title_id: str, q: str):
    assert_answer(client.get("/v1/titles/search", params={"q": q}))
    quoted = quote(title_id.encode("utf-8", "surrogatepass"), safe="")  # the id's bytes, even a lone surrogate's
    for path in ("", "/similar", "/franchise"):
        assert_answer(client.get(f"/v1/titles/{quoted}{path}"))
    body = json.dumps({"seeds": [title_id or "x"], "avoid": [q or "y"]}).encode()  # escapes a lone surrogate as JSON does
    assert_answer(client.post("/v1/recommend", content=body, headers={"Content-Type": "application/json"}))


def test_favour_ranks_like_the_service_with_those_weights_and_a_bad_value_is_a_422(client: TestClient, small_app):
    from flixrec.filters import parse_filter_params

    body = client.get(SIMILAR, params=[("k", "10"), ("favour", "director"), ("favour", "Cast")]).json()
    assert body["filters"]["favour"] == ["director", "cast"]
    weights = parse_filter_params({"favour": ["director", "cast"]}).weights(small_app.settings.ranking)
    expected = small_app.similar_titles(INTERSTELLAR, k=11, weights=weights)[:10]
    assert [r["title"]["title_id"] for r in body["items"]] == [r.title.title_id for r in expected]
    assert client.get(SIMILAR, params={"favour": "producer"}).json()["parameter"] == "favour"
    assert client.get("/v1/facets").json()["favour"] == ["director", "cast"]


def test_cors_is_off_by_default_and_on_for_the_configured_origins(small_app):
    preflight = {"Origin": "https://example.org", "Access-Control-Request-Method": "GET"}
    with TestClient(create_app(service=small_app)) as off:
        assert "access-control-allow-origin" not in off.options("/v1/facets", headers=preflight).headers
        assert "access-control-allow-origin" not in off.get("/v1/facets", headers={"Origin": "https://example.org"}).headers
    allowed = dataclasses.replace(small_app.settings, api_cors_origins=("https://example.org",))
    with TestClient(create_app(allowed, small_app)) as on:
        answer = on.options("/v1/facets", headers=preflight)
        assert answer.headers["access-control-allow-origin"] == "https://example.org"
        simple = on.get("/v1/facets", headers={"Origin": "https://example.org"})
        assert simple.headers["access-control-allow-origin"] == "https://example.org"
        assert "etag" in simple.headers["access-control-expose-headers"].lower()
        other = on.get("/v1/facets", headers={"Origin": "https://elsewhere.example"})
        assert "access-control-allow-origin" not in other.headers


def test_api_settings_are_validated_and_the_key_is_never_in_a_repr():
    settings_ = Settings.from_mapping({"FLIXREC_API_KEY": " s3cr3t ", "FLIXREC_API_CORS_ORIGINS": "https://a.org/, http://localhost:3000"})
    assert settings_.api_key == "s3cr3t" and "s3cr3t" not in repr(settings_)
    assert settings_.api_cors_origins == ("https://a.org", "http://localhost:3000")
    assert Settings.from_mapping({}).api_cors_origins == () and Settings.from_mapping({}).api_key is None
    with pytest.raises(ConfigError, match="FLIXREC_API_CORS_ORIGINS"):
        Settings.from_mapping({"FLIXREC_API_CORS_ORIGINS": "example.org"})


def test_a_core_error_of_any_kind_becomes_a_problem(small_app):
    """Every FlixrecError subclass maps to a status by one rule: input errors 4xx, the server's 503, never a 500."""
    from flixrec.api.problems import core_problem
    from flixrec.errors import EmbedderUnavailable, FlixrecError, IndexNotBuilt, IndexUnavailable, TitleNotFound

    class SomeInputError(FlixrecError, ValueError):  # like the core's InvalidRequest
        parameter = "k"

    class SomeServerError(FlixrecError):  # like a catalogue that cannot be reached
        pass

    assert core_problem(TitleNotFound("x")).status == 404
    assert core_problem(IndexNotBuilt("no vector index at /srv/x/chroma; build it with: python -m ingest embed")).command == \
        "python -m ingest embed"
    assert "/srv" not in core_problem(IndexNotBuilt("no vector index at /srv/x/chroma; run: python -m ingest embed")).detail
    assert core_problem(IndexUnavailable("Chroma failed reading /srv/x/chroma.sqlite3")).status == 503
    assert "/srv" not in core_problem(IndexUnavailable("Chroma failed reading /srv/x/chroma.sqlite3")).detail
    assert core_problem(EmbedderUnavailable("no model")).status == 503
    server = core_problem(SomeServerError("cannot reach postgresql://user:pw@db.internal/flixrec"))
    assert server.status == 503 and "db.internal" not in server.detail and server.type.endswith("some-server-error")
    some = core_problem(SomeInputError("k is too large"))
    assert some.status == 422 and some.parameter == "k"
