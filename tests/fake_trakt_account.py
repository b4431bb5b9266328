"""The signed-in half of the fake Trakt: OAuth device flow, a user's sync listings and personal lists.

Shapes and codes as Trakt documents them: POST /oauth/device/code -> {device_code, user_code,
verification_url, expires_in, interval}; POST /oauth/device/token answers 400 (pending), 429 (slow down),
410 (expired), 418 (denied), 404/409, then 200 with {access_token, token_type, expires_in, refresh_token,
scope, created_at}; POST /oauth/token refreshes (the old refresh token then stops working).
/sync/history, /sync/ratings, /sync/watchlist and /users/me/lists/{id}/items are paged with X-Pagination-*;
writes (POST/PUT/DELETE) answer 429 when they come faster than `min_write_interval`, and list limits
(`max_lists`, `max_items`) answer 420 like a free account's. Every request needs a valid Bearer token.
"""

from __future__ import annotations

import itertools
import secrets
import threading
import time
from typing import Any

DEFAULT_SYNC_LIMIT = 10
MAX_LIMIT = 250


class FakeAccount:
    """One Trakt user and the OAuth app's secret; state tests read and script."""

    def __init__(self, client_id: str, client_secret: str = "fake-client-secret"):
        self.client_id = client_id
        self.client_secret = client_secret
        self.device_answers: list[int] = [400, 200]  # per poll: 400 pending, 429 slow down, 410, 418, 200 success
        self.polls: list[float] = []  # arrival time of each device-token poll
        self.expires_in = 7_776_000
        self.access_tokens: dict[str, float] = {}  # token -> expiry (epoch)
        self.refresh_tokens: set[str] = set()
        self.device_codes: set[str] = set()
        self.history: list[dict[str, Any]] = []
        self.ratings: list[dict[str, Any]] = []
        self.watchlist: list[dict[str, Any]] = []
        self.lists: list[dict[str, Any]] = []
        self.items: dict[int, list[dict[str, Any]]] = {}  # list trakt id -> items in rank order
        self.max_lists, self.max_items = 2, 100  # a free account's limits
        self.min_write_interval = 0.0
        self.writes: list[tuple[float, str, str]] = []  # (arrival, method, path)
        self.bodies: list[Any] = []  # every JSON body received (the token-leak test reads them)
        self._ids = itertools.count(1001)
        self._lock = threading.RLock()

    # ---- what tests put in the account ------------------------------------------------------------

    def watch(self, media: str, body: dict[str, Any], when: str, episode: tuple[int, int] | None = None) -> None:
        """A play in the history (a show's episode when `episode` is (season, number))."""
        item: dict[str, Any] = {"id": next(self._ids), "watched_at": when, "action": "watch"}
        if episode:
            item.update(type="episode", episode={"season": episode[0], "number": episode[1], "title": "Episode",
                                                 "ids": {"trakt": next(self._ids)}}, show=body)
        else:
            item.update(type=media, **{media: body})
        self.history.insert(0, item)  # Trakt lists the newest first

    def rate(self, media: str, body: dict[str, Any], rating: int, when: str) -> None:
        """A rating (1-10)."""
        self.ratings.insert(0, {"rated_at": when, "rating": rating, "type": media, media: body})

    def want(self, media: str, body: dict[str, Any], when: str) -> None:
        """A watchlist entry."""
        self.watchlist.append({"rank": len(self.watchlist) + 1, "id": next(self._ids), "listed_at": when,
                               "notes": None, "type": media, media: body})

    def tokens_issued(self) -> list[str]:
        """Every access and refresh token handed out."""
        return [*self.access_tokens, *self.refresh_tokens]

    # ---- HTTP -------------------------------------------------------------------------------------

    def answer(self, method: str, path: str, query: dict[str, str], body: Any,
               headers: Any) -> tuple[int, Any, dict[str, str]]:
        """(status, JSON body, headers) for an account route; (0, None, {}) when the path is not one."""
        with self._lock:
            self.bodies.append(body)
            if path.startswith("/oauth/"):
                return self._oauth(path, body or {})
            if not (path.startswith("/sync/") or path.startswith("/users/me/")):
                return 0, None, {}
            auth = headers.get("Authorization") or ""
            token = auth[len("Bearer "):] if auth.startswith("Bearer ") else ""
            if self.access_tokens.get(token, 0) < time.time():
                return 401, {"error": "invalid_grant"}, {}
            if method != "GET":
                now = time.monotonic()
                if self.writes and now - self.writes[-1][0] < self.min_write_interval:
                    self.writes.append((now, method, path))
                    return 429, {"error": "too many writes"}, {"Retry-After": "1"}
                self.writes.append((now, method, path))
            if path.startswith("/sync/"):
                listing = {"/sync/history": self.history, "/sync/ratings": self.ratings,
                           "/sync/watchlist": self.watchlist}.get(path.rstrip("/"))
                return (404, {"error": "not found"}, {}) if listing is None else _page(listing, query)
            return self._lists(method, path.strip("/").split("/")[2:], query, body or {})

    def _oauth(self, path: str, body: dict[str, Any]) -> tuple[int, Any, dict[str, str]]:
        if body.get("client_id") != self.client_id:
            return 401, {"error": "invalid_client"}, {}
        if path == "/oauth/device/code":
            code = secrets.token_hex(16)
            self.device_codes.add(code)
            return 200, {"device_code": code, "user_code": "5055CC52", "verification_url": "https://trakt.tv/activate",
                         "expires_in": 600, "interval": 5}, {}
        if body.get("client_secret") != self.client_secret:
            return 401, {"error": "invalid_client"}, {}
        if path == "/oauth/device/token":
            self.polls.append(time.monotonic())
            if body.get("code") not in self.device_codes:
                return 404, None, {}
            status = self.device_answers.pop(0) if self.device_answers else 200
            if status != 200:
                return status, None, {}
            self.device_codes.discard(body["code"])
            return 200, self._issue(), {}
        if path == "/oauth/token" and body.get("grant_type") == "refresh_token":
            if body.get("refresh_token") not in self.refresh_tokens:
                return 401, {"error": "invalid_grant"}, {}
            self.refresh_tokens.discard(body["refresh_token"])
            return 200, self._issue(), {}
        return 404, None, {}

    def _issue(self) -> dict[str, Any]:
        access, refresh = "acc" + secrets.token_hex(24), "ref" + secrets.token_hex(24)
        now = int(time.time())
        self.access_tokens[access] = now + self.expires_in
        self.refresh_tokens.add(refresh)
        return {"access_token": access, "token_type": "bearer", "expires_in": self.expires_in,
                "refresh_token": refresh, "scope": "public", "created_at": now}

    # ---- lists ------------------------------------------------------------------------------------

    def _find_list(self, key: str) -> dict[str, Any] | None:
        return next((lst for lst in self.lists if str(lst["ids"]["trakt"]) == key or lst["ids"]["slug"] == key), None)

    def _lists(self, method: str, parts: list[str], query: dict[str, str], body: dict[str, Any]):
        if parts[:1] != ["lists"]:
            return 404, None, {}
        if len(parts) == 1 and method == "GET":
            return 200, [dict(lst, item_count=len(self.items[lst["ids"]["trakt"]])) for lst in self.lists], {}
        if len(parts) == 1 and method == "POST":
            if len(self.lists) >= self.max_lists:
                return 420, None, {"X-Account-Limit": str(self.max_lists), "X-Upgrade-URL": "https://trakt.tv/vip"}
            list_id = next(self._ids)
            slug = "-".join(str(body.get("name", "list")).lower().split())
            created = {"name": body.get("name"), "description": body.get("description"),
                       "privacy": body.get("privacy", "private"), "display_numbers": body.get("display_numbers", False),
                       "sort_by": body.get("sort_by", "rank"), "sort_how": body.get("sort_how", "asc"),
                       "ids": {"trakt": list_id, "slug": slug}}
            self.lists.append(created)
            self.items[list_id] = []
            return 201, created, {}
        found = self._find_list(parts[1]) if len(parts) > 1 else None
        if found is None:
            return 404, None, {}
        items = self.items[found["ids"]["trakt"]]
        rest = parts[2:]
        if not rest and method == "PUT":
            found.update({k: v for k, v in body.items() if k in ("name", "description", "privacy", "display_numbers",
                                                                    "sort_by", "sort_how")})
            return 200, found, {}
        if not rest and method == "DELETE":
            self.lists.remove(found)
            return 204, None, {}
        if rest == ["items"] and method == "GET":
            return _page(items, query)
        if rest == ["items"] and method == "POST":
            added = {"movies": 0, "shows": 0}
            existing = {"movies": 0, "shows": 0}
            for group, media in (("movies", "movie"), ("shows", "show")):
                for entry in body.get(group) or []:
                    ids = {k: v for k, v in (entry.get("ids") or {}).items() if v}
                    if any(_same(item, media, ids) for item in items):
                        existing[group] += 1
                        continue
                    if len(items) >= self.max_items:
                        return 420, None, {"X-Account-Limit": str(self.max_items), "X-Upgrade-URL": "https://trakt.tv/vip"}
                    items.append({"rank": len(items) + 1, "id": next(self._ids), "listed_at": "2026-11-30T12:00:00.000Z",
                                  "notes": None, "type": media,
                                  media: {"title": entry.get("title"), "year": entry.get("year"),
                                          "ids": {"trakt": ids.get("trakt") or next(self._ids), **ids}}})
                    added[group] += 1
            return 201, {"added": added, "existing": existing, "not_found": {"movies": [], "shows": []},
                         "list": {"item_count": len(items)}}, {}
        if rest == ["items", "remove"] and method == "POST":
            deleted = {"movies": 0, "shows": 0}
            for group, media in (("movies", "movie"), ("shows", "show")):
                for entry in body.get(group) or []:
                    ids = {k: v for k, v in (entry.get("ids") or {}).items() if v}
                    keep = [item for item in items if not _same(item, media, ids)]
                    deleted[group] += len(items) - len(keep)
                    items[:] = keep
            _renumber(items)
            return 200, {"deleted": deleted, "not_found": {"movies": [], "shows": []}}, {}
        if rest == ["items", "reorder"] and method == "POST":
            order = {item_id: n for n, item_id in enumerate(body.get("rank") or [])}
            items.sort(key=lambda item: order.get(item["id"], len(order)))
            _renumber(items)
            return 200, {"updated": len(order), "skipped_ids": []}, {}
        return 404, None, {}


def _same(item: dict[str, Any], media: str, ids: dict[str, Any]) -> bool:
    if item["type"] != media:
        return False
    have = item[media]["ids"]
    return any(have.get(k) == v for k, v in ids.items() if k in ("trakt", "imdb", "tmdb", "slug"))


def _renumber(items: list[dict[str, Any]]) -> None:
    for rank, item in enumerate(items, start=1):
        item["rank"] = rank


def _page(rows: list[Any], query: dict[str, str]) -> tuple[int, Any, dict[str, str]]:
    """One page of a listing with Trakt's X-Pagination-* headers."""
    try:
        page = max(1, int(query.get("page") or 1))
        limit = min(MAX_LIMIT, max(1, int(query.get("limit") or DEFAULT_SYNC_LIMIT)))
    except ValueError:
        page, limit = 1, DEFAULT_SYNC_LIMIT
    count = max(1, -(-len(rows) // limit))
    headers = {"X-Pagination-Page": str(page), "X-Pagination-Limit": str(limit),
               "X-Pagination-Page-Count": str(count), "X-Pagination-Item-Count": str(len(rows))}
    return 200, rows[(page - 1) * limit: page * limit], headers
