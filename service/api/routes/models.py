from __future__ import annotations

from fastapi import APIRouter, status

from service.api.deps import AdminKey, ReaderKey, RegistryDep, SessionDep
from service.core.errors import Conflict, NotFound
from service.schemas.ml import MetricsPublic, ModelVersionPublic
from service.services import versions

router = APIRouter(prefix="/api/ml", tags=["models"])


@router.get("/models", response_model=list[ModelVersionPublic], dependencies=[ReaderKey])
async def list_models(session: SessionDep) -> list[ModelVersionPublic]:
    """Every model version with its status, metrics, hyperparameters and active flag."""
    return await versions.list_versions(session)


@router.post(
    "/models/activate/{version}",
    response_model=ModelVersionPublic,
    dependencies=[AdminKey],
    responses={**NotFound.openapi(), **Conflict.openapi()},
)
async def activate_model(version: int, session: SessionDep, registry: RegistryDep) -> ModelVersionPublic:
    """Make a version the one every API process serves (a rollback is an activation)."""
    return await versions.activate_version(session, version)


@router.delete(
    "/models/{version}",
    status_code=status.HTTP_204_NO_CONTENT,
    dependencies=[AdminKey],
    responses={**NotFound.openapi(), **Conflict.openapi()},
)
async def delete_model(version: int, session: SessionDep) -> None:
    """Delete a version; the active version cannot be deleted (409)."""
    await versions.delete_version(session, version)


@router.get("/metrics", response_model=MetricsPublic, dependencies=[ReaderKey], responses=NotFound.openapi())
async def metrics(session: SessionDep) -> MetricsPublic:
    """The active model's latest holdout metrics."""
    return await versions.active_metrics(session)


@router.get("/metrics/history", response_model=list[MetricsPublic], dependencies=[ReaderKey])
async def metrics_history(session: SessionDep) -> list[MetricsPublic]:
    """Every evaluation over time, oldest first."""
    return await versions.metrics_history(session)
