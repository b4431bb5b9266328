"""A person's Trakt account (issue 14): device-flow sign-in, refresh, the sync listings, push-list, no token leaks."""

from __future__ import annotations

import logging
import os
import stat
from pathlib import Path

import pytest
from fake_trakt import FakeTrakt

from flixrec.models import Title
from ingest.__main__ import main as ingest_main
from ingest.errors import TraktAuthError, TraktError
from ingest.trakt.auth import DeviceCode, Token, TokenStore, poll_device_token, refresh_token, signed_in_client, start_device_login
from ingest.trakt.client import Pacer, TraktClient
from ingest.trakt.lists import push_list
from ingest.trakt.sync import read_profile_rows

KEY, SECRET = "fake-client-id", "fake-client-secret"
FAST_WRITES = Pacer(20, 1.0)  # tests write at 20 a second; the fake refuses writes closer than min_write_interval


@pytest.fixture
def fake():
    """A small fake Trakt with a user account."""
    with FakeTrakt(movies=5, shows=2, client_id=KEY) as server:
        yield server


def client_for(fake: FakeTrakt) -> TraktClient:
    return TraktClient(KEY, fake.url, timeout=2.0, backoff=0.01)


def sign_in(fake: FakeTrakt, client: TraktClient) -> Token:
    fake.account.device_answers = [200]
    token = poll_device_token(client, start_device_login(client), SECRET, sleep=lambda s: None)
    client.authorize(token.access_token)
    return token


def body(n: int, media: str = "movie", **ids) -> dict:
    """A title as Trakt nests it in sync items."""
    return {"title": f"{media.title()} {n}", "year": 2000 + n % 20,
            "ids": {"trakt": 500 + n, "slug": f"{media}-{n}", "imdb": f"tt{9000000 + n}", "tmdb": 70000 + n, **ids}}


def test_device_flow_waits_slows_down_and_signs_in(fake):
    fake.account.device_answers = [400, 429, 400, 200]
    waits: list[float] = []
    with client_for(fake) as client:
        code = start_device_login(client)
        assert code.user_code == "5055CC52" and code.verification_url.endswith("/activate")
        assert "device_code" not in repr(code) and code.device_code not in repr(code)
        token = poll_device_token(client, code, SECRET, sleep=waits.append)
    assert waits == [5.0, 10.0, 10.0]  # 400: wait the interval; 429 (slow down): 5 s more from then on
    assert token.access_token in fake.account.access_tokens and token.access_token not in repr(token)
    assert len(fake.account.polls) == 4


@pytest.mark.parametrize(("answer", "words"), [(410, "expired"), (418, "denied")])
def test_device_flow_expired_or_denied(fake, answer, words):
    fake.account.device_answers = [400, answer]
    with client_for(fake) as client, pytest.raises(TraktAuthError, match=words):
        poll_device_token(client, start_device_login(client), SECRET, sleep=lambda s: None)


def test_device_flow_gives_up_when_the_code_runs_out(fake):
    fake.account.device_answers = [400] * 50
    now = [0.0]
    with client_for(fake) as client:
        code = start_device_login(client)
        short = DeviceCode(code.device_code, code.user_code, code.verification_url, expires_in=12, interval=5)
        with pytest.raises(TraktAuthError, match="expired"):
            poll_device_token(client, short, SECRET, sleep=lambda s: now.__setitem__(0, now[0] + s), clock=lambda: now[0])
    assert len(fake.account.polls) == 3  # at 0, 5 and 10 s; the next would come after the code expired


def test_refresh_and_the_token_file(fake, tmp_path):
    with client_for(fake) as client:
        token = sign_in(fake, client)
        store = TokenStore(tmp_path)
        store.save(Token(token.access_token, token.refresh_token, expires_at=0))  # expired: refreshed on use
        assert stat.S_IMODE(os.stat(store.path).st_mode) == 0o600
        fresh = signed_in_client(client, store, SECRET)
        assert fresh.access_token != token.access_token and store.load() == fresh
        assert stat.S_IMODE(os.stat(store.path).st_mode) == 0o600
        with pytest.raises(TraktAuthError, match="sign in again"):
            refresh_token(client, token, SECRET)  # the old refresh token is spent
    os.chmod(store.path, 0o644)
    assert store.load() == fresh and stat.S_IMODE(os.stat(store.path).st_mode) == 0o600
    assert TokenStore(tmp_path).clear() and TokenStore(tmp_path).load() is None


def test_sync_listings_are_read_page_by_page(fake):
    account = fake.account
    for n in range(23):
        account.watch("movie", body(n), f"2026-01-{1 + n % 28:02d}T10:00:00.000Z")
    account.watch("movie", body(3), "2026-03-01T10:00:00.000Z")  # watched twice: one row, the latest time
    account.watch("show", body(1, "show"), "2026-02-01T10:00:00.000Z", episode=(1, 1))
    account.watch("show", body(1, "show"), "2026-02-02T10:00:00.000Z", episode=(1, 2))
    account.rate("movie", body(1), 9, "2026-01-05T00:00:00.000Z")
    account.rate("episode", body(2, "episode"), 3, "2026-01-05T00:00:00.000Z")
    account.want("show", body(7, "show"), "2026-01-05T00:00:00.000Z")
    with client_for(fake) as client:
        sign_in(fake, client)
        rows, summary = read_profile_rows(client)
    history = [r for r in rows if r.kind == "watched"]
    assert len(history) == 24 and summary.rows == {"history": 24, "ratings": 1, "watchlist": 1}
    assert next(r for r in history if r.trakt_id == 503).when.startswith("2026-03-01")
    assert any(r.media_type == "show" and r.trakt_id == 501 for r in history)  # episodes count as their show
    rated = next(r for r in rows if r.kind == "rating")
    assert (rated.rating, rated.imdb_id, rated.tmdb_id) == (9.0, "tt9000001", 70001)
    assert sorted(p for _, path, p, s in fake.requests if path == "/sync/history" and s == 200) == [1]  # 250 a page
    with client_for(fake) as client:
        sign_in(fake, client)
        client_pages = list(client.paginate("/sync/history", limit=10))
    assert [len(p.items) for p in client_pages] == [10, 10, 6]


def titles(n: int, start: int = 0) -> list[Title]:
    return [Title(f"tmdb-movie-{70000 + i}", "movie", f"Movie {i}", "tmdb", tmdb_id=70000 + i, imdb_id=f"tt{9000000 + i}")
            for i in range(start, start + n)]


def listed(fake: FakeTrakt) -> list[int]:
    (only,) = fake.account.lists
    return [item["movie"]["ids"]["tmdb"] for item in fake.account.items[only["ids"]["trakt"]]]


def test_push_list_twice_leaves_one_list_with_exactly_the_current_items(fake):
    fake.account.min_write_interval = 0.02  # the pacer spaces writes 0.05 s apart: room for the server clock
    with client_for(fake) as client:
        sign_in(fake, client)
        first = push_list(client, "FlixRec for you", titles(6), "from tests", write_pacer=FAST_WRITES)
        assert first.created and first.added == 6 and listed(fake) == [70000 + i for i in range(6)]
        writes = len(fake.account.writes)
        again = push_list(client, "FlixRec for you", titles(6), "from tests", write_pacer=FAST_WRITES)
        assert not again.created and (again.added, again.removed, again.reordered) == (0, 0, False)
        assert len(fake.account.writes) == writes  # nothing to write the second time
        changed = titles(3, start=4) + titles(2, start=0)  # 4, 5, 6, 0, 1: 2 and 3 are stale, 6 is new
        third = push_list(client, "flixrec FOR you", changed, "from tests", write_pacer=FAST_WRITES)
        assert (third.added, third.removed, third.reordered) == (1, 2, True)
        assert listed(fake) == [70004, 70005, 70006, 70000, 70001]
    assert fake.account.lists[0]["privacy"] == "private"
    times = [t for t, *_ in fake.account.writes]
    assert all(b - a >= 0.02 for a, b in zip(times, times[1:]))  # paced: the fake never had to say 429


def test_push_list_respects_the_account_limits(fake):
    fake.account.max_items = 4
    with client_for(fake) as client:
        sign_in(fake, client)
        with pytest.raises(TraktError, match="limit"):
            push_list(client, "Too long", titles(6), write_pacer=FAST_WRITES)


def test_login_push_list_cli_and_the_token_never_leaks(fake, demo_app, demo_settings, tmp_path, monkeypatch, caplog,
                                                       capfd):
    """The CLI end to end on the demo catalogue: login, push-list from the Trakt history (twice), logout."""
    import sqlite3

    demo = demo_app
    picked = [demo.resolve_title(name).title for name in ("Alien", "Aliens", "Notting Hill", "Love Actually")]
    for n, title in enumerate(picked):
        fake.account.watch("movie", {"title": title.title, "year": title.year,
                                     "ids": {"trakt": 900 + n, "tmdb": title.tmdb_id, "imdb": title.imdb_id}},
                           f"2026-0{n + 1}-01T20:00:00.000Z")
    fake.account.rate("movie", {"title": picked[0].title, "year": picked[0].year, "ids": {"tmdb": picked[0].tmdb_id}},
                      10, "2026-05-01T00:00:00.000Z")
    home = tmp_path / "home"
    for name, value in {"FLIXREC_HOME": str(home), "FLIXREC_DATABASE_URL": demo_settings.database_url,
                        "FLIXREC_INDEX_DIR": str(demo_settings.index_dir), "TRAKT_CLIENT_ID": KEY,
                        "TRAKT_CLIENT_SECRET": SECRET, "TRAKT_BASE_URL": fake.url}.items():
        monkeypatch.setenv(name, value)
    monkeypatch.setattr("ingest.trakt.auth.time.sleep", lambda s: None)
    monkeypatch.setattr("ingest.trakt.lists.WRITES_PER_SECOND", 50)
    # the session's service over the same catalogue and index: its title features take seconds to build
    monkeypatch.setattr("flixrec.service.FlixRec", lambda settings: demo_app)
    caplog.set_level(logging.DEBUG)
    fake.account.device_answers = [400, 200]
    assert ingest_main(["trakt", "login", "--rate", "0"]) == 0
    assert stat.S_IMODE(os.stat(home / "trakt-token.json").st_mode) == 0o600
    for _ in range(2):
        assert ingest_main(["trakt", "push-list", "--name", "FlixRec", "--k", "10", "--rate", "0"]) == 0
    (only,) = fake.account.lists
    items = fake.account.items[only["ids"]["trakt"]]
    assert 10 <= len(items) <= 20
    pushed = {item["movie"]["ids"].get("tmdb") for item in items if item["type"] == "movie"}
    assert not pushed & {t.tmdb_id for t in picked}  # watched titles never pushed
    assert ingest_main(["trakt", "logout"]) == 0
    out, err = capfd.readouterr()
    assert "Signed in" in out and "added" in out
    leaked = [*fake.account.tokens_issued(), SECRET]
    logs = caplog.text
    db = b"".join(Path(p).read_bytes() for p in Path(home).rglob("*") if p.is_file())
    db += Path(demo_settings.database_url.removeprefix("sqlite:///")).read_bytes()
    for secret in leaked:
        assert secret not in out and secret not in err and secret not in logs and secret.encode() not in db
    with sqlite3.connect(demo_settings.database_url.removeprefix("sqlite:///")) as conn:
        assert not [row for row in conn.execute("select key from sync_state") if "token" in str(row).lower()]
