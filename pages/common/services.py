"""The dashboard's only cached resources: the Settings (environment + st.secrets) and the FlixRec service.

`st.cache_resource` keeps one of each per process and per configuration, so the index snapshot and the
name search are loaded once and shared by every session. The app only reads the index.
"""

from __future__ import annotations

import os
import threading
from typing import Any

import streamlit as st

from flixrec.config import SECRETS_FILE, SETTINGS, Settings
from flixrec.errors import ConfigError
from flixrec.explore import SimilarView
from flixrec.models import Filters, RankingWeights, Recommendation, Title
from flixrec.service import FRANCHISE_SHOWN, FlixRec


def _secrets() -> dict[str, Any]:
    """Top-level values of .streamlit/secrets.toml (Community Cloud: the app's Secrets box); {} when none."""
    try:
        return {key: value for key, value in st.secrets.to_dict().items() if not isinstance(value, dict)}
    except FileNotFoundError as exc:  # StreamlitSecretNotFoundError: no file (fine) or one that is not TOML
        if "parsing" in str(exc).casefold():  # as `python -m ingest` says of the same file (never its content)
            raise ConfigError(f"cannot read {SECRETS_FILE}: it is not valid TOML; fix the file or set the values "
                              "in the environment") from None
        return {}


def configured_values() -> tuple[tuple[str, str], ...]:
    """Every FlixRec/Trakt setting that is set, environment first, then secrets (AppTest secrets never reach os.environ)."""
    secrets = _secrets()
    values: dict[str, str] = {}
    for setting in SETTINGS.values():
        for source in (os.environ, secrets):
            value = source.get(setting.env)
            if value not in (None, ""):
                values[setting.env] = str(value)
                break
    return tuple(sorted(values.items()))


@st.cache_resource(show_spinner=False)
def _settings_for(values: tuple[tuple[str, str], ...]) -> Settings:
    return Settings.from_mapping(dict(values))


def load_settings() -> Settings:
    """The validated Settings for the current environment and secrets (ConfigError says what to fix)."""
    return _settings_for(configured_values())


def _service_key(settings: Settings) -> tuple[str, ...]:
    return (settings.database_url, str(settings.index_dir), settings.model, str(settings.chroma_url),
            str(settings.snapshot_dir), repr(settings.ranking))


@st.cache_resource(show_spinner="Loading the catalogue and its index…", hash_funcs={Settings: _service_key})
def flixrec_service(settings: Settings) -> FlixRec:
    """The one FlixRec of this process for these settings (thread-safe reads; reloads after a new build)."""
    return FlixRec(settings)


class WarmUp:
    """The model, the name search and the ranking features loading in a background thread, so the first search
    does not wait for them (`ready`: the model is loaded)."""

    def __init__(self, service: FlixRec):
        self.done = threading.Event()
        self.error: str | None = None
        self._thread = threading.Thread(target=self._run, args=(service,), name="flixrec-warm-up", daemon=True)
        self._thread.start()

    def _run(self, service: FlixRec) -> None:
        try:
            service.search_titles("warm up")  # the name index
            service.encode_query("warm up")  # loads the embedding model
        except Exception as exc:  # noqa: BLE001 - a failed warm-up only means the first search loads it (and reports)
            self.error = str(exc)
        finally:
            self.done.set()
        try:
            service.warm_up()  # the ranking features: tens of seconds at 300k titles, before the first similar query
        except Exception as exc:  # noqa: BLE001 - e.g. no index yet: the first similar query reports it
            self.error = str(exc)

    @property
    def ready(self) -> bool:
        """True once the model is loaded (or the warm-up gave up)."""
        return self.done.is_set()


@st.cache_resource(show_spinner=False, hash_funcs={Settings: _service_key})
def warm_up(settings: Settings) -> WarmUp:
    """Start (once per process and settings) loading the model and the name search in the background."""
    return WarmUp(flixrec_service(settings))


def similar_view(service: FlixRec, title_id: str, k: int, filters: Filters, stamp: str,
                 weights: RankingWeights | None = None) -> SimilarView:
    """A seed's similar titles and franchise (as FlixRec.similar_view), from caches keyed by the build stamp:
    the seed and its franchise per title (a filter change never recomputes them), the similar titles per
    (title, k, filters), so a filter set the user returns to costs no query at all."""
    seed, franchise = _seed_and_franchise(service, title_id, stamp)
    similar = _similar_titles(service, title_id, k, filters, stamp, weights)
    return SimilarView(seed, similar, [r for r in franchise if r.title.title_id not in filters.exclude_ids])


@st.cache_data(show_spinner=False, max_entries=64)
def _seed_and_franchise(_service: FlixRec, title_id: str, stamp: str) -> tuple[Title, list[Recommendation]]:
    return _service.get_title(title_id), _service.franchise_titles(title_id, FRANCHISE_SHOWN)


@st.cache_data(show_spinner=False, max_entries=256)
def _similar_titles(_service: FlixRec, title_id: str, k: int, filters: Filters, stamp: str,
                    weights: RankingWeights | None) -> list[Recommendation]:
    return _service.similar_titles(title_id, k, filters, separate_franchise=True, weights=weights)


def build_stamp(service: FlixRec) -> str:
    """The index build the cached views belong to (a new build invalidates them)."""
    return str(service.index.stamp())
