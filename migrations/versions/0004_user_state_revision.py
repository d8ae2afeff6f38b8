"""serving from memory: a revision per user state, a generation for bulk changes

Each API process keeps users' ratings and states in memory and learns of changes made
elsewhere from a change feed; the revision lets a process keep the newest of two copies
of a user that reach it out of order. A user who rates before any model is active gets
a row too (no version, an empty state), so every write counts. Bulk changes (an
import, from the API or the CLI) count up ``data_generation``, which every API process
polls, and reload everything when it moves.

Revision ID: 0004
Revises: 0003
Create Date: 2026-12-02 16:40:00
"""
from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0004"
down_revision: str | None = "0003"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "data_generation",
        sa.Column("id", sa.Integer(), autoincrement=False, nullable=False),
        sa.Column("generation", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_data_generation")),
    )
    op.execute("INSERT INTO data_generation (id, generation) VALUES (1, 0)")
    with op.batch_alter_table("user_states", schema=None) as batch_op:
        batch_op.add_column(sa.Column("revision", sa.BigInteger(), nullable=False, server_default="0"))
        batch_op.alter_column("model_version", existing_type=sa.Integer(), nullable=True)


def downgrade() -> None:
    op.drop_table("data_generation")
    op.execute("DELETE FROM user_states WHERE model_version IS NULL")
    with op.batch_alter_table("user_states", schema=None) as batch_op:
        batch_op.alter_column("model_version", existing_type=sa.Integer(), nullable=False)
        batch_op.drop_column("revision")
