"""model types: one state vector per user, holdout NDCG on versions

A user's real-time state becomes one vector whose layout the model type defines (MF:
bias then factors; iALS: factors; EASE: empty; ensemble: both of its parts). Stored
states are derived data (a user without a usable state is re-solved from their stored
ratings), so they are dropped rather than converted.

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-26 19:45:00
"""
from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0003"
down_revision: str | None = "0002"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.execute("DELETE FROM user_states")
    with op.batch_alter_table("user_states", schema=None) as batch_op:
        batch_op.drop_column("bias")
        batch_op.alter_column("factors", new_column_name="state", existing_type=sa.LargeBinary(), existing_nullable=False)
    with op.batch_alter_table("model_versions", schema=None) as batch_op:
        batch_op.add_column(sa.Column("holdout_ndcg", sa.Float(), nullable=True))


def downgrade() -> None:
    op.execute("DELETE FROM user_states")
    with op.batch_alter_table("model_versions", schema=None) as batch_op:
        batch_op.drop_column("holdout_ndcg")
    with op.batch_alter_table("user_states", schema=None) as batch_op:
        batch_op.alter_column("state", new_column_name="factors", existing_type=sa.LargeBinary(), existing_nullable=False)
        batch_op.add_column(sa.Column("bias", sa.Float(), nullable=False, server_default="0"))
