"""Work a service defers to the end of the request's transaction (run by api.deps.get_session)."""

from __future__ import annotations

from collections.abc import Awaitable, Callable

from sqlalchemy.ext.asyncio import AsyncSession

AFTER_COMMIT = "after_commit"
TRANSACTION_END = "transaction_end"

AfterCommit = Callable[[AsyncSession], Awaitable[None]]


def after_commit(session: AsyncSession, callback: AfterCommit) -> None:
    """Run ``callback`` once the transaction has committed (never after a rollback)."""
    session.info.setdefault(AFTER_COMMIT, []).append(callback)


def at_transaction_end(session: AsyncSession, callback: Callable[[], None]) -> None:
    """Run ``callback`` when the transaction ends, committed or rolled back."""
    session.info.setdefault(TRANSACTION_END, []).append(callback)
