"""FlixRec dashboard, landing page "Find similar": type a title (or describe one), see similar movies and shows.

Run with `make run` (or `streamlit run streamlit_app.py`). The other pages live in pages/; the shared app
package in pages/common/ (services, state, layout, cards, charts).
"""

from __future__ import annotations

from contextlib import nullcontext

import streamlit as st

from flixrec.errors import FlixrecError, TitleNotFound
from flixrec.explore import WEAK_TEXT_MATCH, weak_text_match
from flixrec.models import Filters
from flixrec.search import MAX_QUERY_CHARS as SEARCHED_CHARS
from flixrec.service import FlixRec
from pages.common import cards, layout, state
from pages.common.services import build_stamp, flixrec_service, load_settings, similar_view, warm_up

EXAMPLES = ("Interstellar", "Batman", "The Host", "千と千尋の神隠し", "Attack on Titan")
DESCRIBED = ("A heist that happens inside people's dreams", "Ein Roboter bleibt allein auf der verlassenen Erde zurück",
             "宇宙で遭難した宇宙飛行士が一人で生き延びる", "Un grupo de niños busca el tesoro de un pirata")
SEARCH_MODES = {"title": "By title", "text": "By description"}


def search_for(query: str) -> None:
    """Search for a name from scratch; one title with the top exact match is chosen right away.

    Resolving here, in the callback, means the run writes the URL once: one history entry per search.
    """
    view = state.view()
    view.query, view.title_id = query[: state.MAX_QUERY_CHARS], None  # as typed: the live box keeps its spaces
    if not view.query.strip():
        return
    try:
        resolution = flixrec_service(load_settings()).resolve_title(view.query.strip())
    except FlixrecError:
        return  # the page run shows the error
    if resolution.title is not None:
        view.title_id = resolution.title.title_id


def query_changed() -> None:
    """The search box changed (Enter, or a pause while typing: the matches below are the suggestions)."""
    search_for(st.session_state.get("query") or "")


def mode_changed() -> None:
    """The By title / By description control changed (clicking the chosen option keeps it)."""
    state.view().mode = st.session_state.get("search_mode") or state.view().mode


def describe(text: str) -> None:
    """Search for a description (the box, its button, an example)."""
    state.view().text = text.strip()[: state.MAX_TEXT_CHARS]


def search_mode() -> str:
    """The By title / By description control under the heading; returns the mode."""
    st.session_state["search_mode"] = state.view().mode
    st.segmented_control("Search by", list(SEARCH_MODES), format_func=SEARCH_MODES.get, required=True,
                         key="search_mode", on_change=mode_changed, label_visibility="collapsed")
    return state.view().mode


def description_search(service: FlixRec, filters: Filters, k: int) -> None:
    """Free-text search: a description in any language the model reads, ranked like similar titles."""
    st.session_state["description"] = state.view().text
    st.text_area(
        "Description", key="description", on_change=lambda: describe(st.session_state.get("description") or ""),
        max_chars=state.MAX_TEXT_CHARS, height=100,
        placeholder="Describe what you want to watch: a plot, a setting, a mood. Any language, "
                    "e.g. a thief who steals secrets from people's dreams",
        help="Compared with every title's overview, tagline and genres by the multilingual sentence model, "
             "so German, Spanish, Japanese or Chinese descriptions work too.",
        label_visibility="collapsed",
    )
    button, note = st.columns([1, 4], vertical_alignment="center")
    button.button("Find matching titles", key="describe", type="primary", icon=":material/search:", width="stretch",
                  on_click=lambda: describe(st.session_state.get("description") or ""))
    note.caption("Ctrl+Enter (⌘+Enter) in the box searches too. Pick a result's **Find similar** to continue from that title.")
    text = state.view().text
    if not text:
        st.markdown("Describe what you are in the mood for, in your own words and language. Try one of these:")
        columns = st.columns(2)  # two a row: the sentences stay readable
        for i, example in enumerate(DESCRIBED):
            columns[i % 2].button(example, key=f"text-example:{example}", on_click=describe, args=(example,),
                                  width="stretch")
        return
    if len(text) >= state.MAX_TEXT_CHARS:
        st.caption(f"Only the first {state.MAX_TEXT_CHARS:,} characters of the description are used.")
    warming = warm_up(load_settings())
    with layout.shown_errors(), st.spinner("Loading the language model (first description only)…",
                                           show_time=True) if not warming.ready else nullcontext():
        results = service.similar_to_text(text, k, filters)
    st.subheader(f"Titles matching your description ({len(results)})", anchor=False)
    cards.filtered_note(filters)
    if not results:
        st.info("No title passes the current filters. Loosen them in the sidebar (or press Reset filters).")
    elif weak_text_match(results):
        st.warning(f"Nothing in the catalogue matches this description well (the best match scores "
                   f"{results[0].score:.0%}; real descriptions score above {WEAK_TEXT_MATCH:.0%}). Describe the story, "
                   "setting or mood in a few words, in any language.", icon=":material/help:")
        with st.expander(f"Show the {len(results)} closest titles anyway"):
            cards.recommendation_grid(results)
        return
    cards.recommendation_grid(results)


service, facets = layout.start_page("Find similar", "🎬", write_url=False, fold_filters=True)  # URL written once below
warming = warm_up(load_settings())
parsed = state.current_filters(facets)
filters, k, view = parsed.filters, parsed.k, state.view()

if view.title_id or view.query:  # results below: a smaller heading leaves room for them
    st.header("Find similar movies and shows", anchor=False)
else:
    st.title("Find similar movies and shows", anchor=False)
if search_mode() == "text":
    state.write_url()
    description_search(service, filters, k)
    st.stop()

resolution = None
if not view.title_id and view.query.strip():
    with layout.shown_errors():
        resolution = service.resolve_title(view.query.strip())
    if resolution.title is not None:  # a link with ?q=… only: straight to the one title called that
        view.title_id = resolution.title.title_id
similar = None
if view.title_id:
    try:
        with layout.shown_errors(passing=TitleNotFound):
            similar = similar_view(service, view.title_id, k, filters, build_stamp(service),
                                   parsed.weights(service.settings.ranking))
    except TitleNotFound:  # a stale or edited link: say so and start over
        st.warning("The title in this link is not in the catalogue; search for it by name.")
        view.title_id = None
        state.write_url()
        st.stop()
    view.query = view.query or cards.shown_name(similar.seed)  # a title-only link fills the box
if st.session_state.get("query") != view.query:  # only when it differs: never under the user's typing
    st.session_state["query"] = view.query
st.text_input(
    "Title", key="query", on_change=query_changed, live=True, placeholder="Type a movie or show, e.g. Interstellar",
    help="Any name: English, original or alias (Japanese and Chinese names work too). Matches appear as you "
         "type; Enter searches too.",
    label_visibility="collapsed", icon=":material/search:",
)
if len(view.query) > SEARCHED_CHARS:
    st.caption(f"Only the first {SEARCHED_CHARS} characters of a name are searched.")
state.write_url()  # the one URL change of this run: one browser history entry per title or search

if similar is not None:
    cards.similar_results(similar, filters)
elif resolution is not None and resolution.choices:
    cards.match_cards(list(resolution.choices),
                      f"**{len(resolution.choices)} titles are called “{cards.md(view.query.strip())}”.** Which one do you mean?")
elif resolution is not None and resolution.did_you_mean:
    cards.match_cards(list(resolution.did_you_mean[:9]),
                      f"No title is called “{cards.md(view.query.strip())}”. **Did you mean:**")
elif view.query.strip():
    st.info(f"No title matches “{cards.md(view.query.strip()[:80])}”. Check the spelling or try another name.")
else:
    st.markdown("Search the demo catalogue of TMDB movies and anime shows and films. Try one of these:")
    for column, example in zip(st.columns(len(EXAMPLES)), EXAMPLES):
        column.button(example, key=f"example:{example}", on_click=search_for, args=(example,), width="stretch")
    st.caption("Titles are compared by what they are about: their story (overview, tagline, genres and keywords, "
               "embedded with a multilingual sentence model, so a Japanese summary can match an English one), "
               "shared themes, directors and leading actors, and era; among titles about as close, the widely "
               "seen one comes first. The sidebar filters apply to the results; every view has a shareable URL.")
    if warming.ready:
        st.caption(":material/check_circle: The language model is loaded: descriptions search at once.")
    else:
        st.caption(":material/hourglass_top: Loading the language model in the background for description "
                   "search; title search works already.")
