"""Retention: only the newest versions keep their artifacts."""

from __future__ import annotations

from service.db import statements
from service.db.session import sync_session


def apply_retention(keep: int) -> list[int]:
    """Keep ``keep`` versions: the active one, however old, and the newest inactive
    ones. The rest are marked deleted (their records and metrics stay as history) and
    lose their artifacts, under the same lock as activation and deletion."""
    with sync_session() as session:
        for statement in statements.lock_versions(session.get_bind().dialect.name):
            session.execute(statement)
        has_active = session.scalars(statements.active_version()).first() is not None
        doomed = list(session.scalars(statements.versions_beyond_retention(max(keep - has_active, 0))))
        if not doomed:
            return []
        deleted = list(session.scalars(statements.mark_deleted(doomed)))
        if deleted:
            session.execute(statements.delete_artifacts(deleted))
    return deleted
