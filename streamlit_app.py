"""FlixRec dashboard, landing page "Find similar": type a title (or describe one), see similar movies and shows.

Run with `make run` (or `streamlit run streamlit_app.py`). The other pages live in pages/; shared UI
helpers in app_ui.py; the cached services in app_services.py.
"""

from __future__ import annotations

import streamlit as st

import app_ui
from flixrec.errors import TitleNotFound

EXAMPLES = ("Interstellar", "Batman", "The Host", "千と千尋の神隠し", "Attack on Titan")
DESCRIBED = ("A heist that happens inside people's dreams", "Ein Roboter bleibt allein auf der verlassenen Erde zurück",
             "宇宙で遭難した宇宙飛行士が一人で生き延びる", "Un grupo de niños busca el tesoro de un pirata")

service, facets = app_ui.start_page("Find similar", "🎬")
state = st.session_state

st.title("Find similar movies and shows", anchor=False)
if app_ui.search_mode() == "text":
    app_ui.description_search(service, app_ui.filters_now(facets), DESCRIBED)
    st.stop()
app_ui.seed_widget("w.query", state[app_ui.QUERY])
st.text_input(
    "Title", key="w.query", on_change=app_ui.query_changed, placeholder="Type a movie or show, e.g. Interstellar",
    help="Any name: English, original or alias (Japanese and Chinese names work too). Press Enter to search.",
    label_visibility="collapsed", icon=":material/search:",
)

filters = app_ui.filters_now(facets)
title_id, query = app_ui.chosen_title_id(), state[app_ui.QUERY]

if not title_id and query:
    with app_ui.shown_errors():
        matches = service.search_titles(query, limit=12)
    exact = [m for m in matches if m.kind == "exact"]
    best = [m for m in exact if m.score == exact[0].score] if exact else []
    if len(best) == 1:  # one title has exactly this name: straight to its results
        app_ui.choose_title(best[0].title.title_id)
        title_id = best[0].title.title_id
    elif exact:
        app_ui.match_cards(exact, f"**{len(exact)} titles are called “{app_ui.md(query)}”.** Which one do you mean?")
    elif matches:
        app_ui.match_cards(matches[:9], f"No title is called “{app_ui.md(query)}”. **Did you mean:**")
    else:
        st.info(f"No title matches “{app_ui.md(query[:80])}”. Check the spelling or try another name.")

if title_id:
    try:
        with app_ui.shown_errors(passing=TitleNotFound):
            view = service.similar_view(title_id, app_ui.top_k(), filters)
    except TitleNotFound:  # a stale or edited link: say so and start over
        st.warning("The title in this link is not in the catalogue; search for it by name.")
        state[app_ui.TITLE] = None
        app_ui.sync_url()
        st.stop()
    if not query:
        state[app_ui.QUERY] = view.seed.title
    app_ui.sync_url()
    app_ui.similar_results(view, filters)
elif not query:
    st.markdown("Search the demo catalogue of TMDB movies and anime shows and films. Try one of these:")
    columns = st.columns(len(EXAMPLES))
    for column, example in zip(columns, EXAMPLES):
        column.button(example, key=f"example:{example}", on_click=app_ui.set_query, args=(example,), width="stretch")
    st.caption("Titles are compared by what they are about (overview, tagline and genres, embedded with a "
               "multilingual sentence model), so a Japanese summary can match an English one. The sidebar "
               "filters apply to the results; every view has a shareable URL.")
