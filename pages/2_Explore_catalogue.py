"""Explore the catalogue: the sidebar filters over every title, a sortable table and counts."""

from __future__ import annotations

import streamlit as st

import app_charts
import app_ui

service, facets = app_ui.start_page("Explore the catalogue", "🗂️")
st.title("Explore the catalogue", anchor=False)
with app_ui.shown_errors():
    frame = service.explore_catalogue(app_ui.filters_now(facets))

total, movies, shows = st.columns(3)
total.metric("Titles passing the filters", f"{len(frame):,}")
movies.metric("Movies", f"{int((frame['media_type'] == 'movie').sum()):,}")
shows.metric("Shows", f"{int((frame['media_type'] == 'show').sum()):,}")
if frame.empty:
    st.info("No title passes the current filters. Loosen them in the sidebar (or press Reset filters).")
    st.stop()

table, by_year, by_genre, by_language = st.tabs(["Table", "By year", "By genre", "By language"])
with table:
    app_ui.catalogue_table(frame)
by_year.altair_chart(app_charts.counts_by_year(frame), width="stretch", height=360)
by_genre.altair_chart(app_charts.counts_by_genre(frame), width="stretch")
by_language.altair_chart(app_charts.counts_by_language(frame, app_ui.LANGUAGES), width="stretch")
