"""The catalogue as it was before migrations: titles, people, credits, sync_state, title_sources, title_keys.

A frozen copy of those tables (never edit it: a later change is a new revision). Creates what is missing
and adds the nullable columns an older catalogue lacks (the Trakt fields), so a deployment made before
migrations upgrades in place.

Revision ID: 0001
Revises:
"""

import sqlalchemy as sa
from alembic import op

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None

frozen = sa.MetaData()
sa.Table(
    "titles", frozen,
    sa.Column("title_id", sa.String(64), primary_key=True),
    sa.Column("media_type", sa.String(8), nullable=False, index=True),
    sa.Column("title", sa.Text, nullable=False),
    sa.Column("source", sa.String(16), nullable=False),
    sa.Column("original_title", sa.Text),
    sa.Column("aliases", sa.JSON, nullable=False),
    sa.Column("overview", sa.Text),
    sa.Column("tagline", sa.Text),
    sa.Column("genres", sa.JSON, nullable=False),
    sa.Column("keywords", sa.JSON, nullable=False),
    sa.Column("year", sa.Integer, index=True),
    sa.Column("released", sa.String(32)),
    sa.Column("runtime", sa.Integer),
    sa.Column("country", sa.String(8)),
    sa.Column("language", sa.String(8)),
    sa.Column("rating", sa.Float),
    sa.Column("votes", sa.Integer),
    sa.Column("comment_count", sa.Integer),
    sa.Column("trakt_id", sa.Integer),
    sa.Column("tmdb_id", sa.Integer),
    sa.Column("imdb_id", sa.String(16)),
    sa.Column("slug", sa.Text),
    sa.Column("network", sa.Text),
    sa.Column("status", sa.String(32)),
    sa.Column("aired_episodes", sa.Integer),
    sa.Column("certification", sa.String(16), index=True),
    sa.Column("subgenres", sa.Text),
    sa.Column("languages", sa.Text),
    sa.Column("available_translations", sa.Text),
    sa.Column("trailer", sa.Text),
    sa.Column("homepage", sa.Text),
    sa.Column("poster_url", sa.Text),
    sa.Column("tvdb_id", sa.Integer),
    sa.Column("plex_guid", sa.String(64)),
    sa.Column("source_updated_at", sa.String(32)),
    sa.Column("airs", sa.String(96)),
    sa.Column("after_credits", sa.Boolean),
    sa.Column("during_credits", sa.Boolean),
    sa.Column("overviews", sa.JSON),
    sa.Column("content_hash", sa.String(32), nullable=False),
    sa.Column("record_hash", sa.String(32), nullable=False),
    sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
)
sa.Table("people", frozen, sa.Column("person_id", sa.String(64), primary_key=True),
         sa.Column("name", sa.Text, nullable=False))
credits = sa.Table(
    "credits", frozen,
    sa.Column("title_id", sa.String(64), sa.ForeignKey("titles.title_id", ondelete="CASCADE"), primary_key=True),
    sa.Column("person_id", sa.String(64), sa.ForeignKey("people.person_id"), primary_key=True),
    sa.Column("role", sa.String(16), primary_key=True),
    sa.Column("position", sa.Integer, nullable=False),
    sa.Column("character", sa.Text),
    sa.Column("job", sa.Text),
    sa.Column("episode_count", sa.Integer),
)
sa.Index("credits_person", credits.c.person_id)
sa.Table("sync_state", frozen, sa.Column("key", sa.String(200), primary_key=True),
         sa.Column("value", sa.JSON, nullable=False), sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False))
sa.Table(
    "title_sources", frozen,
    sa.Column("record_id", sa.String(64), primary_key=True),
    sa.Column("title_id", sa.String(64), nullable=False, index=True),
    sa.Column("source", sa.String(16), nullable=False, index=True),
    sa.Column("record", sa.JSON, nullable=False),
    sa.Column("record_hash", sa.String(32), nullable=False),
    sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
)
keys = sa.Table(
    "title_keys", frozen,
    sa.Column("key", sa.String(255), primary_key=True),
    sa.Column("record_id", sa.String(64), sa.ForeignKey("title_sources.record_id", ondelete="CASCADE"), primary_key=True),
)
sa.Index("title_keys_record", keys.c.record_id)


def upgrade() -> None:
    bind = op.get_bind()
    frozen.create_all(bind, checkfirst=True)
    inspector = sa.inspect(bind)
    for name in ("titles", "credits"):  # catalogues from before the Trakt fields
        present = {column["name"] for column in inspector.get_columns(name)}
        for column in frozen.tables[name].columns:
            if column.name not in present and column.nullable:
                op.add_column(name, sa.Column(column.name, column.type, nullable=True))


def downgrade() -> None:
    for name in ("title_keys", "title_sources", "credits", "people", "sync_state", "titles"):
        op.drop_table(name)
