from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse

from service.api.deps import DispatcherDep, RegistryDep, ServingDep
from service.schemas.health import Health, Readiness
from service.services.readiness import readiness

router = APIRouter(tags=["health"])


@router.get("/health", response_model=Health)
async def health() -> Health:
    """Liveness: the process answers."""
    return Health(status="ok")


@router.get("/ready", response_model=Readiness, responses={503: {"model": Readiness}})
async def ready(
    request: Request, dispatcher: DispatcherDep, registry: RegistryDep, serving: ServingDep
) -> JSONResponse:
    """Readiness: database and broker reachable, and this process serves the active version."""
    body = await readiness(request.app.state.sessions, dispatcher, registry, serving)
    return JSONResponse(status_code=200 if body.ready else 503, content=body.model_dump())
