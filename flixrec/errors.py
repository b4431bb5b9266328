"""Every expected failure of the FlixRec core, in one tree.

    FlixrecError
    ├── ConfigError          a setting is missing or invalid
    ├── InvalidRequest       a call's argument is out of range or not usable (k, a bound, text)
    ├── CatalogUnavailable   the catalogue database cannot be reached or read (names it, redacted)
    ├── TitleNotFound        no title has that id
    ├── IndexNotBuilt        the catalogue or vector index has not been built yet
    ├── IndexUnavailable     the vector index exists but Chroma, its ledger or snapshot failed (names the
    │                        file and the repair: python -m ingest repair)
    ├── EmbedderUnavailable  the embedding model cannot be loaded
    ├── WriterBusy           another process holds the database's writer lock (names the holder)
    └── IngestError          (ingest.errors: the demo loaders and Trakt crawls have their own tree below it)

Edges (the CLI and the Streamlit pages) turn these into messages; anything else is a bug.
"""

from __future__ import annotations


def shown_value(value: object, limit: int = 80) -> str:
    """A value as one short printable line for a message: text repr'd with lone surrogates escaped, long ones cut."""
    if not isinstance(value, str):
        try:
            text = str(value)
        except ValueError:  # an int past Python's digit limit
            return "a number too long to print"
        return text if len(text) <= limit else text[: limit - 3] + "..."
    text = value
    text = text.encode("utf-8", "backslashreplace").decode("utf-8")
    shown = repr(text[:limit])
    if len(text) > limit or len(shown) > limit:  # repr escapes can make a short text long
        shown = shown[: limit - 4] + "..." + shown[0]
    return shown


class FlixrecError(Exception):
    """An expected failure whose message a user can act on."""


class ConfigError(FlixrecError):
    """A setting is missing or invalid; the message names it and says how to fix it."""


class InvalidRequest(FlixrecError, ValueError):
    """An argument of a core call is out of range or unusable; the message names it and its valid range."""


class CatalogUnavailable(FlixrecError):
    """The catalogue database cannot be reached or read; the message names it (credentials redacted)."""


class TitleNotFound(FlixrecError, KeyError):
    """No title in the catalogue has this id."""

    def __init__(self, title_id: str):
        super().__init__(title_id)
        self.title_id = title_id

    def __str__(self) -> str:
        return f"no title with id {shown_value(self.title_id)} in the catalogue"


class IndexNotBuilt(FlixrecError):
    """The catalogue or the vector index for the configured model does not exist yet."""


class IndexUnavailable(FlixrecError):
    """The vector index exists but could not be read or written; the message names the file and the repair."""


class WriterBusy(FlixrecError):
    """Another process is building the index (one writer at a time); the message names it."""


class EmbedderUnavailable(FlixrecError):
    """The configured embedding model cannot be loaded here."""

