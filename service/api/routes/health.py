from __future__ import annotations

import asyncio

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse
from sqlalchemy import text

from service.schemas.health import Health, Readiness

router = APIRouter(tags=["health"])


@router.get("/health", response_model=Health)
async def health() -> Health:
    """Liveness: the process answers."""
    return Health(status="ok")


@router.get("/ready", response_model=Readiness, responses={503: {"model": Readiness}})
async def ready(request: Request) -> JSONResponse:
    """Readiness: database and broker reachable, and the active model loaded (or none exists)."""
    state = request.app.state
    try:
        async with state.sessions() as session:
            await asyncio.wait_for(session.execute(text("SELECT 1")), timeout=2)
        database = True
    except Exception:  # unreachable, timing out or restarting: all mean "not ready"
        database = False
    broker = await asyncio.to_thread(state.dispatcher.broker_reachable)
    registry = state.registry
    loaded = registry.current.version if registry.current else None
    model_ok = registry.active_version_in_db is None or loaded == registry.active_version_in_db
    body = Readiness(
        ready=database and broker is not False and model_ok,
        database=database,
        broker=broker,
        model_version=loaded,
        active_version=registry.active_version_in_db,
        model_loaded=loaded is not None,
        detail=registry.last_error,
    )
    return JSONResponse(status_code=200 if body.ready else 503, content=body.model_dump())
