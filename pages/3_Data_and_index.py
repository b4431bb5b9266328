"""Data & index: catalogue and index counts, model, freshness, agreement, and how to refresh. Never a key."""

from __future__ import annotations

import datetime as dt
import html
from typing import Any

import streamlit as st

from flixrec.config import Settings
from flixrec.errors import IndexNotBuilt
from pages.common import layout
from pages.common.services import load_settings


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
        layout.no_index_page(settings, IndexNotBuilt("the catalogue is empty"))
        return
    if status.in_agreement:
        st.success("Catalogue and index agree: every title is indexed with its current text, and nothing else is.",
                   icon=":material/check_circle:")
    else:
        lines = "\n".join(f"- {layout.visitor_text(line)}" for line in status.problems())
        st.warning(f"Catalogue and index disagree:\n{lines}")
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
    runs = [  # a run's checkpoint is a record; a bare value is internal bookkeeping (the embedding recipe)
        {"checkpoint": key, "last run": when(value.get("at") or status.sync_updated.get(key)),
         "details": ", ".join(f"{k} {v}" for k, v in value.items() if k != "at" and isinstance(v, int | float))}
        for key, value in sorted(status.sync_state.items()) if isinstance(value, dict)
    ]
    if runs:
        st.dataframe(runs, hide_index=True, width="stretch")
    else:
        st.caption("No ingest run recorded yet.")

    st.subheader("Where the data lives", anchor=False)
    key = "configured (never shown)" if settings.trakt_client_id else "not set (only needed to sync from Trakt)"
    if settings.show_paths:  # an operator's setting: paths tell visitors how the server is laid out
        st.markdown(
            f"- Home: `{settings.home}`\n- Catalogue database: `{redacted_url(settings.database_url)}`\n"
            f"- Vector index: `{settings.index_dir}`\n- Trakt API key: {key}"
        )
    else:
        backend = settings.database_url.split(":", 1)[0].split("+", 1)[0]
        st.markdown(f"- Catalogue: a {backend} database\n- Vector index: a Chroma collection and its snapshot\n"
                    f"- Trakt API key: {key}")
        st.caption("Operators can show the folders and the database URL (password hidden) with FLIXREC_SHOW_PATHS=true.")
    st.subheader("Refresh", anchor=False)
    st.code(
        "python -m ingest build-demo   # the demo catalogue and its index (what `make run` does)\n"
        "python -m ingest embed        # embed new and changed titles after any ingest\n"
        "python -m ingest check        # these counts, and whether catalogue and index agree\n"
        "python -m ingest --help       # every ingest command (Trakt sync needs TRAKT_CLIENT_ID)",
        language="bash",
    )
    st.caption("The dashboard only reads the index; it picks up a new build automatically.")


service, _ = layout.start_page("Data & index", "🗄️", needs_index=False)
st.title("Data & index", anchor=False)
with layout.shown_errors():
    status = service.status()
status_panel(load_settings(), status)
