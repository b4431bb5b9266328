"""Alembic's entry: runs the migrations on the engine `flixrec.migrations.migrate` passes, else FLIXREC_DATABASE_URL."""

from __future__ import annotations

from alembic import context

from flixrec.config import Settings
from flixrec.database import create_engine

engine = context.config.attributes.get("engine") or create_engine(Settings.from_env().database_url)
with engine.begin() as connection:
    context.configure(connection=connection, target_metadata=None, transactional_ddl=True)
    with context.begin_transaction():
        context.run_migrations()
