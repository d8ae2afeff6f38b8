"""hyperparameter search: the tuning_studies table, and the schema Optuna keeps its own in

Optuna's RDB storage creates tables named ``studies`` and ``trials`` and runs its own
Alembic with an ``alembic_version`` table, which would collide with ours; on PostgreSQL
it gets a schema of its own (``optuna``, see service/tuning/storage.py), on SQLite a
file next to the database.

Revision ID: 0008
Revises: 0007
Create Date: 2026-12-03 14:00:00
"""
from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0008"
down_revision: str | None = "0007"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

OPTUNA_SCHEMA = "optuna"


def upgrade() -> None:
    op.create_table(
        "tuning_studies",
        sa.Column("id", sa.String(length=36), nullable=False),
        sa.Column("model_type", sa.String(length=50), nullable=False),
        sa.Column("objective", sa.String(length=20), nullable=False),
        sa.Column("direction", sa.String(length=10), nullable=False),
        sa.Column("space", sa.JSON(), nullable=False),
        sa.Column("base_hyperparams", sa.JSON(), nullable=False),
        sa.Column("validation_folds", sa.Integer(), nullable=False),
        sa.Column("n_trials", sa.Integer(), nullable=False),
        sa.Column("timeout_seconds", sa.Float(), nullable=True),
        sa.Column("status", sa.String(length=20), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("deadline_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("finished_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("split", sa.JSON(), nullable=True),
        sa.Column("best_value", sa.Float(), nullable=True),
        sa.Column("best_params", sa.JSON(), nullable=True),
        sa.Column("best_trial", sa.Integer(), nullable=True),
        sa.Column("job_id", sa.String(length=36), nullable=True),
        sa.Column("model_version", sa.Integer(), nullable=True),
        sa.Column("error", sa.Text(), nullable=True),
        sa.Column("origin", sa.String(length=20), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_tuning_studies")),
    )
    op.create_index(op.f("ix_tuning_studies_status"), "tuning_studies", ["status"], unique=False)
    if op.get_bind().dialect.name == "postgresql":
        op.execute(f"CREATE SCHEMA IF NOT EXISTS {OPTUNA_SCHEMA}")


def downgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.execute(f"DROP SCHEMA IF EXISTS {OPTUNA_SCHEMA} CASCADE")
    op.drop_index(op.f("ix_tuning_studies_status"), table_name="tuning_studies")
    op.drop_table("tuning_studies")
