"""For you: recommendations from what you rated and watched (an IMDb or Letterboxd export, titles you pick,
or your Trakt account), with "because you liked …", the sidebar filters, and a push to a Trakt list."""

from __future__ import annotations

import streamlit as st

from pages.common import for_you, layout, state
from pages.common.services import load_settings

service, facets = layout.start_page("For you", "💝")
st.title("For you", anchor=False)
st.caption("Titles you have not seen, from the ones you liked: each taste gets its share, and every title says "
           "which of yours it comes from. Your profile stays in this browser session.")
settings = load_settings()
for_you.profile_panel(service, settings)
profile = for_you.current_profile(service)
if profile is None:
    st.info("Import an IMDb or Letterboxd export, pick a few titles you liked, or connect your Trakt account.")
    st.stop()
for_you.profile_summary(profile)
parsed = state.current_filters(facets)
with layout.shown_errors():
    found = service.recommend_for_profile(profile, parsed.k, parsed.filters, avoid=for_you.not_interested())
st.subheader(f"Recommended for you ({len(found.recommendations)})", anchor=False)
if not parsed.filters.is_empty():
    st.caption("Filtered by the sidebar; everything you rated, watched or listed is left out.")
if not found.recommendations:
    st.info("No title passes the current filters. Loosen them in the sidebar (or press Reset filters).")
for_you.recommendation_cards(found)
for_you.push_panel(settings, found)
