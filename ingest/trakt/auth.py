"""Signing in to Trakt with the OAuth device flow, refreshing the token, and keeping it in the FlixRec home.

    start_device_login(client)              POST /oauth/device/code  -> DeviceCode (user code + URL to show)
    poll_device_token(client, code, secret) POST /oauth/device/token until the user answers -> Token
    refresh_token(client, token, secret)    POST /oauth/token (grant_type=refresh_token) -> Token
    TokenStore(home)                        trakt-token.json, file mode 0600, nothing else ever holds it

The device token endpoint answers 400 while the user has not entered the code yet (keep polling), 429
when we poll too fast (slow down: the interval grows by 5 s, as RFC 8628 says), 410 when the code
expired, 418 when the user denied access, 404 for an unknown code and 409 for one already used.
Tokens and the client secret are added to the client's redaction, never printed or logged.
"""

from __future__ import annotations

import dataclasses
import json
import os
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from ingest.errors import TraktAuthError, TraktError
from ingest.trakt.client import TraktClient

TOKEN_FILE = "trakt-token.json"
REDIRECT_URI = "urn:ietf:wg:oauth:2.0:oob"
SLOW_DOWN_STEP = 5.0
REFRESH_MARGIN = 24 * 3600.0
"""Refresh a token that expires within a day (Trakt's live for three months)."""
DEVICE_ERRORS = {
    404: "Trakt does not know this device code; start again with: python -m ingest trakt login",
    409: "this device code was already used; start again with: python -m ingest trakt login",
    410: "the code expired before it was entered; start again with: python -m ingest trakt login",
    418: "access was denied on trakt.tv; run python -m ingest trakt login again to allow it",
}


@dataclasses.dataclass(frozen=True)
class DeviceCode:
    """What the user must do (open `verification_url`, enter `user_code`) and how to poll for the answer."""

    device_code: str = dataclasses.field(repr=False)
    user_code: str
    verification_url: str
    expires_in: float
    interval: float


@dataclasses.dataclass(frozen=True)
class Token:
    """An OAuth access token and its refresh token (neither ever shown: repr hides them)."""

    access_token: str = dataclasses.field(repr=False)
    refresh_token: str = dataclasses.field(repr=False)
    expires_at: float  # epoch seconds
    scope: str = "public"

    @classmethod
    def from_answer(cls, data: Any) -> Token:
        """A Token from Trakt's token answer ({access_token, refresh_token, expires_in, created_at, scope})."""
        try:
            created = float(data.get("created_at") or time.time())
            return cls(str(data["access_token"]), str(data["refresh_token"]), created + float(data["expires_in"]),
                       str(data.get("scope") or "public"))
        except (AttributeError, KeyError, TypeError, ValueError):
            raise TraktAuthError("Trakt's token answer lacks access_token, refresh_token or expires_in") from None

    def expires_soon(self, now: float | None = None) -> bool:
        """Whether the token expires within REFRESH_MARGIN."""
        return (time.time() if now is None else now) >= self.expires_at - REFRESH_MARGIN


def _secret(client_secret: str | None) -> str:
    if not client_secret:
        raise TraktAuthError("no Trakt client secret: set TRAKT_CLIENT_SECRET (the app's Client Secret at "
                             "https://trakt.tv/oauth/applications) in the environment or .streamlit/secrets.toml")
    return client_secret


def start_device_login(client: TraktClient) -> DeviceCode:
    """Ask Trakt for a device code; the user enters its user code at its verification URL."""
    status, data = client.send("POST", "/oauth/device/code", {"client_id": client._client_id})
    if status != 200 or not isinstance(data, dict):
        raise TraktAuthError(f"Trakt refused a device code (HTTP {status}): check TRAKT_CLIENT_ID", status=status,
                             path="/oauth/device/code")
    client.add_secret(str(data.get("device_code", "")))
    return DeviceCode(str(data["device_code"]), str(data["user_code"]), str(data["verification_url"]),
                      float(data.get("expires_in", 600)), float(data.get("interval", 5)))


def _token_attempt(client: TraktClient, code: DeviceCode, secret: str) -> tuple[int, Token | None]:
    """One POST /oauth/device/token: (status, the Token on 200). 400 (pending) and 429 (slow down) come
    back as they are; denied, expired or unknown codes raise TraktAuthError, anything else TraktError."""
    status, data = client.send("POST", "/oauth/device/token",
                               {"code": code.device_code, "client_id": client._client_id, "client_secret": secret})
    if status == 200:
        token = Token.from_answer(data)
        client.add_secret(token.access_token)
        client.add_secret(token.refresh_token)
        return status, token
    if status in DEVICE_ERRORS:
        raise TraktAuthError(DEVICE_ERRORS[status], status=status, path="/oauth/device/token")
    if status not in (400, 429):
        raise TraktError(f"Trakt answered HTTP {status} while waiting for the code", status=status,
                         path="/oauth/device/token")
    return status, None


def check_device_token(client: TraktClient, code: DeviceCode, client_secret: str | None) -> Token | None:
    """One poll (the app's "I entered the code" button): a Token, None while pending or asked to slow down,
    TraktAuthError when the code expired, was denied or is unknown."""
    secret = _secret(client_secret)
    client.add_secret(secret)
    return _token_attempt(client, code, secret)[1]


def poll_device_token(client: TraktClient, code: DeviceCode, client_secret: str | None, *,
                      sleep: Callable[[float], None] = time.sleep, clock: Callable[[], float] = time.monotonic,
                      on_wait: Callable[[str], None] | None = None) -> Token:
    """Poll until the user allowed access (a Token), denied it, or the code expired (TraktAuthError)."""
    secret = _secret(client_secret)
    client.add_secret(secret)
    interval, deadline = code.interval, clock() + code.expires_in
    while True:
        status, token = _token_attempt(client, code, secret)
        if token is not None:
            return token
        if status == 429:
            interval += SLOW_DOWN_STEP
            if on_wait:
                on_wait(f"Trakt asked to poll more slowly; now every {interval:g} s")
        if clock() + interval > deadline:
            raise TraktAuthError(DEVICE_ERRORS[410], status=410, path="/oauth/device/token")
        sleep(interval)


def refresh_token(client: TraktClient, token: Token, client_secret: str | None) -> Token:
    """A fresh token from the refresh token (TraktAuthError when Trakt refuses it: sign in again)."""
    secret = _secret(client_secret)
    client.add_secret(secret)
    client.add_secret(token.refresh_token)
    status, data = client.send("POST", "/oauth/token", {
        "refresh_token": token.refresh_token, "client_id": client._client_id, "client_secret": secret,
        "redirect_uri": REDIRECT_URI, "grant_type": "refresh_token",
    })
    if status != 200:
        raise TraktAuthError(f"Trakt refused to refresh the sign-in (HTTP {status}); sign in again with: "
                             "python -m ingest trakt login", status=status, path="/oauth/token")
    fresh = Token.from_answer(data)
    client.add_secret(fresh.access_token)
    client.add_secret(fresh.refresh_token)
    return fresh


class TokenStore:
    """The Trakt token of this FlixRec home: one JSON file readable by its owner only (mode 0600)."""

    def __init__(self, home: Path):
        self.path = Path(home) / TOKEN_FILE

    def __repr__(self) -> str:
        return f"TokenStore({str(self.path)!r})"

    def load(self) -> Token | None:
        """The stored token, or None when not signed in (or the file is unreadable)."""
        try:
            if os.stat(self.path).st_mode & 0o077:  # copied or restored with wider permissions: narrow them again
                os.chmod(self.path, 0o600)
            data = json.loads(self.path.read_text(encoding="utf-8"))
            return Token(data["access_token"], data["refresh_token"], float(data["expires_at"]), data.get("scope", "public"))
        except (OSError, ValueError, KeyError, TypeError):
            return None

    def save(self, token: Token) -> None:
        """Write the token with mode 0600 from the start (never a moment readable by others), atomically."""
        self.path.parent.mkdir(parents=True, exist_ok=True)
        temporary = self.path.with_suffix(".tmp")
        fd = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            json.dump(dataclasses.asdict(token), handle)
        os.chmod(temporary, 0o600)
        os.replace(temporary, self.path)

    def clear(self) -> bool:
        """Forget the token (sign out); True when there was one."""
        try:
            self.path.unlink()
            return True
        except FileNotFoundError:
            return False


def signed_in_client(client: TraktClient, store: TokenStore, client_secret: str | None) -> Token:
    """Authorize `client` with the stored token, refreshed (and saved) when it expires soon; TraktAuthError when
    not signed in."""
    token = store.load()
    if token is None:
        raise TraktAuthError("not signed in to Trakt: run python -m ingest trakt login")
    client.add_secret(token.access_token)
    client.add_secret(token.refresh_token)
    if token.expires_soon():
        token = refresh_token(client, token, client_secret)
        store.save(token)
    client.authorize(token.access_token)
    return token
