"""The For-you page under AppTest (issue 14): an imported CSV, picks, hide / not interested, the URL, Trakt."""

from __future__ import annotations

from pathlib import Path

import pytest
from fake_trakt import FakeTrakt
from streamlit.testing.v1 import AppTest

pytestmark = pytest.mark.slow

ROOT = Path(__file__).resolve().parents[1]
FOR_YOU = "pages/4_For_you.py"
LETTERBOXD_RATINGS = ("Date,Name,Year,Letterboxd URI,Rating\n"
                      "2024-01-02,Alien,1979,https://boxd.it/1a2b,5\n"
                      "2024-01-03,Notting Hill,1999,https://boxd.it/2b3c,4.5\n"
                      "2024-01-04,Aliens,1986,https://boxd.it/3c4d,4\n"
                      "2024-01-05,A Film Nobody Made,1931,https://boxd.it/4d5e,3\n")


@pytest.fixture
def app_env(demo_settings, monkeypatch):
    """The app's environment pointing at the demo home (AppTest runs the script in this process)."""
    monkeypatch.setenv("FLIXREC_HOME", str(demo_settings.home))
    monkeypatch.setenv("FLIXREC_DOWNLOADS", str(demo_settings.downloads_dir))
    return demo_settings


def texts(at: AppTest) -> str:
    parts = [m.value for m in at.markdown] + [c.value for c in at.caption] + [str(m.value) for m in at.metric]
    parts += [e.value for e in at.success] + [e.value for e in at.info] + [e.value for e in at.error]
    parts += [str(b.label) for b in at.button] + [t.value for t in at.title] + [h.value for h in at.subheader]
    return "\n".join(parts).replace("\\", "")  # markdown escapes, e.g. "Alien \\(1979\\)"


def card_ids(at: AppTest) -> list[str]:
    return [b.key.split(":", 1)[1] for b in at.button if b.key and b.key.startswith("fy_less:")]


def for_you_page() -> AppTest:
    """The For-you page, entered from the landing page as a user would."""
    at = AppTest.from_file(str(ROOT / "streamlit_app.py"), default_timeout=120).run()
    at.switch_page(FOR_YOU).run()
    assert not at.exception, [e.message for e in at.exception]
    return at


def imported_page() -> AppTest:
    at = for_you_page()
    at.radio(key="type").set_value("movie").run()
    at.file_uploader(key="profile_files").set_value(("ratings.csv", LETTERBOXD_RATINGS.encode(), "text/csv"))
    at.run()
    assert not at.exception, [e.message for e in at.exception]
    return at


def test_for_you_with_an_imported_letterboxd_csv(app_env, demo_app):
    at = imported_page()
    metrics = {m.label: m.value for m in at.metric}
    assert metrics["Rated"] == "3" and metrics["Not matched"] == "1"
    shown = texts(at)
    assert "Because you liked Alien (1979)" in shown and "Because you liked Notting Hill (1999)" in shown
    ids = card_ids(at)
    assert len(ids) == 20  # k from the sidebar's default
    rated = {demo_app.resolve_title(n).title.title_id for n in ("Alien", "Notting Hill", "Aliens")}
    assert not rated & set(ids)
    assert all(demo_app.get_title(i).media_type == "movie" for i in ids)
    (unmatched,) = [d.value for d in at.dataframe]
    assert list(unmatched["title"]) == ["A Film Nobody Made"] and "1930-1932" in unmatched["reason"][0]

    at.button(key=f"hide:{ids[0]}").click().run()
    at.button(key=f"fy_less:{ids[1]}").click().run()
    after = card_ids(at)
    assert ids[0] not in after and ids[1] not in after and len(after) == 20
    url = {k: at.query_params.get_all(k) if hasattr(at.query_params, "get_all") else at.query_params[k]
           for k in at.query_params}
    assert set(url) <= {"type", "hide", "k", "year", "runtime", "votes", "rating", "genre", "no_genre", "lang"}
    assert ids[1] not in str(url) and "Alien" not in str(url)  # the profile and 'not interested' stay private
    assert "Connect your Trakt account" in texts(at)


def test_picking_titles_by_hand(app_env, demo_app):
    at = for_you_page()
    assert "Import an IMDb or Letterboxd export" in texts(at)
    at.text_input(key="fy_pick_query").input("Spirited Away").run()
    spirited = demo_app.resolve_title("Spirited Away").title.title_id
    at.selectbox(key="fy_pick_rating").select(9).run()
    at.button(key=f"fy_add:{spirited}").click().run()
    assert not at.exception
    assert f"Because you liked {demo_app.get_title(spirited).label()}" in texts(at)
    assert {m.label: m.value for m in at.metric}["Picked"] == "1"


def test_trakt_in_the_page_and_the_token_never_shows(app_env, demo_app, monkeypatch):
    with FakeTrakt(movies=3, shows=1, client_id="fake-client-id") as fake:
        alien = demo_app.resolve_title("Alien").title
        fake.account.rate("movie", {"title": alien.title, "year": alien.year, "ids": {"tmdb": alien.tmdb_id}}, 9,
                          "2026-01-01T00:00:00.000Z")
        for name, value in {"TRAKT_CLIENT_ID": "fake-client-id", "TRAKT_CLIENT_SECRET": "fake-client-secret",
                            "TRAKT_BASE_URL": fake.url, "TRAKT_REQUESTS_PER_5MIN": "100000"}.items():
            monkeypatch.setenv(name, value)
        monkeypatch.setattr("ingest.trakt.lists.WRITES_PER_SECOND", 50)
        fake.account.device_answers = [400, 200]
        at = for_you_page()
        at.button(key="fy_connect").click().run()
        assert "5055CC52" in texts(at)
        at.button(key="fy_check_code").click().run()
        assert "still waiting" in texts(at)
        at.button(key="fy_check_code").click().run()
        at.button(key="fy_read_trakt").click().run()
        assert not at.exception, [e.message for e in at.exception]
        assert "Because you liked Alien (1979)" in texts(at)
        at.button(key="fy_push").click().run()
        assert "added" in texts(at)
        (pushed,) = fake.account.lists
        assert len(fake.account.items[pushed["ids"]["trakt"]]) == 20
        page = texts(at) + str(dict(at.query_params)) + str([w.value for w in at.text_input])
        for secret in [*fake.account.tokens_issued(), "fake-client-secret"]:
            assert secret not in page
