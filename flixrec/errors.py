"""Every expected failure of the FlixRec core, in one tree.

    FlixrecError
    ├── ConfigError          a setting is missing or invalid
    ├── TitleNotFound        no title has that id
    ├── IndexNotBuilt        the catalogue or vector index has not been built yet
    ├── IndexUnavailable     the vector index exists but Chroma or its ledger failed (names the file)
    ├── EmbedderUnavailable  the embedding model cannot be loaded
    └── IngestError          (ingest.errors: the demo loaders and Trakt crawls have their own tree below it)

Edges (the CLI and the Streamlit pages) turn these into messages; anything else is a bug.
"""

from __future__ import annotations


class FlixrecError(Exception):
    """An expected failure whose message a user can act on."""


class ConfigError(FlixrecError):
    """A setting is missing or invalid; the message names it and says how to fix it."""


class TitleNotFound(FlixrecError, KeyError):
    """No title in the catalogue has this id."""

    def __init__(self, title_id: str):
        super().__init__(title_id)
        self.title_id = title_id

    def __str__(self) -> str:
        return f"no title with id {self.title_id!r} in the catalogue"


class IndexNotBuilt(FlixrecError):
    """The catalogue or the vector index for the configured model does not exist yet."""


class IndexUnavailable(FlixrecError):
    """The vector index exists but could not be read or written; the message names the file."""


class EmbedderUnavailable(FlixrecError):
    """The configured embedding model cannot be loaded here."""

