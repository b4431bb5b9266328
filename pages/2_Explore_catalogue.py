"""Explore the catalogue: the sidebar filters over every title, a sortable table and counts."""

from __future__ import annotations

from typing import Any

import pandas as pd
import streamlit as st

from flixrec.filters import LANGUAGE_NAMES, language_name
from flixrec.names import shown_name
from pages.common import charts, layout, state


def catalogue_table(frame: Any) -> None:
    """The filtered catalogue as a sortable table; selecting a row offers to find titles similar to it."""
    shown = frame.assign(
        title=[shown_name(n, a, s) for n, a, s in zip(frame["title"], frame["aliases"], frame["source"])],
        type=frame["media_type"].map({"movie": "Movie", "show": "Show"}),
        genres=frame["genres"].map(", ".join),
        language=frame["language"].map(lambda code: language_name(code) if code else None),
        tmdb=[None if pd.isna(t) else f"https://www.themoviedb.org/{'movie' if m == 'movie' else 'tv'}/{t}"
              for m, t in zip(frame["media_type"], frame["tmdb_id"])],
    )
    columns = ["title", "original_title", "type", "year", "runtime", "votes", "weighted_rating", "rating", "genres",
               "language", "tmdb"]
    st.caption(f"{len(shown):,} titles, best weighted rating first (a rating from a handful of votes counts less; "
               "titles without votes last). Click a column header to sort; select a row to use it.")
    event = st.dataframe(
        shown[columns], hide_index=True, width="stretch", height=460, key="table", placeholder="—",
        on_select="rerun", selection_mode="single-row",
        column_config={
            "title": st.column_config.TextColumn("Title", width="medium"),
            "original_title": st.column_config.TextColumn("Original title"),
            "type": st.column_config.TextColumn("Type", width="small"),
            "year": st.column_config.NumberColumn("Year", format="%d", width="small"),
            "runtime": st.column_config.NumberColumn("Runtime", format="%d min", width="small"),
            "votes": st.column_config.NumberColumn("Votes", format="localized", width="small"),
            "weighted_rating": st.column_config.NumberColumn(
                "Weighted", format="%.2f", width="small",
                help="The rating pulled towards the catalogue's mean until a title has many votes (IMDb's Bayesian "
                     "average), so 10.0 from two votes does not top the list"),
            "rating": st.column_config.NumberColumn("Rating", format="%.1f", width="small"),
            "genres": st.column_config.TextColumn("Genres"),
            "language": st.column_config.TextColumn("Language", width="small"),
            "tmdb": st.column_config.LinkColumn("TMDB", display_text="open ↗", width="small"),
        },
    )
    rows = getattr(getattr(event, "selection", None), "rows", None) or []
    if rows:
        row = shown.iloc[rows[0]]
        label = row["title"] if pd.isna(row["year"]) else f"{row['title']} ({row['year']})"
        # a link, not st.switch_page: switching pages from code clears the URL, which the bound filters forbid
        st.page_link("streamlit_app.py", label=f"Find titles similar to {label}", icon=":material/search:",
                     query_params={"title": row["title_id"], "q": row["title"]})



service, facets = layout.start_page("Explore the catalogue", "🗂️")
st.title("Explore the catalogue", anchor=False)
with layout.shown_errors():
    frame = service.explore_catalogue(state.current_filters(facets).filters)

total, movies, shows = st.columns(3)
total.metric("Titles passing the filters", f"{len(frame):,}")
movies.metric("Movies", f"{int((frame['media_type'] == 'movie').sum()):,}")
shows.metric("Shows", f"{int((frame['media_type'] == 'show').sum()):,}")
if frame.empty:
    st.info("No title passes the current filters. Loosen them in the sidebar (or press Reset filters).")
    st.stop()

table, by_year, by_genre, by_language = st.tabs(["Table", "By year", "By genre", "By language"])
with table:
    catalogue_table(frame)
by_year.altair_chart(charts.counts_by_year(frame), width="stretch", height=360)
by_genre.altair_chart(charts.counts_by_genre(frame), width="stretch")
by_language.altair_chart(charts.counts_by_language(frame, LANGUAGE_NAMES), width="stretch")
