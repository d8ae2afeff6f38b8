"""A unit of work for the async API: commit on success, roll back on error, then release
what was held for the transaction and run what waited for the commit (queueing jobs,
serving what was written)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from service.core.errors import Conflict
from service.db.hooks import AFTER_COMMIT, TRANSACTION_END


@asynccontextmanager
async def transaction(sessions: async_sessionmaker) -> AsyncIterator[AsyncSession]:
    async with sessions() as session:
        try:
            yield session
            await session.commit()
        except IntegrityError as exc:
            await session.rollback()
            raise Conflict("the change conflicts with data written at the same time; retry") from exc
        except BaseException:
            await session.rollback()
            raise
        finally:
            for release in session.info.pop(TRANSACTION_END, []):
                release()
        for callback in session.info.pop(AFTER_COMMIT, []):
            await callback(session)
