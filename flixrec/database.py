"""Opening the catalogue's database: the URL checked, an engine per backend, credentials never shown.

A URL SQLAlchemy cannot use is a ConfigError saying how to fix it; `flixrec.catalog.Catalog` turns
failures while using the database into CatalogUnavailable (with `one_line`).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import orjson
import sqlalchemy as sa
from sqlalchemy.engine import Engine

from flixrec.errors import ConfigError
from flixrec.redact import redact_text, redact_url

DATABASE_URL_EXAMPLES = "sqlite:////path/to/flixrec.sqlite3 or postgresql+psycopg2://user:password@host:5432/flixrec"
CONNECT_TIMEOUT_S = 10
"""How long a database server may take to answer a connection (an unreachable one fails, not hangs)."""
SERVER_POOL = {"pool_size": 5, "max_overflow": 5, "pool_timeout": 30, "pool_recycle": 1800, "pool_pre_ping": True}
"""Connection pool of a database server (Postgres), per engine: a process keeps up to 5 connections open and
opens 5 more under load, waits 30 s for a free one, replaces connections older than 30 min (proxies and
load balancers drop idle ones) and tests each before use (a restarted server costs no failed query).
A replica has two engines (catalogue, index ledger) and a build one more (its writer lock): size
Postgres' max_connections (default 100) for 20 per replica, or put PgBouncer in front."""


def read_json(text: str | bytes) -> Any:
    """A JSON column's value: orjson (several times faster: the app reads every title's columns at start),
    the standard library for what orjson refuses but Python wrote (NaN and Infinity literals)."""
    try:
        return orjson.loads(text)
    except orjson.JSONDecodeError:
        return json.loads(text)


def create_engine(database_url: str) -> Engine:
    """An engine for the catalogue; SQLite files get their folder, WAL mode and a busy timeout.

    A URL SQLAlchemy cannot use raises ConfigError saying how to fix it, its credentials redacted.
    """
    shown = redact_url(database_url)
    try:
        url = sa.engine.make_url(database_url)
    except (sa.exc.ArgumentError, ValueError, TypeError) as exc:
        reason = "its port is not a number" if "int()" in str(exc) else "SQLAlchemy cannot parse it"
        raise ConfigError(f"FLIXREC_DATABASE_URL={shown!r} is not a usable database URL ({reason}); "
                          f"use e.g. {DATABASE_URL_EXAMPLES}") from exc
    if url.get_backend_name() == "sqlite":
        return _sqlite_engine(url, shown)
    connect_args = {}
    driver = url.drivername.partition("+")[2]
    if url.get_backend_name() == "postgresql" and driver in ("", "psycopg2", "psycopg") and "connect_timeout" not in url.query:
        connect_args["connect_timeout"] = CONNECT_TIMEOUT_S
    try:
        return sa.create_engine(url, connect_args=connect_args, json_deserializer=read_json, **SERVER_POOL)
    except sa.exc.NoSuchModuleError as exc:
        raise ConfigError(f"FLIXREC_DATABASE_URL={shown!r} names no database SQLAlchemy knows "
                          f"({url.drivername!r}); use e.g. {DATABASE_URL_EXAMPLES}") from exc
    except ImportError as exc:
        raise ConfigError(f"the database driver for {url.drivername!r} is not installed ({exc.name or exc}); "
                          "pip install it (psycopg2-binary for postgresql+psycopg2)") from exc


def _sqlite_engine(url: sa.URL, shown: str) -> Engine:
    """A SQLite engine: the file's folder made, WAL mode, a busy timeout; a directory or bad path is a ConfigError."""
    if url.database and url.database != ":memory:":
        path = Path(url.database).expanduser()
        if path.is_dir():
            raise ConfigError(f"FLIXREC_DATABASE_URL={shown!r} points at a directory; name a file in it, "
                              f"e.g. sqlite:///{path / 'flixrec.sqlite3'}")
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise ConfigError(f"cannot create the folder of the catalogue {path} ({exc.strerror or exc}); "
                              "set FLIXREC_HOME or FLIXREC_DATABASE_URL to a writable place") from exc
    engine = sa.create_engine(url, connect_args={"timeout": 30}, json_deserializer=read_json)

    @sa.event.listens_for(engine, "connect")
    def _sqlite_pragmas(dbapi_connection: Any, _record: Any) -> None:
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute("PRAGMA synchronous=NORMAL")
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.close()

    return engine


def one_line(text: object) -> str:
    """A driver's message on one line, credentials redacted."""
    return redact_text(" ".join(str(text).split()))
