"""Where an index lives: a local Chroma directory (the default) or a Chroma server plus the catalogue database.

A local index keeps everything in one folder: Chroma's files, the build ledger, the stamp and the
snapshots. A server index (FLIXREC_CHROMA_URL) keeps the vectors on the Chroma server and the build's
bookkeeping (ledger and published stamp) in the catalogue database, so every host sees them; each
host keeps its memory-mapped snapshots in its own folder, or in a shared one (FLIXREC_SNAPSHOT_DIR).
"""

from __future__ import annotations

import dataclasses
import urllib.parse
from pathlib import Path
from typing import TYPE_CHECKING, Any

from flixrec.errors import ConfigError
from flixrec.redact import redact_url

if TYPE_CHECKING:
    from flixrec.config import Settings

CHROMA_TIMEOUT_S = 60
"""How long one request to the Chroma server may take (an unreachable server fails, never hangs)."""


@dataclasses.dataclass(frozen=True)
class ChromaServer:
    """A Chroma server's address and its optional token (never shown: `shown` is the URL without credentials)."""

    url: str
    token: str | None = dataclasses.field(default=None, repr=False)
    token_header: str = "Authorization"

    @property
    def shown(self) -> str:
        """The server's URL, safe for messages and logs."""
        return redact_url(self.url.split("?", 1)[0])

    def headers(self) -> dict[str, str]:
        """The request headers carrying the token, if any."""
        if not self.token:
            return {}
        if self.token_header.lower() == "authorization":
            return {"Authorization": f"Bearer {self.token}"}
        return {self.token_header: self.token}

    def client(self) -> Any:
        """A chromadb.HttpClient of this server (raises Chroma's errors when it cannot be reached)."""
        import chromadb
        from chromadb.config import Settings as ChromaSettings

        parts = urllib.parse.urlsplit(self.url)
        if not parts.hostname:
            raise ConfigError(f"FLIXREC_CHROMA_URL={self.shown!r} names no host; use e.g. http://127.0.0.1:8000")
        ssl = parts.scheme == "https"
        try:
            port = parts.port or (443 if ssl else 8000)
        except ValueError as exc:
            raise ConfigError(f"FLIXREC_CHROMA_URL={self.shown!r}: its port is not a number") from exc
        settings = ChromaSettings(anonymized_telemetry=False, allow_reset=False)
        client = chromadb.HttpClient(host=parts.hostname, port=port, ssl=ssl, headers=self.headers(), settings=settings)
        session = getattr(getattr(client, "_server", None), "_session", None)
        if session is not None:  # chromadb's httpx session has no timeout at all
            import httpx

            session.timeout = httpx.Timeout(CHROMA_TIMEOUT_S, connect=10)
        return client


@dataclasses.dataclass(frozen=True)
class IndexLocation:
    """Everything needed to open an index: the local folder, and for a server index the server and the database."""

    index_dir: Path
    server: ChromaServer | None = None
    database_url: str | None = dataclasses.field(default=None, repr=False)
    snapshot_dir: Path | None = None

    @classmethod
    def local(cls, index_dir: Path) -> IndexLocation:
        """A local Chroma directory (ledger, stamp and snapshots inside it)."""
        return cls(Path(index_dir))

    @classmethod
    def from_settings(cls, settings: Settings) -> IndexLocation:
        """The index the settings describe: the Chroma server of FLIXREC_CHROMA_URL, else the local directory."""
        server = None
        if settings.chroma_url:
            server = ChromaServer(settings.chroma_url, settings.chroma_token, settings.chroma_token_header)
        return cls(settings.index_dir, server, settings.database_url if server else None, settings.snapshot_dir)

    @property
    def remote(self) -> bool:
        """Whether the vectors live on a Chroma server."""
        return self.server is not None

    @property
    def snapshot_root(self) -> Path:
        """The folder of the build snapshots."""
        return self.snapshot_dir or self.index_dir / "snapshots"

    def describe(self) -> str:
        """Where the vectors are, safe to show."""
        if self.server is not None:
            return f"the Chroma server {self.server.shown}"
        return str(self.index_dir / "chroma.sqlite3")
