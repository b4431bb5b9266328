"""The bookkeeping of a server index (FLIXREC_CHROMA_URL): its build ledger and published stamp.

Revision ID: 0002
Revises: 0001
"""

import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    inspector = sa.inspect(op.get_bind())
    if not inspector.has_table("index_vectors"):
        op.create_table(
            "index_vectors",
            sa.Column("collection", sa.String(128), primary_key=True),
            sa.Column("title_id", sa.String(64), primary_key=True),
            sa.Column("content_hash", sa.String(32), nullable=False),
            sa.Column("record_hash", sa.String(32), nullable=False),
            sa.Column("metadata_hash", sa.String(32), nullable=False),
        )
    if not inspector.has_table("index_state"):
        op.create_table(
            "index_state",
            sa.Column("collection", sa.String(128), primary_key=True),
            sa.Column("key", sa.String(32), primary_key=True),
            sa.Column("value", sa.Text, nullable=False),
        )


def downgrade() -> None:
    op.drop_table("index_state")
    op.drop_table("index_vectors")
