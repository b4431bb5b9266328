"""The Streamlit dashboard under AppTest, over the real demo catalogue: every page, state, URLs, errors."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
import streamlit as st
from streamlit.testing.v1 import AppTest

from flixrec.models import Filters

pytestmark = pytest.mark.slow

ROOT = Path(__file__).resolve().parents[1]
CHARTS, EXPLORE, DATA = "pages/1_Similarity_charts.py", "pages/2_Explore_catalogue.py", "pages/3_Data_and_index.py"
BATMAN_1989, BATMAN_1966, BATMAN_RETURNS = "tmdb-movie-268", "tmdb-movie-2661", "tmdb-movie-364"


def new_app(**query: str | list[str]) -> AppTest:
    """The dashboard, with URL query parameters set before the first run."""
    at = AppTest.from_file(str(ROOT / "streamlit_app.py"), default_timeout=120)
    for key, value in query.items():
        at.query_params[key] = value
    return at


def ok(at: AppTest) -> AppTest:
    """Fail on any exception element (a traceback a user would see)."""
    assert not at.exception, [e.message for e in at.exception]
    return at


def shown_ids(at: AppTest) -> list[str]:
    """The ids of the ranked similar titles on the page, in order (from their Hide buttons)."""
    return [b.key.split(":", 1)[1] for b in at.button if b.key and b.key.startswith("hide:")]


def keyed(at: AppTest, prefix: str) -> list[str]:
    """Ids behind buttons whose key starts with `prefix` ('pick:', 'franchise:')."""
    return [b.key.split(":", 1)[1] for b in at.button if b.key and b.key.startswith(prefix)]


def texts(at: AppTest) -> str:
    """Everything textual on the page, for 'never shows X' checks."""
    parts = [m.value for m in at.markdown] + [c.value for c in at.caption] + [c.value for c in at.code]
    parts += [str(m.value) for m in at.metric] + [h.value for h in at.subheader] + [t.value for t in at.title]
    parts += [e.value for e in at.success] + [e.value for e in at.warning] + [e.value for e in at.info]
    parts += [e.value for e in at.error]
    return "\n".join(parts)


def vega_specs(at: AppTest) -> list[dict]:
    """The Vega-Lite specs of the page's charts, with Streamlit's Arrow datasets decoded into "rows"."""
    import pyarrow as pa

    specs = []
    for el in at.get("vega_lite_chart"):
        spec = json.loads(el.proto.spec)
        spec["datasets_rows"] = [pa.ipc.open_stream(ds.data.data).read_all().to_pylist() for ds in el.proto.datasets]
        spec["rows"] = [row for rows in spec["datasets_rows"] for row in rows]
        specs.append(spec)
    return specs


def dataset_rows(spec: dict) -> list[dict]:
    """Every data row of a chart (all its layers)."""
    return spec["rows"]


def test_search_disambiguation_pick_results(app_env, demo_app):
    at = ok(new_app().run())
    at.text_input(key="query").input("Batman").run()
    ok(at)
    assert set(keyed(at, "pick:")) == {BATMAN_1989, BATMAN_1966}
    assert "2 titles are called" in texts(at) and not shown_ids(at)

    at.button(key=f"pick:{BATMAN_1989}").click().run()
    ok(at)
    headings = [h.value for h in at.subheader]
    assert headings[0] == "Batman (1989)" and "Similar titles (20)" in headings
    assert shown_ids(at) == [r.title.title_id for r in demo_app.similar_titles(BATMAN_1989, 20)]
    franchise = keyed(at, "franchise:")
    assert BATMAN_RETURNS in franchise and BATMAN_1966 in franchise
    assert not set(franchise) & set(shown_ids(at))
    scores = re.findall(r'class="fx-score"[^>]*>(\d{1,3})%', texts(at))  # each card: its score as a percentage
    assert len(scores) == 20 and [int(s) for s in scores] == sorted((int(s) for s in scores), reverse=True)
    assert at.query_params["title"] == [BATMAN_1989] or at.query_params["title"] == BATMAN_1989


def test_an_exact_unique_name_goes_straight_to_results(app_env):
    at = ok(new_app().run())
    at.text_input(key="query").input("interstellar").run()
    ok(at)
    assert not keyed(at, "pick:")
    assert at.subheader[0].value == "Interstellar (2014)" and len(shown_ids(at)) == 20
    credits = next(c.value for c in at.caption if c.value.startswith("Directed by"))
    assert "Written by Christopher Nolan, Jonathan Nolan" in credits and "Music by Hans Zimmer" in credits


def test_a_typo_offers_did_you_mean_cards(app_env, demo_app):
    interstellar = demo_app.search_titles("Interstellar")[0].title.title_id
    at = ok(new_app().run())
    at.text_input(key="query").input("Intersteller").run()
    ok(at)
    assert "Did you mean" in texts(at)
    assert keyed(at, "pick:")[0] == interstellar
    at.button(key=f"pick:{interstellar}").click().run()
    assert ok(at).subheader[0].value == "Interstellar (2014)"


def test_filters_change_results_keep_the_seed_and_every_result_passes(app_env, demo_app):
    at = ok(new_app(title=BATMAN_1989).run())
    before = shown_ids(at)
    at.slider(key="year").set_value((1995, 2015)).run()
    at.slider(key="rating").set_value(6.5).run()
    at.select_slider(key="votes").set_value(250).run()
    at.radio(key="type").set_value("movie").run()
    at.multiselect(key="no_genre").set_value(["Comedy"]).run()
    at.slider(key="k").set_value(15).run()
    ok(at)
    after = shown_ids(at)
    assert after != before and len(after) == 15
    assert at.subheader[0].value == "Batman (1989)"  # the seed fails its own year filter and stays chosen
    filters = Filters(year_min=1995, year_max=2015, min_rating=6.5, min_votes=250, media_types={"movie"},
                      genres_exclude={"Comedy"})
    titles = demo_app.catalog.find_titles(after, with_people=False)
    assert all(filters.accepts(titles[t]) for t in after)
    assert after == [r.title.title_id for r in demo_app.similar_titles(BATMAN_1989, 15, filters)]
    # the filters are widgets bound to the URL: the browser writes year=1995&year=2015&rating=6.5&type=Movies&k=15
    # (AppTest has no browser, so check that this URL restores the same view; test_browser checks the URL itself)
    link = ok(new_app(title=BATMAN_1989, year=["1995", "2015"], rating="6.5", votes="250", type="Movies",
                      no_genre="Comedy", k="15").run())
    assert shown_ids(link) == after and link.slider(key="year").value == (1995, 2015)


def test_sliders_at_full_range_do_not_hide_the_anime(app_env, demo_app):
    attack_on_titan = demo_app.search_titles("Attack on Titan")[0].title.title_id
    at = ok(new_app(title=attack_on_titan).run())
    anime = [t for t in shown_ids(at) if t.startswith("bgm-")]
    assert anime, "default filters must keep titles without runtime/votes/rating"
    assert "no filter" in at.slider(key="year").help
    at.slider(key="runtime").set_value((30, 200)).run()
    assert ok(at) and not [t for t in shown_ids(at) if t.startswith("bgm-")]  # null runtime fails an active bound


def test_query_params_restore_a_view(app_env, demo_app):
    hidden = demo_app.similar_titles(BATMAN_1989, 1)[0].title.title_id
    at = ok(new_app(title=BATMAN_1989, year="1980-2010", type="movie", rating="6", genre=["Action", "Crime"],
                    hide=[hidden]).run())
    assert at.slider(key="year").value == (1980, 2010)
    assert at.slider(key="rating").value == 6.0
    assert at.radio(key="type").value == "movie"
    assert at.multiselect(key="genre").value == ["Action", "Crime"]
    assert at.subheader[0].value == "Batman (1989)"
    filters = Filters(year_min=1980, year_max=2010, min_rating=6.0, media_types={"movie"},
                      genres_include={"Action", "Crime"}, exclude_ids={hidden})
    assert shown_ids(at) == [r.title.title_id for r in demo_app.similar_titles(BATMAN_1989, 20, filters)]
    assert hidden not in shown_ids(at)


def test_broken_url_values_and_unknown_titles_are_harmless(app_env):
    at = ok(new_app(title="tmdb-movie-does-not-exist", year="soon", votes="-3", rating="inf", runtime="9-x",
                    k="9999").run())
    assert "not in the catalogue" in texts(at)
    assert at.slider(key="k").value == 50


def test_hide_a_title_and_bring_it_back(app_env):
    at = ok(new_app(title=BATMAN_1989).run())
    first = shown_ids(at)[0]
    at.button(key=f"hide:{first}").click().run()
    ok(at)
    assert first not in shown_ids(at) and len(shown_ids(at)) == 20
    assert first in str(at.query_params["hide"])
    at.switch_page(CHARTS).run()
    bars = vega_specs(ok(at))[0]
    assert all(first not in json.dumps(row) for row in dataset_rows(bars))
    at.switch_page("streamlit_app.py").run()
    at.button(key="unhide").click().run()
    assert ok(at) and shown_ids(at)[0] == first


def test_page_switches_keep_the_title_and_filters(app_env, demo_app):
    at = ok(new_app().run())
    at.text_input(key="query").input("The Host").run()
    host_ids = keyed(ok(at), "pick:")
    assert len(host_ids) == 2
    chosen = next(t for t in host_ids if demo_app.get_title(t).year == 2006)
    at.button(key=f"pick:{chosen}").click().run()
    at.slider(key="rating").set_value(7.0).run()
    for page in (CHARTS, EXPLORE, DATA, "streamlit_app.py"):
        at.switch_page(page).run()
        ok(at)
        if page != DATA:
            assert at.slider(key="rating").value == 7.0, page
    assert at.subheader[0].value == "The Host (2006)"
    assert at.text_input(key="query").value == "The Host"


def test_similarity_charts_page(app_env, demo_app):
    at = new_app(title=BATMAN_1989)
    at.switch_page(CHARTS).run()
    ok(at)
    bars, neighbourhood, histogram = vega_specs(at)
    expected = demo_app.similar_titles(BATMAN_1989, 20)
    bar_rows = dataset_rows(bars)
    assert [row["score"] for row in bar_rows] == [round(r.score, 3) for r in expected]
    points = max(neighbourhood["datasets_rows"], key=len)  # the dots layer (the labels layer is a subset)
    assert [p["title_id"] for p in points if p.get("role") == "seed"] == [BATMAN_1989]
    assert {"x", "y", "label", "score"} <= set(points[0])
    assert "tooltip" in neighbourhood["layer"][0]["encoding"]
    cutoff_rows = [row for row in dataset_rows(histogram) if "cutoff" in row]
    assert cutoff_rows and cutoff_rows[0]["cutoff"] == round(expected[-1].score, 3)
    assert sum(row.get("titles", 0) for row in dataset_rows(histogram)) == demo_app.status().catalog_titles - 1
    parts = {row["part"] for row in dataset_rows(histogram) if "part" in row}  # never "the top k": the franchise is in there
    assert parts == {"below the cut-off", "at or above the cut-off"}


def test_similarity_charts_without_a_title_point_to_find_similar(app_env):
    at = new_app()
    at.switch_page(CHARTS).run()
    assert "Pick a title" in texts(ok(at)) and not at.get("vega_lite_chart")


def test_explore_page_applies_the_sidebar_filters(app_env, demo_app):
    at = new_app(type="show", year="2010-2020")
    at.switch_page(EXPLORE).run()
    ok(at)
    frame = at.dataframe[0].value
    expected = demo_app.explore_catalogue(Filters(media_types={"show"}, year_min=2010, year_max=2020))
    assert len(frame) == len(expected) > 100
    assert set(frame["Type"] if "Type" in frame else frame["type"]) == {"Show"}
    assert at.metric[0].value == f"{len(expected):,}"
    assert len(at.get("vega_lite_chart")) == 3


def test_data_page_reports_counts_and_never_shows_the_key(app_env, demo_app):
    at = new_app()
    at.secrets["TRAKT_CLIENT_ID"] = "sekrit-trakt-client-id-123"
    at.switch_page(DATA).run()
    ok(at)
    status = demo_app.status()
    metrics = {m.label: m.value for m in at.metric}
    assert metrics["Catalogue titles"] == f"{status.catalog_titles:,}"
    assert metrics["Index vectors"] == f"{status.index_vectors:,}"
    assert at.success and "agree" in at.success[0].value
    page = texts(at)
    assert "use-multilingual" in page and "512" in page and "python -m ingest embed" in page
    assert "configured (never shown)" in page and "sekrit" not in page
    assert str(app_env.home) not in page and "FLIXREC_SHOW_PATHS" in page  # no server path for visitors
    shown_runs = " ".join(str(frame.value) for frame in at.dataframe)  # a run's checkpoint, never bookkeeping
    assert "embedding_recipe" not in shown_runs and "embedding_recipe" not in page
    operator = new_app()
    operator.secrets["FLIXREC_SHOW_PATHS"] = "true"
    operator.switch_page(DATA).run()
    assert str(app_env.home) in texts(ok(operator))


def test_data_page_shows_when_a_run_without_its_own_time_last_wrote_its_checkpoint(tmp_path, monkeypatch, use_embedder):
    from conftest import build_home
    from flixrec.catalog import Catalog
    from small_catalogue import SMALL_TITLES

    settings = build_home(tmp_path / "home", "use-multilingual", use_embedder, SMALL_TITLES[:4])
    Catalog.open(settings.database_url).set_state("trakt:movies:popular", {"page": 3})  # a crawl's cursor: no "at"
    monkeypatch.setenv("FLIXREC_HOME", str(settings.home))
    monkeypatch.setenv("FLIXREC_MODEL", "use-multilingual")
    at = new_app()
    at.switch_page(DATA).run()
    runs = ok(at).dataframe[0].value
    row = runs[runs["checkpoint"] == "trakt:movies:popular"].iloc[0]
    assert re.fullmatch(r"\d{4}-\d\d-\d\d \d\d:\d\d UTC", row["last run"]) and row["details"] == "page 3"


def test_a_malformed_database_url_never_shows_its_password_or_a_path(tmp_path, monkeypatch):
    monkeypatch.setenv("FLIXREC_HOME", str(tmp_path / "home"))
    monkeypatch.setenv("FLIXREC_DATABASE_URL", "postgres:S3CRETPW@db.internal/flixrec")
    for page in ("streamlit_app.py", DATA):
        at = new_app()
        if page != "streamlit_app.py":
            at.switch_page(page)
        at.run()
        ok(at)
        page_text = texts(at)
        assert at.error and "S3CRETPW" not in page_text and str(tmp_path) not in page_text


def test_an_invalid_secrets_file_is_an_error_in_the_app_too(tmp_path, monkeypatch):
    """The CLI stops on an invalid .streamlit/secrets.toml; the app says so too instead of ignoring it."""
    import shutil

    app_dir = tmp_path / "app"
    shutil.copytree(ROOT / "pages", app_dir / "pages")
    shutil.copy(ROOT / "streamlit_app.py", app_dir)
    (app_dir / ".streamlit").mkdir()
    (app_dir / ".streamlit" / "secrets.toml").write_text('TRAKT_CLIENT_ID = "sekrit\n[broken')
    monkeypatch.chdir(app_dir)
    monkeypatch.syspath_prepend(str(ROOT))
    at = AppTest.from_file(str(app_dir / "streamlit_app.py"), default_timeout=120).run()
    ok(at)
    assert at.error and "secrets.toml" in at.error[0].value and "not valid TOML" in at.error[0].value
    assert "sekrit" not in texts(at)


@pytest.mark.parametrize("query", ["", "   ", "x" * 500, "🎬🍿🎞️", "'; DROP TABLE titles; --", "%_%",
                                   "<script>alert(1)</script>", "$$\\frac{1}{2}$$ *[x](y)*"])
def test_odd_input_never_crashes(app_env, demo_app, query):
    before = demo_app.catalog.count()
    at = ok(new_app().run())
    at.text_input(key="query").input(query).run()
    ok(at)
    assert demo_app.catalog.count() == before


def test_no_index_page_names_the_command_on_every_page(tmp_path, monkeypatch):
    monkeypatch.setenv("FLIXREC_HOME", str(tmp_path / "empty-home"))
    st.cache_resource.clear()
    for page in ("streamlit_app.py", CHARTS, EXPLORE, DATA):
        at = new_app(title=BATMAN_1989)
        if page != "streamlit_app.py":
            at.switch_page(page)
        at.run()
        ok(at)
        page_text = texts(at)
        assert "python -m ingest build-demo" in page_text and "make run" in page_text, page
        assert any(b.label == "Build the demo catalogue" for b in at.button), page
    assert not (tmp_path / "empty-home" / "chroma").exists()  # the app only offers to build: it wrote nothing


# ---- "By description": free-text search on the landing page ---------------------------------------------

INCEPTION = "tmdb-movie-27205"
GERMAN_INCEPTION = ("Ein Dieb, der in das Unterbewusstsein seiner Opfer eindringt, um Firmengeheimnisse zu stehlen, "
                    "soll einem Menschen eine fremde Idee einpflanzen.")


def param(at: AppTest, key: str) -> str | list[str] | None:
    """One URL parameter as the app set it (a single value unwrapped); None when absent."""
    if key not in at.query_params:
        return None
    value = at.query_params[key]
    return value[0] if isinstance(value, list) and len(value) == 1 else value


def described_ids(at: AppTest) -> list[str]:
    """The ids of the titles matching the description, in rank order (from their Find similar buttons)."""
    return keyed(at, "similar:")


def test_a_german_description_finds_inception_and_leads_on_to_similar_titles(app_env, demo_app):
    at = ok(new_app().run())
    at.segmented_control(key="search_mode").set_value("text").run()
    assert "Try one of these" in texts(ok(at)) and not described_ids(at)  # empty box: a hint, no results
    at.text_area(key="description").input(GERMAN_INCEPTION).run()
    ok(at)
    ids = described_ids(at)
    assert INCEPTION in ids[:3] and len(ids) == 20
    assert ids == [r.title.title_id for r in demo_app.similar_to_text(GERMAN_INCEPTION, 20)]
    assert shown_ids(at) == ids  # the same ranked cards as title search, with Hide
    assert "Titles matching your description (20)" in [h.value for h in at.subheader]
    assert param(at, "mode") == "text" and param(at, "q") == GERMAN_INCEPTION

    at.button(key=f"similar:{INCEPTION}").click().run()  # from a described result to title similarity
    ok(at)
    assert at.subheader[0].value == "Inception (2010)" and len(shown_ids(at)) == 20
    assert at.segmented_control(key="search_mode").value == "title"
    assert param(at, "title") == INCEPTION and param(at, "mode") is None and param(at, "q") == "Inception"
    at.segmented_control(key="search_mode").set_value("text").run()  # back: the description is still there
    assert ok(at).text_area(key="description").value == GERMAN_INCEPTION and described_ids(at) == ids


def test_sidebar_filters_apply_to_described_titles(app_env, demo_app):
    at = ok(new_app(mode="text", q=GERMAN_INCEPTION).run())
    unfiltered = described_ids(at)
    at.slider(key="year").set_value((1990, 2009)).run()
    at.slider(key="rating").set_value(6.0).run()
    at.radio(key="type").set_value("movie").run()
    at.slider(key="k").set_value(10).run()
    ok(at)
    after = described_ids(at)
    assert len(after) == 10 and after != unfiltered[:10] and INCEPTION not in after  # Inception is 2010
    filters = Filters(year_min=1990, year_max=2009, min_rating=6.0, media_types={"movie"})
    titles = demo_app.catalog.find_titles(after, with_people=False)
    assert all(filters.accepts(titles[t]) for t in after)
    assert after == [r.title.title_id for r in demo_app.similar_to_text(GERMAN_INCEPTION, 10, filters)]
    at.button(key=f"hide:{after[0]}").click().run()
    assert after[0] not in described_ids(ok(at)) and len(described_ids(at)) == 10
    assert param(at, "mode") == "text"
    link = ok(new_app(mode="text", q=GERMAN_INCEPTION, year=["1990", "2009"], rating="6", type="movie", k="10",
                      hide=after[0]).run())
    assert described_ids(link) == described_ids(at) and link.slider(key="year").value == (1990, 2009)


def test_url_restores_a_description_view_across_page_switches(app_env, demo_app):
    at = ok(new_app(mode="text", q=GERMAN_INCEPTION, type="movie").run())
    assert at.segmented_control(key="search_mode").value == "text"
    assert at.text_area(key="description").value == GERMAN_INCEPTION
    expected = [r.title.title_id for r in demo_app.similar_to_text(GERMAN_INCEPTION, 20, Filters(media_types={"movie"}))]
    assert described_ids(at) == expected and expected[0] == INCEPTION
    for page in (DATA, "streamlit_app.py"):
        at.switch_page(page).run()
        ok(at)
    assert at.text_area(key="description").value == GERMAN_INCEPTION and described_ids(at) == expected
    assert param(at, "mode") == "text" and param(at, "q") == GERMAN_INCEPTION and param(at, "type") == "Movies"


@pytest.mark.parametrize("text", ["", "   ", "x" * 500, "y" * 1000, "🎬🍿🎞️", "'; DROP TABLE titles; --", "%_%",
                                  "<script>alert(1)</script>", "$$\\frac{1}{2}$$ *[x](y)*", "\x00\n\t"])
def test_odd_descriptions_never_crash(app_env, demo_app, text):
    before = demo_app.catalog.count()
    at = ok(new_app(mode="text").run())
    at.text_area(key="description").input(text).run()
    ok(at)
    if text.strip():
        assert len(described_ids(at)) == 20 and len(str(param(at, "q"))) <= 1000
    else:
        assert "Try one of these" in texts(at) and not described_ids(at) and param(at, "q") is None
    assert demo_app.catalog.count() == before


def test_an_overlong_description_in_a_url_is_cut_to_the_box_limit(app_env):
    at = ok(new_app(mode="text", q="Ein Dieb stiehlt Träume. " * 80).run())  # 2,000 characters
    assert len(at.text_area(key="description").value) <= 1000 and len(described_ids(at)) == 20
    assert len(param(at, "q")) <= 1000


# ---- links: the shared filter parser (flixrec.filters) behind the bound widgets ---------------------------


def test_a_link_with_differently_written_or_unknown_filters_says_what_it_dropped(app_env, demo_app):
    at = ok(new_app(title=BATMAN_1989, genre="science fiction", lang=["zz", "en"], rating="nan", votes="9" * 400).run())
    assert at.multiselect(key="genre").value == ["Science Fiction"]  # matched to the catalogue's genre
    assert at.multiselect(key="lang").value == ["en"] and at.slider(key="rating").value == 0.0
    warning = " ".join(w.value for w in at.warning)
    assert "lang=zz" in warning and "rating=nan" in warning and "votes=" in warning
    expected = demo_app.similar_titles(BATMAN_1989, 20, Filters(genres_include={"Science Fiction"}, languages={"en"}))
    assert shown_ids(at) == [r.title.title_id for r in expected]  # no filter is active without its widget
    at.slider(key="k").set_value(10).run()
    assert not ok(at).warning  # said once, after the link was read


def test_a_vote_count_between_the_steps_stays_visible_and_active(app_env, demo_app):
    at = ok(new_app(title=BATMAN_1989, votes="300").run())
    assert at.select_slider(key="votes").value == 300
    assert shown_ids(at) == [r.title.title_id for r in demo_app.similar_titles(BATMAN_1989, 20, Filters(min_votes=300))]


def test_the_build_button_runs_ingests_demo_workflow_with_progress(tmp_path, monkeypatch):
    """The no-index page's button calls ingest.build.build_demo(settings, progress, note); here a stand-in records it."""
    import sys
    import types

    calls = []

    def build_demo(settings, progress=None, note=None):
        calls.append(settings.home)
        progress("demo tmdb5000", 0, 4800)
        progress("demo tmdb5000", 4800, 4800)
        note("npm is not available here, so the anime part is skipped")
        progress("embed use-multilingual", 4800, 4800)
        return object()

    monkeypatch.setitem(sys.modules, "ingest.build", types.SimpleNamespace(build_demo=build_demo))
    monkeypatch.setenv("FLIXREC_HOME", str(tmp_path / "empty-home"))
    st.cache_resource.clear()
    at = ok(new_app().run())
    at.button(key="build_demo").click().run()
    ok(at)
    assert calls == [tmp_path / "empty-home"]
    assert "anime part is skipped" in texts(at) and any(b.key == "after_build" for b in at.button)
