"""Explicit schema migrations (Alembic, flixrec/migrations): they give exactly the tables the code uses,
and a catalogue made before migrations upgrades in place (`python -m ingest migrate`), keeping its rows."""

from __future__ import annotations

import sqlalchemy as sa
from small_catalogue import SMALL_TITLES

from flixrec import catalog as catalog_module
from flixrec import migrations
from flixrec import title_sources
from flixrec.catalog import Catalog
from flixrec.index import shared_ledger
from ingest.__main__ import main


def test_head_is_the_newest_revision_alembic_knows():
    from alembic.script import ScriptDirectory

    assert ScriptDirectory.from_config(migrations.alembic_config()).get_current_head() == migrations.HEAD


def test_migrated_schema_is_the_schema_the_code_uses(any_catalog):
    from alembic.autogenerate import compare_metadata
    from alembic.migration import MigrationContext

    assert migrations.current_revision(any_catalog.engine) == migrations.HEAD
    code = sa.MetaData()
    for source in (catalog_module.metadata, title_sources.metadata, shared_ledger.metadata):
        for table in source.tables.values():
            table.to_metadata(code)
    with any_catalog.engine.connect() as conn:
        diffs = compare_metadata(MigrationContext.configure(conn, opts={"compare_type": True}), code)
    assert [d for d in diffs if not (isinstance(d, tuple) and d[0] == "remove_table" and d[1].name == "alembic_version")] == []


def test_a_catalogue_from_before_migrations_upgrades_in_place(tmp_path, monkeypatch, capsys):
    url = f"sqlite:///{tmp_path / 'old.sqlite3'}"
    old = Catalog.open(url)
    old.upsert_titles(SMALL_TITLES[:5])
    with old.engine.begin() as conn:  # what a deployment before migrations (and the Trakt fields) has
        for table in ("alembic_version", "index_vectors", "index_state"):
            conn.execute(sa.text(f"DROP TABLE {table}"))
        conn.execute(sa.text("DROP INDEX ix_titles_certification"))
        conn.execute(sa.text("ALTER TABLE titles DROP COLUMN certification"))
    old.engine.dispose()
    assert migrations.current_revision(sa.create_engine(url)) is None

    monkeypatch.setenv("FLIXREC_DATABASE_URL", url)
    monkeypatch.setenv("FLIXREC_HOME", str(tmp_path))
    assert main(["migrate"]) == 0
    assert f"revision {migrations.HEAD} (was unversioned)" in capsys.readouterr().out
    upgraded = Catalog.open(url, create=False)
    assert upgraded.count() == 5 and upgraded.get_title(SMALL_TITLES[0].title_id).title == SMALL_TITLES[0].title
    inspector = sa.inspect(upgraded.engine)
    assert "certification" in {c["name"] for c in inspector.get_columns("titles")}
    assert inspector.has_table("index_vectors") and inspector.has_table("index_state")
    assert main(["migrate"]) == 0  # a second run has nothing to do
    assert f"revision {migrations.HEAD} (was {migrations.HEAD})" in capsys.readouterr().out
