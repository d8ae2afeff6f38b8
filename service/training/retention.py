"""Retention: only the newest versions keep their artifacts."""

from __future__ import annotations

from service.db import statements
from service.db.session import sync_session


def apply_retention(keep: int) -> list[int]:
    """Mark versions beyond the newest ``keep`` deleted (never the active one) and drop
    their artifacts, under the same lock as activation and deletion."""
    with sync_session() as session:
        for statement in statements.lock_versions(session.get_bind().dialect.name):
            session.execute(statement)
        doomed = list(session.scalars(statements.versions_beyond_retention(keep)))
        if not doomed:
            return []
        deleted = list(session.scalars(statements.mark_deleted(doomed)))
        if deleted:
            session.execute(statements.delete_artifacts(deleted))
    return deleted
