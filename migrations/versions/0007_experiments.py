"""A/B experiments between model versions: arms, exposures, per-arm ratings

An experiment hashes users onto arms (a model version or the popularity fallback).
What each arm recommended (exposures) and every rating by a user in the experiment,
with the arm's prediction made before learning it, are kept per experiment, so its
metrics survive restarts. A partial unique index keeps at most one experiment running.

Revision ID: 0007
Revises: 0006
Create Date: 2026-12-03 14:00:00
"""
from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0007"
down_revision: str | None = "0006"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "experiments",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("salt", sa.String(length=64), nullable=False),
        sa.Column("coverage", sa.Float(), nullable=False),
        sa.Column("status", sa.String(length=20), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("ended_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("promoted_arm", sa.String(length=50), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_experiments")),
    )
    op.create_index(
        "uq_experiments_single_running", "experiments", ["status"], unique=True,
        postgresql_where=sa.text("status = 'running'"), sqlite_where=sa.text("status = 'running'"),
    )
    op.create_table(
        "experiment_arms",
        sa.Column("experiment_id", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(length=50), nullable=False),
        sa.Column("position", sa.Integer(), nullable=False),
        sa.Column("model_version", sa.Integer(), nullable=True),
        sa.Column("fallback", sa.String(length=20), nullable=True),
        sa.Column("share", sa.Float(), nullable=False),
        sa.ForeignKeyConstraint(["experiment_id"], ["experiments.id"], ondelete="CASCADE",
                                name=op.f("fk_experiment_arms_experiment_id_experiments")),
        sa.ForeignKeyConstraint(["model_version"], ["model_versions.version"],
                                name=op.f("fk_experiment_arms_model_version_model_versions")),
        sa.PrimaryKeyConstraint("experiment_id", "name", name=op.f("pk_experiment_arms")),
    )
    op.create_table(
        "experiment_exposures",
        sa.Column("experiment_id", sa.Integer(), nullable=False),
        sa.Column("user_id", sa.BigInteger(), autoincrement=False, nullable=False),
        sa.Column("movie_id", sa.BigInteger(), autoincrement=False, nullable=False),
        sa.Column("arm", sa.String(length=50), nullable=False),
        sa.Column("served_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("hit_at", sa.DateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(["experiment_id"], ["experiments.id"], ondelete="CASCADE",
                                name=op.f("fk_experiment_exposures_experiment_id_experiments")),
        sa.PrimaryKeyConstraint("experiment_id", "user_id", "movie_id", name=op.f("pk_experiment_exposures")),
    )
    op.create_table(
        "experiment_ratings",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), autoincrement=True, nullable=False),
        sa.Column("experiment_id", sa.Integer(), nullable=False),
        sa.Column("arm", sa.String(length=50), nullable=False),
        sa.Column("user_id", sa.BigInteger(), nullable=False),
        sa.Column("movie_id", sa.BigInteger(), nullable=False),
        sa.Column("predicted", sa.Float(), nullable=True),
        sa.Column("actual", sa.Float(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["experiment_id"], ["experiments.id"], ondelete="CASCADE",
                                name=op.f("fk_experiment_ratings_experiment_id_experiments")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_experiment_ratings")),
    )
    op.create_index(op.f("ix_experiment_ratings_experiment_id"), "experiment_ratings", ["experiment_id"])


def downgrade() -> None:
    op.drop_index(op.f("ix_experiment_ratings_experiment_id"), table_name="experiment_ratings")
    op.drop_table("experiment_ratings")
    op.drop_table("experiment_exposures")
    op.drop_table("experiment_arms")
    op.drop_index("uq_experiments_single_running", table_name="experiments")
    op.drop_table("experiments")
