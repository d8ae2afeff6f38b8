from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse

from service.api.deps import DispatcherDep, RegistryDep, ServingDep
from service.api.openapi import response_example
from service.schemas import examples
from service.schemas.health import Health, Readiness
from service.services.readiness import readiness

router = APIRouter(tags=["health"])


@router.get(
    "/health", response_model=Health, summary="Check that the process is alive",
    responses={200: response_example(examples.HEALTH)},
)
async def health() -> Health:
    """Liveness: the process answers. It checks nothing else, so a load balancer can poll it cheaply."""
    return Health(status="ok")


@router.get(
    "/ready",
    response_model=Readiness,
    summary="Check that this process can serve",
    responses={
        200: response_example(examples.READY),
        503: {"model": Readiness, "description": "Not ready; the body says what is missing.", **response_example(examples.NOT_READY)},
    },
)
async def ready(
    request: Request, dispatcher: DispatcherDep, registry: RegistryDep, serving: ServingDep
) -> JSONResponse:
    """Readiness: database and broker reachable, and this process serves the active version."""
    body = await readiness(request.app.state.sessions, dispatcher, registry, serving)
    return JSONResponse(status_code=200 if body.ready else 503, content=body.model_dump())
