"""The dashboard's state: filter widgets bound to the URL, and the few values that are no widget.

Each sidebar filter is a widget whose key is its URL parameter (flixrec.filters.FILTER_NAMES) with
`bind="query-params"`, so Streamlit keeps it in the URL, restores it from a shared link and on
Back/Forward. What is no widget is written here, once per run: the chosen title (`title`), the
search text or description (`q`, with `mode=text` for a description) and the hidden titles (`hide`).
On a history navigation (Back/Forward) the URL is the truth for those too, so every title or search
the user visited is one history entry; a link into a page that names another title (the Explore
table's) opens that title.

Streamlit 1.67 drops a bound widget's value on the first run of another page (its URL parameter is
filtered out as "bound to another page"), so the last filter values are kept in `FILTER_MEMORY` and
given back to the widgets when a page is entered; that is the only hand-written mirroring left.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from typing import Any

import streamlit as st
from streamlit.runtime.scriptrunner import get_script_run_ctx

from flixrec.filters import DEFAULT_K, FILTER_NAMES, ParsedFilters, parse_filter_params

VIEW, FILTER_MEMORY, FILTER_FIXES = "view", "filter_memory", "filter_fixes"
PAGE, URL_PROBLEMS = "page", "url_problems"
VIEW_PARAMS = ("title", "q", "mode", "hide")
MAX_QUERY_CHARS = 500
MAX_TEXT_CHARS = 1000
MAX_HIDDEN = 200


@dataclasses.dataclass
class View:
    """What the user is looking at besides the filters: chosen title, search text, description, hidden titles."""

    title_id: str | None = None
    query: str = ""
    mode: str = "title"  # "title" | "text" (search by description)
    text: str = ""
    hidden: list[str] = dataclasses.field(default_factory=list)


def view_from_url(params: Mapping[str, list[str]]) -> View:
    """The View a URL carries (`q` is the description when `mode=text`); unreadable values are left out."""
    first = {key: values[-1] for key, values in params.items() if values}
    mode = "text" if first.get("mode") == "text" else "title"
    q = first.get("q") or ""
    return View(
        title_id=(first.get("title") or "").strip()[:100] or None,
        query="" if mode == "text" else q[:MAX_QUERY_CHARS],
        mode=mode,
        text=q.strip()[:MAX_TEXT_CHARS] if mode == "text" else "",
        hidden=[h for h in params.get("hide", []) if h][:MAX_HIDDEN],
    )


def view_params(view: View) -> dict[str, list[str]]:
    """The URL parameters of a View (defaults left out, so URLs stay short)."""
    params: dict[str, list[str]] = {}
    if view.title_id:
        params["title"] = [view.title_id]
    if view.mode == "text":
        params["mode"] = ["text"]
        if view.text:
            params["q"] = [view.text]
    elif view.query:
        params["q"] = [view.query]
    if view.hidden:
        params["hide"] = list(view.hidden)
    return params


def title_link_params(title_id: str, name: str) -> dict[str, list[str]]:
    """The URL of a title's own similar titles: the current filters and hidden titles, that title, its name."""
    linked = View(title_id=title_id, query=name[:MAX_QUERY_CHARS], hidden=list(view().hidden))
    filters = {key: st.query_params.get_all(key) for key in FILTER_NAMES if key in st.query_params}
    return {**filters, **view_params(linked)}  # the URL holds only the filters that are set (no defaults)


def url_params() -> dict[str, list[str]]:
    """The current URL's parameters, each as a list."""
    return {key: st.query_params.get_all(key) for key in st.query_params}


def view() -> View:
    """This session's View."""
    return st.session_state[VIEW]


def has_search() -> bool:
    """Whether the user has searched anything yet (a title, a name, a description)."""
    v = view()
    return bool(v.title_id or v.query or v.text)


def is_history_navigation() -> bool:
    """True when this run was started by the browser's Back or Forward button."""
    ctx = get_script_run_ctx()
    return bool(ctx and getattr(ctx, "is_history_navigation", False))


def init_state(page: str) -> bool:
    """Read the View from the URL on a session's first run and on Back/Forward; True when the page was just entered."""
    state = st.session_state
    entered = state.get(PAGE) != page
    state[PAGE] = page
    if VIEW not in state or is_history_navigation():
        state[VIEW] = view_from_url(url_params())
        state[URL_PROBLEMS] = None  # the filters in this URL are checked once the facets are known
    elif entered and st.query_params.get("title") not in (None, state[VIEW].title_id):
        linked = view_from_url(url_params())  # a link to a page that names a title (the Explore table's)
        state[VIEW].title_id, state[VIEW].query, state[VIEW].mode = linked.title_id, linked.query, "title"
    return entered


def write_url() -> None:
    """Put the View into the URL as ONE change (one browser history entry), leaving bound parameters alone."""
    wanted = view_params(view())
    current = {key: st.query_params.get_all(key) for key in VIEW_PARAMS if key in st.query_params}
    if current == wanted:
        return
    stale = [key for key in current if key not in wanted]
    if stale:
        ctx = get_script_run_ctx()
        with ctx.session_state.query_params() as params:  # drop without a message: update() below sends one
            for key in stale:
                params.discard_param_no_forward_msg(key)
    st.query_params.update({key: value if len(value) > 1 or key == "hide" else value[0] for key, value in wanted.items()})


# ---- filters: bound widgets ---------------------------------------------------------------------------


def widget_params() -> dict[str, list[str]]:
    """The filter widgets' values as raw parameters of the shared vocabulary."""
    state = st.session_state
    params: dict[str, list[str]] = {}
    for name in FILTER_NAMES:
        if name not in state or state[name] is None:
            continue
        value = state[name]
        if isinstance(value, (list, tuple)):
            params[name] = [str(v) for v in value]
        elif name == "type" and value == "all":
            continue
        else:
            params[name] = [f"{value:g}" if isinstance(value, float) else str(value)]
    return params


def current_filters(facets: Mapping[str, Any] | None) -> ParsedFilters:
    """The Filters and k the sidebar shows (through the one parser), hidden titles left out."""
    parsed = parse_filter_params(widget_params(), facets)
    filters = dataclasses.replace(parsed.filters, exclude_ids=frozenset(view().hidden))
    return dataclasses.replace(parsed, filters=filters)


def remember_filters() -> None:
    """Keep the widgets' values for the next page (see the module docstring)."""
    st.session_state[FILTER_MEMORY] = {name: st.session_state[name] for name in FILTER_NAMES if name in st.session_state}


def restore_filters(entered: bool) -> None:
    """On entering a page, give the filter widgets their last values back before they render."""
    memory = st.session_state.get(FILTER_MEMORY) or {}
    if not entered or is_history_navigation():
        return
    for name, value in memory.items():  # even when equal: the key may still hold the old page's value
        st.session_state[name] = value


def top_k() -> int:
    """How many similar titles to show."""
    return int(st.session_state.get("k") or DEFAULT_K)


# ---- callbacks (run before the script, so the state is current when widgets render) ----------------------


def choose_title(title_id: str, name: str | None = None) -> None:
    """Make a title the seed (a Pick button, a 'Did you mean' card, a franchise entry)."""
    view().title_id = title_id
    if name:
        view().query = name


def find_similar_to(title_id: str, name: str) -> None:
    """Leave the description view for the titles similar to one of its results."""
    choose_title(title_id, name)
    view().mode = "title"


def hide_title(title_id: str) -> None:
    """Leave a title out of every result list (undo from the sidebar)."""
    if title_id not in view().hidden:
        view().hidden = [*view().hidden, title_id]


def unhide(title_id: str) -> None:
    """Bring back one hidden title."""
    view().hidden = [h for h in view().hidden if h != title_id]


def unhide_all() -> None:
    """Bring back every hidden title."""
    view().hidden = []


def reset_filters() -> None:
    """Every filter back to 'no filter' (keeps k and the chosen title)."""
    for name in FILTER_NAMES:
        if name != "k" and name in st.session_state:
            del st.session_state[name]
    st.session_state.pop(FILTER_MEMORY, None)
