"""Data & index: catalogue and index counts, model, freshness, agreement, and how to refresh. Never a key."""

from __future__ import annotations

import streamlit as st

import app_ui

service, _ = app_ui.start_page("Data & index", "🗄️", needs_index=False)
st.title("Data & index", anchor=False)
with app_ui.shown_errors():
    status = service.status()
app_ui.status_panel(app_ui.load_settings(), status)
