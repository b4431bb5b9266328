"""Explicit schema migrations of the catalogue database (Alembic): `migrate(engine)` brings any database to head.

Revisions live in versions/ (0001 the catalogue as it was before migrations, 0002 the index bookkeeping
of a server index). Every revision checks what exists first, so a deployment made before migrations (no
alembic_version table) upgrades in place, without a rebuild. `python -m ingest migrate` runs it, and so
does every write-open of the catalogue (`Catalog.open`), skipping Alembic when the database is at head.
New revisions: `alembic -c flixrec/migrations/alembic.ini revision -m "what"` with FLIXREC_DATABASE_URL set.
"""

from __future__ import annotations

import logging
from pathlib import Path

import sqlalchemy as sa
from sqlalchemy.engine import Engine

from flixrec.errors import CatalogUnavailable

HEAD = "0002"
"""The newest revision in versions/ (a test checks it against Alembic's own head)."""
VERSION_TABLE = "alembic_version"
HERE = Path(__file__).resolve().parent


def current_revision(engine: Engine) -> str | None:
    """The database's revision, or None before any migration ran."""
    with engine.connect() as conn:
        if not sa.inspect(conn).has_table(VERSION_TABLE):
            return None
        return conn.execute(sa.text(f"SELECT version_num FROM {VERSION_TABLE}")).scalar()


def alembic_config(engine: Engine | None = None):  # noqa: ANN201 - alembic.config.Config, imported lazily
    """An Alembic Config of these migrations (the engine, when given, is the database they run on)."""
    from alembic.config import Config

    config = Config(str(HERE / "alembic.ini"))
    config.set_main_option("script_location", str(HERE))
    if engine is not None:
        config.attributes["engine"] = engine
    return config


def migrate(engine: Engine) -> tuple[str | None, str]:
    """Upgrade the database to HEAD; returns (revision before, revision after). Quick when already at head."""
    before = current_revision(engine)
    if before == HEAD:
        return before, HEAD
    from alembic import command
    from alembic.util import CommandError

    logging.getLogger("alembic.runtime.plugins").setLevel(logging.WARNING)  # one line per plugin otherwise

    try:
        command.upgrade(alembic_config(engine), "head")
    except CommandError as exc:  # e.g. a database migrated by a newer FlixRec
        raise CatalogUnavailable(f"the catalogue's schema is at revision {before!r}, which this version cannot "
                                 f"upgrade ({exc}); run the FlixRec version that migrated it, or a newer one") from exc
    return before, current_revision(engine) or HEAD
