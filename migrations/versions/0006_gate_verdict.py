"""the quality gate's verdict on each version, and its reason

A version the gate keeps out used to look like any other inactive version; now it
says which metric kept it out, against which version and which tolerance setting.
Versions trained before this have no verdict (null).

Revision ID: 0006
Revises: 0005
Create Date: 2026-12-03 13:40:00
"""
from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0006"
down_revision: str | None = "0005"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("model_versions", schema=None) as batch_op:
        batch_op.add_column(sa.Column("gate_activated", sa.Boolean(), nullable=True))
        batch_op.add_column(sa.Column("gate_reason", sa.Text(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("model_versions", schema=None) as batch_op:
        batch_op.drop_column("gate_reason")
        batch_op.drop_column("gate_activated")
