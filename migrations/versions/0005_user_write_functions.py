"""one round trip to lock users and read them (PostgreSQL)

A rating's transaction locks its users' stripes, then reads their ratings and states.
As two statements each waits for the other's round trip, and under load each round
trip waits behind the requests sharing the API's event loop. In a PL/pgSQL function
the lock and the reads are one call; each statement in it takes a fresh snapshot under
READ COMMITTED, so the reads see every write committed before the lock was granted.
SQLite (one process) keeps its in-process locks and plain reads.

Revision ID: 0005
Revises: 0004
Create Date: 2026-12-02 17:05:00
"""
from collections.abc import Sequence

from alembic import op

revision: str = "0005"
down_revision: str | None = "0004"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    if op.get_bind().dialect.name != "postgresql":
        return
    op.execute("""
CREATE FUNCTION recsys_lock_and_read_users(lock_keys bigint[], wanted bigint[])
RETURNS TABLE (o_user bigint, o_movie bigint, o_rating double precision, o_version integer, o_state bytea,
               o_revision bigint)
LANGUAGE plpgsql VOLATILE AS $$
DECLARE
    lock_key bigint;
BEGIN
    FOREACH lock_key IN ARRAY lock_keys LOOP  -- in the order given: every writer sorts them
        PERFORM pg_advisory_xact_lock(lock_key);
    END LOOP;
    RETURN QUERY SELECT r.user_id, r.movie_id, r.rating, NULL::integer, NULL::bytea, NULL::bigint
        FROM ratings r WHERE r.user_id = ANY(wanted);
    RETURN QUERY SELECT s.user_id, NULL::bigint, NULL::double precision, s.model_version, s.state, s.revision
        FROM user_states s WHERE s.user_id = ANY(wanted);
END
$$""")


def downgrade() -> None:
    if op.get_bind().dialect.name != "postgresql":
        return
    op.execute("DROP FUNCTION recsys_lock_and_read_users(bigint[], bigint[])")
