"""Readiness: the database and broker answer, and this process serves a model if one is active.

A version switch is not "not ready": a process still serving the previous version while
the new one loads (or after refusing a bad artifact) keeps serving, and says so in
``detail``. Only a process with no model at all while one is active is not ready.
"""

from __future__ import annotations

import asyncio
import contextlib

from sqlalchemy.ext.asyncio import async_sessionmaker

from service.db import statements
from service.schemas.health import Readiness
from service.services.model_registry import ModelRegistry
from service.serving.state import ServingState
from service.training.dispatch import JobDispatcher

DATABASE_TIMEOUT = 2.0
CATCH_UP_TIMEOUT = 1.0  # a probe should answer within its own timeout; the load goes on


async def _active_version(sessions: async_sessionmaker) -> int | None:
    # Its own short session: an unreachable database must read as "not ready", not fail.
    async with sessions() as session:
        active = (await session.scalars(statements.active_version())).first()
        return active.version if active else None


async def readiness(
    sessions: async_sessionmaker, dispatcher: JobDispatcher, registry: ModelRegistry, serving: ServingState
) -> Readiness:
    try:
        active = await asyncio.wait_for(_active_version(sessions), timeout=DATABASE_TIMEOUT)
        database = True
    except Exception:  # unreachable, timing out or restarting: all mean "not ready"
        active, database = registry.active_version_in_db, False
    if database and (registry.current.version if registry.current else None) != active:
        # Activated a moment ago, by another process: load it now rather than at the next poll.
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(asyncio.shield(registry.catch_up()), timeout=CATCH_UP_TIMEOUT)
    broker = await asyncio.to_thread(dispatcher.broker_reachable)
    loaded = registry.current.version if registry.current else None
    return Readiness(
        ready=database and broker is not False and (loaded is not None or active is None),
        database=database,
        broker=broker,
        model_version=loaded,
        active_version=active,
        model_loaded=loaded is not None,
        detail=_switch_detail(loaded, active, registry.last_error),
        serving=serving.status(),
    )


def _switch_detail(loaded: int | None, active: int | None, error: str | None) -> str | None:
    if loaded == active:
        return None
    if error:
        return error if loaded is None else f"serving version {loaded}: {error}"
    return f"loading version {active}" if loaded is None else f"serving version {loaded} while version {active} loads"
