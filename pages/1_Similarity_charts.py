"""Similarity charts: the chosen title's top-k scores, a 2-D map of its neighbourhood, the catalogue's scores."""

from __future__ import annotations

import numpy as np
import streamlit as st

from pages.common import cards, charts, layout, state

service, facets = layout.start_page("Similarity charts", "📊")
parsed = state.current_filters(facets)
st.title("Similarity charts", anchor=False)
title_id = state.view().title_id
if not title_id:
    layout.no_seed_hint()
    st.stop()

with layout.shown_errors():
    view = service.similarity_map(title_id, parsed.k, parsed.filters, parsed.weights(service.settings.ranking))

st.markdown(f"For **{cards.md(view.seed.label())}** · {cards.meta_line(view.seed)}")
if not view.similar:
    st.info("No title passes the current filters. Loosen them in the sidebar.")
    st.stop()
scores = view.distribution
cutoff = view.cutoff
share_above = float(np.mean(scores >= cutoff)) if scores.size else 0.0
top, mean, median, above = st.columns(4)
top.metric("Best match", f"{view.similar[0].score:.3f}", help=view.similar[0].title.label())
mean.metric(f"Top-{len(view.similar)} cut-off", f"{cutoff:.3f}")
median.metric("Catalogue median", f"{float(np.median(scores)):.3f}")
above.metric("Titles at or above the cut-off", f"{share_above:.2%}",
             help="Includes titles left out by the filters or kept apart as the same franchise")

left, right = st.columns([1, 1.25])
picked = [left.altair_chart(charts.score_bars(view), width="stretch", on_select="rerun", key="bars"),
          right.altair_chart(charts.neighbourhood_map(view), width="stretch", height=480, on_select="rerun", key="map")]
opened = next((t for t in map(charts.picked_title, picked) if t and t != title_id), None)
if opened:  # a click on a bar or a point: that title's own similar titles, on Find similar
    name = next((r.title.title for r in [*view.similar] if r.title.title_id == opened), "")
    st.page_link("streamlit_app.py", label=f"Find titles similar to {name or 'the clicked title'}",
                 icon=":material/arrow_forward:", query_params=state.title_link_params(opened, name))
st.altair_chart(charts.score_histogram(view), width="stretch", height=320)
st.caption("Bars start at 0, so their lengths compare honestly. Scores are the blended similarity of Find similar (story, "
           "keywords, people, genres, era and how widely seen, from 0 to 1). The histogram counts every other title, so "
           "above the cut-off it also holds the chosen title's franchise and titles the filters leave out. "
           "The map projects the chosen title, its "
           "similar titles and its franchise onto their two main directions of variation (PCA), so nearby "
           "points read as alike; distances are approximate.")
