"""The "For you" page's parts: the profile (an export file, titles picked by hand, a Trakt account), its
summary, the recommendation cards with "because you liked …", and the push-to-Trakt button.

Everything about the person (the profile, the picks, "not interested", the Trakt token) lives in the
session only, never in the URL; the URL keeps the sidebar filters and the hidden titles like every page.
The Trakt calls go through ingest.trakt (the only code that talks to Trakt), token added to its redaction.
"""

from __future__ import annotations

import hashlib
from typing import Any

import pandas as pd
import streamlit as st

from flixrec.config import Settings
from flixrec.errors import FlixrecError
from flixrec.personal import PersonalRecommendations
from flixrec.profiles import Profile, ProfileRow
from flixrec.service import FlixRec
from pages.common.cards import GRID_COLUMNS, card_html, md, score_text
from pages.common.state import hide_title

IMPORTED, PICKED, TRAKT_PROFILE = "fy_imported", "fy_picked", "fy_trakt_profile"
NOT_INTERESTED, TOKEN, DEVICE = "fy_not_interested", "fy_trakt_token", "fy_trakt_device"
UPLOAD_SIGNATURE, PUSHED = "fy_upload_signature", "fy_pushed"
RATINGS = ("no rating", *range(10, 0, -1))
DEFAULT_LIST_NAME = "FlixRec: for you"


def session_list(key: str) -> list[Any]:
    """A list kept in the session under `key` (created empty)."""
    return st.session_state.setdefault(key, [])


# ---- the profile ------------------------------------------------------------------------------------


def current_profile(service: FlixRec) -> Profile | None:
    """The person's profile: imported files, the Trakt account's listings and the picks, merged; None when empty."""
    parts = [p for p in (st.session_state.get(IMPORTED), st.session_state.get(TRAKT_PROFILE)) if p is not None]
    picked = session_list(PICKED)
    if picked:
        rows = [ProfileRow("picked", "picked", label, title_id=title_id, rating=rating)
                for title_id, label, rating in picked]
        parts.append(service.profile_from_rows(rows, "picked by hand"))
    if not parts:
        return None
    profile = parts[0]
    for part in parts[1:]:
        profile = profile.merged(part)
    return profile


def profile_panel(service: FlixRec, settings: Settings) -> None:
    """Where the taste comes from: an export file, titles picked here, or a Trakt account."""
    upload, pick, trakt = st.tabs(["Import a file", "Pick titles", "Trakt account"])
    with upload:
        import_files(service)
    with pick:
        pick_titles(service)
    with trakt:
        trakt_account(service, settings)


def import_files(service: FlixRec) -> None:
    """IMDb's ratings export or Letterboxd's export (ratings.csv, watched.csv, watchlist.csv or the zip)."""
    st.caption("IMDb: *Your ratings → ⋯ → Export*. Letterboxd: *Settings → Data → Export your data* "
               "(upload the zip or its ratings.csv, watched.csv and watchlist.csv). Nothing leaves this session.")
    files = st.file_uploader("IMDb or Letterboxd export", type=["csv", "zip"], accept_multiple_files=True,
                             key="profile_files", label_visibility="collapsed")
    if not files:
        st.session_state.pop(IMPORTED, None)
        st.session_state.pop(UPLOAD_SIGNATURE, None)
        return
    contents = {f.name: f.getvalue() for f in files}
    signature = hashlib.blake2b(b"".join(n.encode() + c for n, c in sorted(contents.items())), digest_size=16).hexdigest()
    if st.session_state.get(UPLOAD_SIGNATURE) == signature:
        return
    try:
        st.session_state[IMPORTED] = service.import_profile(contents)
        st.session_state[UPLOAD_SIGNATURE] = signature
    except FlixrecError as exc:
        st.session_state.pop(IMPORTED, None)
        st.error(str(exc))


def _add_pick(title_id: str, label: str) -> None:
    rating = st.session_state.get("fy_pick_rating")
    picked = [p for p in session_list(PICKED) if p[0] != title_id]
    st.session_state[PICKED] = [*picked, (title_id, label, None if rating in (None, "no rating") else float(rating))]


def _remove_pick(title_id: str) -> None:
    st.session_state[PICKED] = [p for p in session_list(PICKED) if p[0] != title_id]


def pick_titles(service: FlixRec) -> None:
    """Search a title, give it a rating (optional) and add it; the picks are listed with a remove button."""
    query, rating = st.columns([3, 1], vertical_alignment="bottom")
    text = query.text_input("Add a title you liked", key="fy_pick_query", placeholder="e.g. Alien")
    rating.selectbox("Your rating", RATINGS, key="fy_pick_rating", help="1-10; 4 or less means 'less like this'")
    if text.strip():
        try:
            matches = service.search_titles(text.strip()[:200], limit=6)
        except FlixrecError as exc:
            st.error(str(exc))
            matches = []
        if not matches:
            st.caption("No title matches that name.")
        for match in matches:
            title = match.title
            st.button(f"Add {title.label()} · {'Movie' if title.media_type == 'movie' else 'Show'}",
                      key=f"fy_add:{title.title_id}", on_click=_add_pick, args=(title.title_id, title.label()),
                      icon=":material/add:")
    for title_id, label, stars in session_list(PICKED):
        name, remove = st.columns([5, 1], vertical_alignment="center")
        name.markdown(f"**{md(label)}**" + (f" · {stars:g}/10" if stars is not None else ""))
        remove.button("Remove", key=f"fy_remove:{title_id}", on_click=_remove_pick, args=(title_id,))


# ---- Trakt --------------------------------------------------------------------------------------------


def trakt_client(settings: Settings) -> Any:
    """A paced Trakt client for this session, authorized when the session is signed in."""
    from ingest.trakt.client import PACING_PERIOD, Pacer, TraktClient

    client = TraktClient(settings.require_trakt_key(), settings.trakt_base_url,
                         pacer=Pacer(settings.trakt_requests_per_5min, PACING_PERIOD), timeout=20.0)
    token = st.session_state.get(TOKEN)
    if token is not None:
        client.add_secret(token.refresh_token)
        client.authorize(token.access_token)
    return client


def trakt_account(service: FlixRec, settings: Settings) -> None:
    """Connect with Trakt's device flow (the token stays in this session), then read history and ratings."""
    from ingest.trakt.auth import check_device_token, start_device_login

    if not settings.trakt_client_id or not settings.trakt_client_secret:
        st.info("To connect a Trakt account, set TRAKT_CLIENT_ID and TRAKT_CLIENT_SECRET (an app at "
                "trakt.tv/oauth/applications) in the environment or .streamlit/secrets.toml.")
        return
    try:
        if st.session_state.get(TOKEN) is None:
            device = st.session_state.get(DEVICE)
            if device is None:
                st.caption("Sign in on trakt.tv with a code: FlixRec never sees your password, and the sign-in "
                           "is kept in this browser session only.")
                if st.button("Connect Trakt", key="fy_connect", icon=":material/link:"):
                    with trakt_client(settings) as client:
                        st.session_state[DEVICE] = start_device_login(client)
                    st.rerun()
                return
            st.markdown(f"Open **{md(device.verification_url)}** and enter the code **{md(device.user_code)}**.")
            if st.button("I entered the code", key="fy_check_code", type="primary"):
                with trakt_client(settings) as client:
                    token = check_device_token(client, device, settings.trakt_client_secret)
                if token is None:
                    st.info("Trakt is still waiting for the code; enter it, then press the button again.")
                    return
                st.session_state[TOKEN] = token
                st.session_state.pop(DEVICE, None)
                st.rerun()
            return
        st.success("Connected to Trakt (this session only).", icon=":material/check:")
        read, leave = st.columns(2)
        if read.button("Read my history, ratings and watchlist", key="fy_read_trakt", type="primary"):
            from ingest.trakt.sync import read_profile_rows

            with st.spinner("Reading your Trakt history…"), trakt_client(settings) as client:
                rows, _ = read_profile_rows(client)
            st.session_state[TRAKT_PROFILE] = service.profile_from_rows(rows, "trakt")
        if leave.button("Disconnect", key="fy_disconnect"):
            for key in (TOKEN, DEVICE, TRAKT_PROFILE):
                st.session_state.pop(key, None)
            st.rerun()
    except FlixrecError as exc:
        st.session_state.pop(DEVICE, None)
        st.error(str(exc))


def push_panel(settings: Settings, found: PersonalRecommendations) -> None:
    """Push the shown list to a private Trakt list (when the session is connected to Trakt)."""
    from ingest.trakt.lists import push_list

    st.subheader("Keep this list on Trakt", anchor=False)
    if st.session_state.get(TOKEN) is None:
        st.caption("Connect your Trakt account (tab above) to push this list to a private Trakt list, or run "
                   "`python -m ingest trakt push-list --name \"FlixRec: for you\"`.")
        return
    name, button = st.columns([3, 1], vertical_alignment="bottom")
    list_name = name.text_input("List name", value=DEFAULT_LIST_NAME, key="fy_list_name", max_chars=100)
    if button.button("Push to Trakt", key="fy_push", type="primary", icon=":material/upload:", width="stretch"):
        try:
            with st.spinner("Updating the Trakt list…"), trakt_client(settings) as client:
                summary = push_list(client, list_name.strip() or DEFAULT_LIST_NAME,
                                    [r.title for r in found.recommendations], "Recommended by FlixRec")
            st.session_state[PUSHED] = summary.line()
        except FlixrecError as exc:
            st.error(str(exc))
    if st.session_state.get(PUSHED):
        st.success(st.session_state[PUSHED], icon=":material/check:")


# ---- what is shown ------------------------------------------------------------------------------------


def profile_summary(profile: Profile) -> None:
    """The profile's source and counts, and the rows that could not be matched (with the reason)."""
    counts = profile.counts()
    st.caption(f"Profile from **{md(profile.source)}**")
    columns = st.columns(5)
    for column, (label, key) in zip(columns, (("Rated", "rating"), ("Watched", "watched"), ("Watchlist", "watchlist"),
                                              ("Picked", "picked"), ("Not matched", "unmatched"))):
        column.metric(label, f"{counts[key]:,}")
    if profile.unmatched:
        count = len(profile.unmatched)
        with st.expander(f"{count} {'row' if count == 1 else 'rows'} not matched to the catalogue"):
            st.dataframe(pd.DataFrame([{"row": u.row.where, "title": u.row.name, "year": u.row.year,
                                        "reason": u.reason} for u in profile.unmatched]),
                         hide_index=True, width="stretch", key="fy_unmatched")


def _not_interested(title_id: str) -> None:
    if title_id not in session_list(NOT_INTERESTED):
        st.session_state[NOT_INTERESTED] = [*session_list(NOT_INTERESTED), title_id]


def recommendation_cards(found: PersonalRecommendations) -> None:
    """The ranked titles as cards (poster or placeholder, facts, overview), each with "because you liked …"
    first, then Hide and Not interested; GRID_COLUMNS a row like the other pages."""
    if found.seeds_left_out:
        st.caption(f"Made from your {len(found.seeds_used)} highest-rated and most recent titles "
                   f"({found.seeds_left_out} more left out to keep it quick).")
    recs = found.recommendations
    for start in range(0, len(recs), GRID_COLUMNS):
        for column, rec in zip(st.columns(GRID_COLUMNS), recs[start: start + GRID_COLUMNS]):
            with column, st.container(border=True):
                because = next((r.text for r in rec.reasons if r.kind == "because"), "")
                others = " · ".join([r.text for r in rec.reasons if r.kind != "because"][:2])
                st.markdown(f":orange[**{md(because)}**]")
                st.markdown(card_html(rec.title, rec.rank, score_text(rec), others), unsafe_allow_html=True)
                title_id = rec.title.title_id
                with st.container(horizontal=True, gap="small", vertical_alignment="center"):
                    st.button("Hide", key=f"hide:{title_id}", on_click=hide_title, args=(title_id,),
                              icon=":material/visibility_off:", type="tertiary", width="content",
                              help="Leave it out of every list (undo in the sidebar)")
                    st.button("Not interested", key=f"fy_less:{title_id}", on_click=_not_interested,
                              args=(title_id,), icon=":material/thumb_down:", type="tertiary", width="content",
                              help="Leave it out and show fewer titles like it")


def not_interested() -> list[str]:
    """The titles marked 'not interested' in this session (less like these)."""
    return list(session_list(NOT_INTERESTED))
