"""Push a ranked list of titles to a private Trakt list of the signed-in user (couchmoney's feature).

    GET  /users/me/lists                      find the list by name (case-insensitive)
    POST /users/me/lists                      create it (private, numbered, sorted by rank) when missing
    PUT  /users/me/lists/{id}                 keep it private with the current description
    GET  /users/me/lists/{id}/items           what it holds now (paged)
    POST /users/me/lists/{id}/items/remove    stale items
    POST /users/me/lists/{id}/items           missing items
    POST /users/me/lists/{id}/items/reorder   the ranks of the current list, when they differ

Idempotent: run twice, the second run finds nothing to add, remove or reorder and writes nothing but the
description. Writes are paced (Trakt allows one POST/PUT/DELETE a second); a 420 answer (the account's
list or item limit) becomes a TraktError that says so.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from typing import Any

from flixrec.models import Title
from ingest.errors import TraktError
from ingest.trakt.client import MAX_LIMIT, Pacer, TraktClient

WRITES_PER_SECOND = 1
GROUPS = {"movie": "movies", "show": "shows"}


@dataclasses.dataclass
class PushSummary:
    """What a push did to the list."""

    name: str
    list_id: int | str
    created: bool = False
    added: int = 0
    removed: int = 0
    kept: int = 0
    reordered: bool = False
    without_ids: int = 0  # titles with no Trakt, IMDb or TMDB id (cannot be listed)

    def line(self) -> str:
        """'list "FlixRec for you": created, 20 added, 0 removed, 0 kept'."""
        state = "created" if self.created else "updated"
        extra = f", {self.without_ids} titles without an id left out" if self.without_ids else ""
        order = ", reordered" if self.reordered else ""
        return (f"Trakt list {self.name!r}: {state}, {self.added} added, {self.removed} removed, "
                f"{self.kept} kept{order}{extra}")


def title_ids(title: Title) -> dict[str, Any]:
    """The ids Trakt knows a title by: trakt, imdb, tmdb (only those the catalogue has)."""
    ids: dict[str, Any] = {}
    if title.trakt_id:
        ids["trakt"] = title.trakt_id
    if title.imdb_id:
        ids["imdb"] = title.imdb_id
    if title.tmdb_id:
        ids["tmdb"] = title.tmdb_id
    return ids


def _keys(media: str, ids: dict[str, Any]) -> set[tuple[str, str, str]]:
    return {(media, kind, str(value)) for kind, value in ids.items() if kind in ("trakt", "imdb", "tmdb") and value}


def push_list(client: TraktClient, name: str, titles: Sequence[Title], description: str = "",
              write_pacer: Pacer | None = None) -> PushSummary:
    """Make the signed-in user's private list `name` hold exactly `titles`, in this order."""
    pacer = write_pacer if write_pacer is not None else Pacer(WRITES_PER_SECOND, 1.0)
    wanted = [(t.media_type, title_ids(t), t) for t in titles if title_ids(t)]
    without = len(titles) - len(wanted)
    found = _find_list(client, name)
    body = {"name": name, "description": description, "privacy": "private", "display_numbers": True,
            "sort_by": "rank", "sort_how": "asc", "allow_comments": False}
    created = found is None
    if found is None:
        found = _write(client, pacer, "POST", "/users/me/lists", body, "create the list")
    elif found.get("privacy") != "private" or (found.get("description") or "") != description:
        _write(client, pacer, "PUT", f"/users/me/lists/{found['ids']['trakt']}",
               {k: body[k] for k in ("description", "privacy")}, "update the list")
    list_id = found["ids"]["trakt"]
    summary = PushSummary(name, list_id, created=created, without_ids=without)
    items = _items(client, list_id)
    wanted_keys = [_keys(media, ids) for media, ids, _ in wanted]
    every_wanted = set().union(*wanted_keys) if wanted_keys else set()
    stale = [item for item in items if not (_item_keys(item) & every_wanted)]
    if stale:
        _write(client, pacer, "POST", f"/users/me/lists/{list_id}/items/remove", _payload(
            [(item["type"], item[item["type"]]["ids"]) for item in stale]), "remove stale items")
    held = set().union(*(_item_keys(item) for item in items if item not in stale)) if items else set()
    missing = [(media, ids, t) for (media, ids, t), keys in zip(wanted, wanted_keys) if not keys & held]
    if missing:
        _write(client, pacer, "POST", f"/users/me/lists/{list_id}/items", _payload(
            [(media, ids) for media, ids, _ in missing]), "add items")
    summary.removed, summary.added = len(stale), len(missing)
    summary.kept = len(items) - len(stale)
    current = _items(client, list_id) if stale or missing else items
    order = _ranked_ids(current, wanted_keys)
    if order != [item["id"] for item in current]:
        _write(client, pacer, "POST", f"/users/me/lists/{list_id}/items/reorder", {"rank": order}, "reorder the list")
        summary.reordered = True
    return summary


def _item_keys(item: dict[str, Any]) -> set[tuple[str, str, str]]:
    media = item.get("type")
    return _keys(media, (item.get(media) or {}).get("ids") or {}) if media in GROUPS else set()


def _ranked_ids(items: list[dict[str, Any]], wanted_keys: list[set]) -> list[int]:
    """The list item ids in the wanted order (items matching nothing wanted last, as they are)."""
    def position(item: dict[str, Any]) -> int:
        keys = _item_keys(item)
        return next((n for n, wanted in enumerate(wanted_keys) if wanted & keys), len(wanted_keys))

    return [item["id"] for item in sorted(items, key=position)]


def _payload(entries: list[tuple[str, dict[str, Any]]]) -> dict[str, list[dict[str, Any]]]:
    body: dict[str, list[dict[str, Any]]] = {"movies": [], "shows": []}
    for media, ids in entries:
        body[GROUPS[media]].append({"ids": {k: v for k, v in ids.items() if k in ("trakt", "imdb", "tmdb", "slug")}})
    return {k: v for k, v in body.items() if v}


def _find_list(client: TraktClient, name: str) -> dict[str, Any] | None:
    lists = client.get("/users/me/lists").data or []
    return next((lst for lst in lists if isinstance(lst, dict) and str(lst.get("name", "")).casefold() == name.casefold()),
                None)


def _items(client: TraktClient, list_id: int | str) -> list[dict[str, Any]]:
    items: list[dict[str, Any]] = []
    for page in client.paginate(f"/users/me/lists/{list_id}/items", limit=MAX_LIMIT):
        if page.failed:
            raise TraktError(f"Trakt kept failing on the list's items page {page.number}: {page.failed}",
                             path=f"/users/me/lists/{list_id}/items", page=page.number)
        items += [item for item in page.items if isinstance(item, dict) and item.get("type") in GROUPS]
    return items


def _write(client: TraktClient, pacer: Pacer, method: str, path: str, body: Any, what: str) -> Any:
    """One paced write; 429 waits and tries again (twice), 420 is the account's limit, other errors say what failed."""
    for _attempt in range(3):
        status, data = client.send(method, path, body, pacer=pacer)
        if status == 429:
            pacer.wait()
            continue
        if status == 420:
            raise TraktError(f"Trakt refused to {what}: the account's limit of lists or list items is reached "
                             "(a free account has 2 lists of 100 items; use --k to push fewer titles)",
                             status=420, path=path)
        if status == 401:
            raise TraktError(f"Trakt refused to {what}: the sign-in expired or was revoked; run "
                             "python -m ingest trakt login", status=status, path=path)
        if status >= 400:
            raise TraktError(f"Trakt answered HTTP {status} when asked to {what}", status=status, path=path)
        return data
    raise TraktError(f"Trakt kept answering 429 when asked to {what}; wait a minute and run it again", status=429, path=path)
