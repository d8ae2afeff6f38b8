"""training engine: which trainer fitted a job and a version (numpy or spark)

Every row before this migration was trained by our numpy trainers, so the column is
filled with 'numpy' and defaults to it.

Revision ID: 0009
Revises: 0008
Create Date: 2026-12-04 19:00:00
"""
from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0009"
down_revision: str | None = "0008"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

TABLES = ("training_jobs", "model_versions")


def upgrade() -> None:
    for table in TABLES:
        with op.batch_alter_table(table) as batch:
            batch.add_column(sa.Column("engine", sa.String(length=20), nullable=False, server_default="numpy"))


def downgrade() -> None:
    for table in TABLES:
        with op.batch_alter_table(table) as batch:
            batch.drop_column("engine")
