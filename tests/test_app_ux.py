"""Issue 17 under AppTest over the demo: results lead on, posters, forgiving search, honest descriptions,
hidden titles by name, Explore's weighted rating, honest charts, warm-up and caching, links, the landing page."""

from __future__ import annotations

import json
import re
import time
import types

import pytest

from flixrec.explore import WEAK_TEXT_MATCH
from flixrec.models import Filters, Title
from flixrec.names import display_name, display_overview, looks_romaji
from ingest.demo import anime_poster
from pages.common.posters import initials, placeholder_uri, poster_html
from test_app import (BATMAN_1989, CHARTS, EXPLORE, keyed, new_app, ok, param, shown_ids, texts, vega_specs)

pytestmark = pytest.mark.slow
INTERSTELLAR, YOUR_NAME = "tmdb-movie-157336", "bgm-160209"


def card_links(at) -> list[str]:
    """The title ids the cards' name links lead to, in page order."""
    return re.findall(r'class="fx-title" href="\?[^"]*title=([\w-]+)', texts(at))


# 1. every result leads on ------------------------------------------------------------------------------


def test_every_result_and_franchise_entry_leads_to_its_own_similar_titles(app_env, demo_app):
    at = ok(new_app(title=BATMAN_1989, rating="6").run())
    shown = shown_ids(at)
    assert keyed(at, "similar:") == shown  # a More-like-this button on every card, in title mode too
    assert card_links(at)[: len(shown)] == shown  # and the name is a link to ?title=…
    link = re.search(r'class="fx-title" href="(\?[^"]*)"', texts(at)).group(1).replace("&amp;", "&")
    assert "rating=6" in link and "q=" in link  # the link keeps the filters
    franchise = keyed(at, "franchise:")
    assert franchise and all(f"title={t}" in texts(at) for t in franchise)
    at.button(key=f"similar:{shown[1]}").click().run()
    assert param(ok(at), "title") == shown[1] and shown_ids(at) != shown
    at.button(key=f"franchise:{keyed(at, 'franchise:')[0]}" if keyed(at, "franchise:") else f"similar:{shown_ids(at)[0]}").click().run()
    assert ok(at) and param(at, "title") not in (None, shown[1])


# 2. posters and denser cards --------------------------------------------------------------------------


def test_a_poster_url_is_lazy_over_the_placeholder_and_no_url_gives_the_placeholder():
    with_url = types.SimpleNamespace(title="Your Name.", genres=("Animation",), poster_url="https://lain.bgm.tv/x.jpg")
    html = poster_html(with_url)
    assert "content-visibility:auto" in html  # boxes outside the window (and their posters) load later
    assert html.index("https://lain.bgm.tv/x.jpg") < html.index("data:image/svg+xml")  # poster over placeholder
    bare = poster_html(Title("t", "movie", "The Dark Knight", "tmdb5000", genres=("Action",)))
    assert "https://" not in bare and "data:image/svg+xml" in bare
    assert initials("The Dark Knight") == "DK" and initials("千と千尋の神隠し") == "千"
    assert placeholder_uri(Title("a", "movie", "A", "x", genres=("Horror",))) != placeholder_uri(Title("a", "movie", "A", "x"))


def test_the_demo_anime_records_give_their_cover_url():
    item = {"bangumi": {"images": {"small": "https://lain.bgm.tv/r/200/a.jpg", "common": "https://lain.bgm.tv/r/400/a.jpg"}}}
    assert anime_poster(item) == "https://lain.bgm.tv/r/400/a.jpg"
    assert anime_poster({"bangumi": {}}) is None and anime_poster({}) is None


def test_results_are_compact_cards_in_a_grid(app_env):
    at = ok(new_app(title=INTERSTELLAR).run())
    assert len(shown_ids(at)) == 20 and texts(at).count('class="fx-poster"') >= 21  # seed and every card
    assert not at.get("metric")  # no tall metric per card: the score is a line in the card


# 3. forgiving search, suggestions as you type -----------------------------------------------------------


def test_a_misspelt_name_offers_the_right_titles(app_env):
    at = ok(new_app().run())
    at.text_input(key="query").input("harry poter").run()
    picks = keyed(ok(at), "pick:")
    names = re.findall(r'class="fx-title"[^>]*>([^<]+)<', texts(at))
    assert len(picks) >= 6 and all(n.startswith("Harry Potter") for n in names[:6])
    box = at.text_input(key="query").proto
    assert box.HasField("live_debounce_ms") and box.live_debounce_ms > 0  # live: matches appear as you type
    at.text_input(key="query").input("the dark knigth").run()
    assert keyed(ok(at), "pick:")[0] == "tmdb-movie-155"  # The Dark Knight first, Shark Night below


# 4. descriptions that match nothing ---------------------------------------------------------------------


def test_gibberish_says_nothing_matches_well_and_folds_the_list(app_env, demo_app):
    at = ok(new_app(mode="text", q="<img onerror=alert(1)>").run())
    assert any("Nothing in the catalogue matches this description well" in w.value for w in at.warning)
    assert at.expander and "closest titles anyway" in at.expander[0].label
    real = ok(new_app(mode="text", q="astronauts travel through a wormhole to save humanity").run())
    assert not real.warning and demo_app.similar_to_text("asdfghjkl", 1)[0].score < WEAK_TEXT_MATCH


def test_a_long_description_says_it_was_cut(app_env):
    at = ok(new_app(mode="text", q="Ein Dieb stiehlt Träume. " * 80).run())
    assert "Only the first 1,000 characters" in texts(at)


# 5. hidden titles by name, one by one --------------------------------------------------------------------


def test_hidden_titles_are_named_and_come_back_one_by_one(app_env, demo_app):
    at = ok(new_app(title=BATMAN_1989).run())
    first, second = shown_ids(at)[:2]
    at.button(key=f"hide:{first}").click().run()
    at.button(key=f"hide:{second}").click().run()
    ok(at)
    assert "Filtered by the sidebar" not in texts(at)  # hiding is no filter
    names = [b.label for b in at.button if b.key and b.key.startswith("unhide:")]
    assert names == [demo_app.get_title(first).label(), demo_app.get_title(second).label()]
    at.button(key=f"unhide:{first}").click().run()
    assert first in shown_ids(ok(at)) and second not in shown_ids(at)
    at.slider(key="rating").set_value(6.0).run()
    assert "Filtered by the sidebar" in texts(ok(at))


# 6. Explore --------------------------------------------------------------------------------------------


def test_explore_sorts_by_weighted_rating_and_never_shows_none(app_env, demo_app):
    at = ok(new_app().switch_page(EXPLORE).run())
    table = at.dataframe[0]
    assert table.proto.placeholder == "—"
    frame = table.value
    weighted = frame["weighted_rating"].dropna().tolist()
    assert weighted == sorted(weighted, reverse=True) and frame["votes"].iloc[0] > 1000  # no 10.0 from 2 votes on top
    language = next(s for s in vega_specs(at) if "language" in str(s.get("title", "")))
    assert language["encoding"]["x"]["scale"]["type"] == "symlog"  # a log axis that keeps bars from 0
    assert any(str(row.get("name", "")).startswith("Other languages") for row in language["rows"])


# 7. charts ---------------------------------------------------------------------------------------------


def test_charts_start_at_zero_label_few_points_and_list_only_present_roles(app_env, demo_app):
    at = ok(new_app(title=INTERSTELLAR).switch_page(CHARTS).run())
    bars, neighbourhood, _ = vega_specs(at)
    assert bars["encoding"]["x"]["scale"]["domain"] == [0, 1]
    labels = min(neighbourhood["datasets_rows"], key=len)
    assert len(labels) <= 4  # the seed and the top three; the rest on hover
    roles = neighbourhood["layer"][0]["encoding"]["color"]["scale"]["domain"]
    franchise = demo_app.franchise_titles(INTERSTELLAR)
    assert ("Same franchise" in roles) == bool(franchise)
    assert all('"name": "pick"' in json.dumps(spec) for spec in (bars, neighbourhood))  # clickable points


# 8. waiting --------------------------------------------------------------------------------------------


def test_the_model_warms_up_in_the_background_and_the_landing_page_says_so(app_env):
    at = ok(new_app().run())
    assert "language model" in texts(at)
    from pages.common.services import load_settings, warm_up

    warming = warm_up(load_settings())
    deadline = time.monotonic() + 120
    while not warming.ready and time.monotonic() < deadline:
        time.sleep(0.5)
    assert warming.ready and warming.error is None
    assert "The language model is loaded" in texts(ok(new_app().run()))


def test_a_filter_change_reuses_the_seed_and_a_repeated_filter_set_costs_no_query(app_env, demo_app, monkeypatch):
    at = ok(new_app(title=BATMAN_1989).run())
    at.slider(key="rating").set_value(6.0).run()
    calls: list[str] = []
    from flixrec.service import FlixRec

    for name in ("similar_titles", "franchise_titles", "get_title"):
        original = getattr(FlixRec, name)
        monkeypatch.setattr(FlixRec, name, lambda self, *a, _o=original, _n=name, **kw: calls.append(_n) or _o(self, *a, **kw))
    at.slider(key="rating").set_value(0.0).run()  # back to a filter set already shown
    assert ok(at) and calls == [] and len(shown_ids(at)) == 20
    at.slider(key="rating").set_value(7.0).run()  # a new filter set: only the similar titles are queried
    assert ok(at) and calls == ["similar_titles"]


# 9. a title-only link ----------------------------------------------------------------------------------


def test_a_title_only_link_fills_the_search_box(app_env):
    at = ok(new_app(title=INTERSTELLAR).run())
    assert at.text_input(key="query").value == "Interstellar" and at.subheader[0].value == "Interstellar (2014)"


# 10. landing page and names ----------------------------------------------------------------------------


def test_the_landing_page_folds_the_filters_until_a_search(app_env):
    at = ok(new_app().run())
    assert "Filters" not in [h.value for h in at.sidebar.header]
    assert any(e.label == "Filters" for e in at.sidebar.expander)
    at.text_input(key="query").input("Interstellar").run()
    assert "Filters" in [h.value for h in ok(at).sidebar.header]


def test_anime_show_their_english_name_and_keep_the_others(app_env, demo_app):
    title = demo_app.get_title(YOUR_NAME)
    assert looks_romaji("Kimi no Na wa.") and not looks_romaji("Your Name.")
    assert display_name(title) == "Your Name."
    at = ok(new_app(title=YOUR_NAME).run())
    assert re.sub(r"\\(.)", r"\1", at.subheader[0].value) == "Your Name. (2016)"  # markdown-escaped
    shown_text = re.sub(r"\\(.)", r"\1", texts(at))
    assert "君の名は。" in shown_text and "Kimi no Na wa." in shown_text  # the other names stay visible
    versions = types.SimpleNamespace(overviews=(("zh", "在远离大都会的小山村"), ("en", "Two strangers find themselves linked")),
                                     overview="在远离大都会的小山村")
    shown, others = display_overview(versions, "en")
    assert shown.startswith("Two strangers") and others == [("zh", "在远离大都会的小山村")]


def test_filters_and_hidden_titles_do_not_change_the_results_contract(app_env, demo_app):
    at = ok(new_app(title=BATMAN_1989, type="movie").run())
    assert shown_ids(at) == [r.title.title_id for r in demo_app.similar_titles(BATMAN_1989, 20, Filters(media_types={"movie"}))]


def test_explore_lists_anime_under_their_english_names(app_env):
    at = ok(new_app(lang="ja").switch_page(EXPLORE).run())
    names = set(at.dataframe[0].value["title"])
    assert "Your Name." in names and "Kimi no Na wa." not in names


def test_a_filter_set_before_the_search_is_kept_when_the_filters_unfold(app_env):
    at = ok(new_app().run())
    at.slider(key="rating").set_value(7.0).run()
    at.text_input(key="query").input("Interstellar").run()
    assert ok(at).slider(key="rating").value == 7.0 and "Filtered by the sidebar" in texts(at)
