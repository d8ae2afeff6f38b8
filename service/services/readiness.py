"""Readiness: the database and broker answer, and this process serves the active version."""

from __future__ import annotations

import asyncio

from sqlalchemy.ext.asyncio import async_sessionmaker

from service.db import statements
from service.schemas.health import Readiness
from service.services.model_registry import ModelRegistry
from service.serving.state import ServingState
from service.training.dispatch import JobDispatcher

DATABASE_TIMEOUT = 2.0


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
    broker = await asyncio.to_thread(dispatcher.broker_reachable)
    loaded = registry.current.version if registry.current else None
    return Readiness(
        ready=database and broker is not False and loaded == active,
        database=database,
        broker=broker,
        model_version=loaded,
        active_version=active,
        model_loaded=loaded is not None,
        detail=registry.last_error if loaded != active else None,
        serving=serving.status(),
    )
