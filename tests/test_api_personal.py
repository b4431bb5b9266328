"""POST /v1/recommend with seeds, ratings, avoid and watched, and POST /v1/profile/import (issue 14), in process
over the demo catalogue (the multi-seed core is tested in tests/test_personal.py)."""

from __future__ import annotations

import pytest
from fastapi.testclient import TestClient
from test_personal import IMDB_HEADER, imdb_csv

from flixrec.api import create_app

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def client(demo_app) -> TestClient:
    with TestClient(create_app(service=demo_app), raise_server_exceptions=False) as test_client:
        yield test_client


@pytest.fixture(scope="module")
def ids(demo_app) -> dict[str, str]:
    return {n: demo_app.resolve_title(n).title.title_id for n in ("Alien", "Aliens", "Notting Hill", "Love Actually")}


def test_recommend_with_ratings_avoid_and_watched(client, ids):
    body = {"seeds": [ids["Alien"], ids["Notting Hill"]], "ratings": {ids["Alien"]: 10, ids["Notting Hill"]: 6},
            "avoid": [ids["Aliens"]], "watched": [ids["Love Actually"]], "k": 9, "filters": {"type": "movie"}}
    page = client.post("/v1/recommend", json=body).json()
    shown = [item["title"]["title_id"] for item in page["items"]]
    assert len(shown) == 9 and not set(shown) & set(ids.values())
    assert all(item["reasons"][0]["kind"] == "because" for item in page["items"])
    assert page["seeds_used"][0] == ids["Alien"]
    from_alien = sum(page["because"][t][0] == ids["Alien"] for t in shown)
    assert from_alien >= 6  # the 10 counts five times the 6: Alien's taste gets most of the list
    both = client.post("/v1/recommend", json={"seeds": [ids["Alien"], ids["Notting Hill"]], "k": 10}).json()
    assert {both["because"][i["title"]["title_id"]][0] for i in both["items"]} == {ids["Alien"], ids["Notting Hill"]}
    second = client.post("/v1/recommend", json={**body, "offset": 9}).json()
    assert not {i["title"]["title_id"] for i in second["items"]} & set(shown)


def test_recommend_refuses_bad_ratings_and_unknown_seeds(client, ids):
    bad = client.post("/v1/recommend", json={"seeds": [ids["Alien"]], "ratings": {ids["Alien"]: 11}})
    assert bad.status_code == 422 and "1 to 10" in bad.text
    assert client.post("/v1/recommend", json={"seeds": ["no-such-title"]}).status_code == 404
    assert client.post("/v1/recommend", json={"seeds": [ids["Alien"]], "watched": "x"}).status_code == 422


def test_profile_import_then_recommend(client, ids):
    files = [("files", ("ratings.csv", imdb_csv().encode(), "text/csv")),
             ("files", ("watched.csv", b"Date,Name,Year,Letterboxd URI\n2024-01-06,Love Actually,2003,https://boxd.it/x\n",
                        "text/csv"))]
    profile = client.post("/v1/profile/import", files=files).json()
    assert profile["source"] == "imdb + letterboxd"
    assert profile["counts"]["rating"] == 2 and profile["counts"]["watched"] == 1 and profile["counts"]["unmatched"] == 3
    assert {u["name"] for u in profile["unmatched"]} == {"Breaking Bad", "Pilot", "Zzyzx Qwerty Nonexistent"}
    request = profile["recommend"]
    assert request["ratings"][ids["Alien"]] == 10 and ids["Love Actually"] in request["watched"]
    page = client.post("/v1/recommend", json={**request, "k": 10}).json()
    assert len(page["items"]) == 10 and not {i["title"]["title_id"] for i in page["items"]} & set(request["watched"])
    refused = client.post("/v1/profile/import", files=[("files", ("notes.csv", b"a,b\n1,2\n", "text/csv"))])
    assert refused.status_code == 422 and "neither an IMDb" in refused.text
    assert IMDB_HEADER.startswith("Const,Your Rating")
