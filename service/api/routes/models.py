from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query, status

from service.api.deps import (
    AdminKey,
    ReaderKey,
    ReadSessionDep,
    RegistryDep,
    SessionDep,
    SettingsDep,
)
from service.api.openapi import response_example
from service.api.params import Version
from service.core.errors import Conflict, NotFound
from service.schemas import examples
from service.schemas.ml import LiveMetrics, MetricsPublic, ModelVersionPublic
from service.services import live_metrics, versions

router = APIRouter(prefix="/api/ml", tags=["models"])



@router.get(
    "/models", response_model=list[ModelVersionPublic], dependencies=[ReaderKey],
    summary="List the model versions", responses={200: response_example([examples.MODEL_VERSION])},
)
async def list_models(session: ReadSessionDep) -> list[ModelVersionPublic]:
    """Every model version with its status, metrics, hyperparameters and active flag."""
    return await versions.list_versions(session)


@router.post(
    "/models/activate/{version}",
    response_model=ModelVersionPublic,
    dependencies=[AdminKey],
    summary="Activate a model version",
    responses={200: response_example(examples.MODEL_VERSION), **NotFound.openapi(), **Conflict.openapi()},
)
async def activate_model(version: Version, session: SessionDep) -> ModelVersionPublic:
    """Make a version the one every API process serves (a rollback is an activation).

    Each process loads it within a poll (MODEL_POLL_SECONDS); a deleted or failed version
    cannot be activated (409)."""
    return await versions.activate_version(session, version)


@router.delete(
    "/models/{version}",
    status_code=status.HTTP_204_NO_CONTENT,
    dependencies=[AdminKey],
    summary="Delete a model version",
    responses={**NotFound.openapi(), **Conflict.openapi()},
)
async def delete_model(version: Version, session: SessionDep) -> None:
    """Delete a version's model file; its record and metrics stay, with status "deleted".
    The active version cannot be deleted (409)."""
    await versions.delete_version(session, version)


@router.get(
    "/metrics", response_model=MetricsPublic, dependencies=[ReaderKey], summary="Show the active model's holdout metrics",
    responses={200: response_example(examples.METRICS), **NotFound.openapi()},
)
async def metrics(session: ReadSessionDep) -> MetricsPublic:
    """The active model's latest holdout metrics."""
    return await versions.active_metrics(session)


@router.get(
    "/metrics/live", response_model=LiveMetrics, dependencies=[ReaderKey],
    summary="Show the active model's accuracy on new ratings", responses={200: response_example(examples.LIVE_METRICS)},
)
async def metrics_live(
    session: ReadSessionDep,
    settings: SettingsDep,
    registry: RegistryDep,
    window: Annotated[int | None, Query(
        ge=10, le=100_000, description="How many of the latest ratings to measure over; default LIVE_WINDOW (500).",
    )] = None,
) -> LiveMetrics:
    """Rolling RMSE/MAE of the active model on incoming ratings it had not seen, and drift."""
    return await live_metrics.live_metrics(session, settings, registry, window)


@router.get(
    "/metrics/history", response_model=list[MetricsPublic], dependencies=[ReaderKey],
    summary="List every evaluation", responses={200: response_example([examples.METRICS])},
)
async def metrics_history(session: ReadSessionDep) -> list[MetricsPublic]:
    """Every evaluation over time, oldest first."""
    return await versions.metrics_history(session)
