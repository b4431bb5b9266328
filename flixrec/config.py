"""One Settings object, read from environment variables, then `.streamlit/secrets.toml` (the app: st.secrets).

Every setting is declared once below with its default and a line of help; `Settings.from_mapping`
validates them all at start-up and raises `ConfigError` naming the key and how to fix it.
"""

from __future__ import annotations

import dataclasses
import os
import tomllib
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from flixrec.errors import ConfigError
from flixrec.models import RankingWeights
from flixrec.redact import redact_url

DEFAULT_MODEL = "use-multilingual"
"""The default embedding model; chosen by bench/quality.py on the demo catalogue (see README)."""


SECRETS_FILE = Path(".streamlit/secrets.toml")
"""Where the app (st.secrets) and the CLIs read settings the environment does not set."""


def read_secrets_file(path: Path = SECRETS_FILE) -> dict[str, Any]:
    """Top-level values of a Streamlit secrets file; {} when there is none. Never echoes its content."""
    try:
        data = tomllib.loads(Path(path).read_text(encoding="utf-8"))
    except FileNotFoundError:
        return {}
    except (OSError, UnicodeDecodeError, tomllib.TOMLDecodeError) as exc:
        raise ConfigError(f"cannot read {path}: {type(exc).__name__}; fix the file or set the values in the environment") from None
    return {key: value for key, value in data.items() if not isinstance(value, dict)}


def default_home() -> Path:
    """Where FlixRec keeps its data, models and downloads when nothing else is configured."""
    return Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache") / "flixrec"


@dataclasses.dataclass(frozen=True)
class Setting:
    """The declaration of one setting: its environment name, default and help."""

    env: str
    default: Any
    help: str


SETTINGS: dict[str, Setting] = {
    "home": Setting("FLIXREC_HOME", None, "folder for the database, index and downloads (default ~/.cache/flixrec)"),
    "database_url": Setting(
        "FLIXREC_DATABASE_URL", None, "SQLAlchemy URL of the catalogue (default: SQLite file in FLIXREC_HOME)"
    ),
    "downloads_dir": Setting(
        "FLIXREC_DOWNLOADS", None, "cache of fetched registry packages (default: FLIXREC_HOME/downloads)"
    ),
    "index_dir": Setting("FLIXREC_INDEX_DIR", None, "Chroma directory of the vector index (default: FLIXREC_HOME/chroma); "
                         "with FLIXREC_CHROMA_URL, the local cache of the build snapshots"),
    "chroma_url": Setting("FLIXREC_CHROMA_URL", None, "URL of a Chroma server (`chroma run`), e.g. http://chroma:8000; "
                          "unset: a local Chroma directory (FLIXREC_INDEX_DIR)"),
    "chroma_token": Setting("FLIXREC_CHROMA_TOKEN", None, "token sent to the Chroma server (keep it in secrets; never logged)"),
    "chroma_token_header": Setting("FLIXREC_CHROMA_TOKEN_HEADER", "Authorization",
                                   "header carrying FLIXREC_CHROMA_TOKEN: 'Authorization' (sent as Bearer) or "
                                   "'X-Chroma-Token'"),
    "snapshot_dir": Setting("FLIXREC_SNAPSHOT_DIR", None, "folder of the build snapshots, shared by every replica when "
                            "it is on shared storage (default: FLIXREC_INDEX_DIR/snapshots)"),
    "model": Setting(
        "FLIXREC_MODEL",
        DEFAULT_MODEL,
        "embedding model: 'use-multilingual', 'all-MiniLM-L6-v2', or any sentence-transformers name or path",
    ),
    **{
        f"weight_{name}": Setting(f"FLIXREC_WEIGHT_{name.upper()}", getattr(RankingWeights(), name), help_text)
        for name, help_text in (
            ("text", "weight of the title vectors' cosine in 'similar titles'"),
            ("keywords", "weight of shared keywords (rare ones count more)"),
            ("directors", "weight of shared directors alone ('favour same director'; the crew weight counts them "
                          "already)"),
            ("cast", "weight of shared leading actors ('favour same cast')"),
            ("crew", "weight of a shared team behind the camera (directors, writers, composer, cinematographer, "
                     "editor, designer, producers)"),
            ("genres", "weight of shared genres"),
            ("era", "weight of close release years"),
            ("popularity", "weight of similar vote counts"),
            ("agreement", "weight of neighbourhood agreement (the title sees the seed's nearest titles as the seed does)"),
            ("prominence", "weight of how widely seen a title is (its vote count's rank in the catalogue; "
                           "without votes, its count of user tags)"),
        )
    },
    "trakt_client_id": Setting("TRAKT_CLIENT_ID", None, "Trakt API key (client id) from https://trakt.tv/oauth/applications"),
    "trakt_client_secret": Setting(
        "TRAKT_CLIENT_SECRET", None, "Trakt app's client secret: only to sign in (device flow) and refresh the sign-in"
    ),
    "trakt_base_url": Setting("TRAKT_BASE_URL", "https://api.trakt.tv", "Trakt API base URL"),
    "trakt_requests_per_5min": Setting(
        "TRAKT_REQUESTS_PER_5MIN", 450, "GET requests per 5 minutes to pace Trakt calls at (Trakt allows 500)"
    ),
    "show_paths": Setting(
        "FLIXREC_SHOW_PATHS", False, "show server paths on the Data page and in the app's errors (for operators; off for visitors)"
    ),
    "api_key": Setting(
        "FLIXREC_API_KEY", None, "when set, the REST API answers only requests carrying it in the X-API-Key header"
    ),
    "api_cors_origins": Setting(
        "FLIXREC_API_CORS_ORIGINS", "", "comma-separated origins browsers may call the REST API from (default: none)"
    ),
}


def _as_positive_int(key: str, raw: Any) -> int:
    try:
        value = int(raw)
    except (TypeError, ValueError):
        value = -1
    if value <= 0:
        env = SETTINGS[key].env
        raise ConfigError(f"{env}={raw!r} is not a positive whole number; set it like {env}={SETTINGS[key].default}")
    return value


def _as_bool(key: str, raw: Any) -> bool:
    text = str(raw).strip().casefold()
    if text in ("1", "true", "yes", "on"):
        return True
    if text in ("0", "false", "no", "off", ""):
        return False
    env = SETTINGS[key].env
    raise ConfigError(f"{env}={str(raw)[:40]!r} is not true or false; set it like {env}=true")


def _ranking_weights(lookup: Any) -> RankingWeights:
    values = {}
    for field in dataclasses.fields(RankingWeights):
        setting = SETTINGS[f"weight_{field.name}"]
        raw = lookup(f"weight_{field.name}")
        try:
            values[field.name] = float(raw)
        except (TypeError, ValueError):
            values[field.name] = float("nan")
        if not 0 <= values[field.name] <= 10:  # NaN fails too
            raise ConfigError(f"{setting.env}={raw!r} is not a number from 0 to 10; e.g. {setting.env}={setting.default}")
    return RankingWeights(**values)


def _origins(raw: Any) -> tuple[str, ...]:
    """The CORS origins of a comma-separated setting; each must be '*' or start with http:// or https://."""
    origins = tuple(o.strip().rstrip("/") for o in str(raw or "").split(",") if o.strip())
    bad = [o for o in origins if o != "*" and not o.startswith(("http://", "https://"))]
    if bad:
        raise ConfigError(
            f"FLIXREC_API_CORS_ORIGINS has {bad[0]!r}, which is not an origin; "
            "list origins like https://example.org,http://localhost:3000 (or *)"
        )
    return origins


@dataclasses.dataclass(frozen=True)
class Settings:
    """FlixRec's configuration, validated; build it with `Settings.from_mapping(os.environ)`."""

    home: Path
    database_url: str
    index_dir: Path
    downloads_dir: Path
    model: str = DEFAULT_MODEL
    chroma_url: str | None = dataclasses.field(default=None, repr=False)  # may hold credentials
    chroma_token: str | None = dataclasses.field(default=None, repr=False)
    chroma_token_header: str = "Authorization"
    snapshot_dir: Path | None = None
    trakt_client_id: str | None = dataclasses.field(default=None, repr=False)
    trakt_client_secret: str | None = dataclasses.field(default=None, repr=False)
    trakt_base_url: str = "https://api.trakt.tv"
    trakt_requests_per_5min: int = 450
    ranking: RankingWeights = RankingWeights()
    api_key: str | None = dataclasses.field(default=None, repr=False)
    api_cors_origins: tuple[str, ...] = ()
    show_paths: bool = False

    @classmethod
    def from_mapping(cls, *mappings: Mapping[str, Any]) -> Settings:
        """Settings from environment-like mappings; earlier mappings win (e.g. os.environ, then st.secrets)."""

        def lookup(key: str) -> Any:
            env = SETTINGS[key].env
            for mapping in mappings:
                value = mapping.get(env)
                if value not in (None, ""):
                    return value
            return SETTINGS[key].default

        home = Path(lookup("home") or default_home()).expanduser()
        database_url = str(lookup("database_url") or f"sqlite:///{home / 'flixrec.sqlite3'}")
        if "://" not in database_url:
            raise ConfigError(
                f"FLIXREC_DATABASE_URL={redact_url(database_url)!r} is not a SQLAlchemy URL; "
                "use e.g. sqlite:////path/to/flixrec.sqlite3 or postgresql+psycopg2://user@host/db"
            )
        index_dir = Path(lookup("index_dir") or home / "chroma").expanduser()
        model = str(lookup("model")).strip()
        if not model:
            raise ConfigError(f"FLIXREC_MODEL is empty; {SETTINGS['model'].help}")
        base_url = str(lookup("trakt_base_url")).rstrip("/")
        if not base_url.startswith(("http://", "https://")):
            raise ConfigError(f"TRAKT_BASE_URL={base_url!r} must start with http:// or https://")
        client_id = lookup("trakt_client_id")
        client_secret = lookup("trakt_client_secret")
        chroma_url = str(lookup("chroma_url") or "").strip().rstrip("/") or None
        if chroma_url and not chroma_url.startswith(("http://", "https://")):
            raise ConfigError(f"FLIXREC_CHROMA_URL={redact_url(chroma_url)!r} must start with http:// or https://, "
                              "e.g. http://127.0.0.1:8000 (a server started with: chroma run --path DIR)")
        token_header = str(lookup("chroma_token_header")).strip()
        if not token_header or not all(c.isalnum() or c == "-" for c in token_header):
            raise ConfigError(f"FLIXREC_CHROMA_TOKEN_HEADER={token_header!r} is not a header name; "
                              "use Authorization or X-Chroma-Token")
        token = lookup("chroma_token")
        snapshot_dir = lookup("snapshot_dir")
        api_key = lookup("api_key")
        return cls(
            home=home,
            database_url=database_url,
            index_dir=index_dir,
            downloads_dir=Path(lookup("downloads_dir") or home / "downloads").expanduser(),
            model=model,
            chroma_url=chroma_url,
            chroma_token=str(token).strip() if token else None,
            chroma_token_header=token_header,
            snapshot_dir=Path(snapshot_dir).expanduser() if snapshot_dir else None,
            trakt_client_id=str(client_id).strip() if client_id else None,
            trakt_client_secret=str(client_secret).strip() if client_secret else None,
            trakt_base_url=base_url,
            trakt_requests_per_5min=_as_positive_int("trakt_requests_per_5min", lookup("trakt_requests_per_5min")),
            ranking=_ranking_weights(lookup),
            api_key=(str(api_key).strip() or None) if api_key else None,
            api_cors_origins=_origins(lookup("api_cors_origins")),
            show_paths=_as_bool("show_paths", lookup("show_paths")),
        )

    @classmethod
    def from_env(cls, secrets_file: Path | None = None) -> Settings:
        """Settings from the process environment, then (when given) a secrets file, as the app reads st.secrets."""
        if secrets_file is None:
            return cls.from_mapping(os.environ)
        return cls.from_mapping(os.environ, read_secrets_file(secrets_file))

    def require_trakt_key(self) -> str:
        """The Trakt API key, or a ConfigError that says where to put it."""
        if not self.trakt_client_id:
            raise ConfigError(
                "no Trakt API key: create an app at https://trakt.tv/oauth/applications and set "
                "TRAKT_CLIENT_ID in the environment or in .streamlit/secrets.toml"
            )
        return self.trakt_client_id
