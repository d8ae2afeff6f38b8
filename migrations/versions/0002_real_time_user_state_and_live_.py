"""real-time user state and live predictions

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-26 08:50:18.372295
"""
from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op


revision: str = '0002'
down_revision: str | None = '0001'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table('live_predictions',
    sa.Column('id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), autoincrement=True, nullable=False),
    sa.Column('user_id', sa.BigInteger(), nullable=False),
    sa.Column('movie_id', sa.BigInteger(), nullable=False),
    sa.Column('model_version', sa.Integer(), nullable=False),
    sa.Column('predicted', sa.Float(), nullable=False),
    sa.Column('actual', sa.Float(), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_live_predictions'))
    )
    with op.batch_alter_table('live_predictions', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_live_predictions_created_at'), ['created_at'], unique=False)
        batch_op.create_index(batch_op.f('ix_live_predictions_model_version'), ['model_version'], unique=False)

    op.create_table('user_states',
    sa.Column('user_id', sa.BigInteger(), autoincrement=False, nullable=False),
    sa.Column('model_version', sa.Integer(), nullable=False),
    sa.Column('bias', sa.Float(), nullable=False),
    sa.Column('factors', sa.LargeBinary(), nullable=False),
    sa.Column('n_ratings', sa.Integer(), nullable=False),
    sa.Column('updated_at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['model_version'], ['model_versions.version'], name=op.f('fk_user_states_model_version_model_versions'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('user_id', name=op.f('pk_user_states'))
    )
    with op.batch_alter_table('user_states', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_user_states_model_version'), ['model_version'], unique=False)



def downgrade() -> None:
    with op.batch_alter_table('user_states', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_user_states_model_version'))

    op.drop_table('user_states')
    with op.batch_alter_table('live_predictions', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_live_predictions_model_version'))
        batch_op.drop_index(batch_op.f('ix_live_predictions_created_at'))

    op.drop_table('live_predictions')
