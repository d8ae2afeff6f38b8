from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query, Request, status

from service.api.deps import (
    AdminKey,
    DispatcherDep,
    KeyFirstRoute,
    ReaderKey,
    ReadSessionDep,
    SessionDep,
)
from service.api.params import JobId
from service.core.errors import Conflict, NotFound, Unavailable
from service.core.model_types import describe
from service.schemas.ml import JobAccepted, JobPublic, JobsAccepted, ModelTypeInfo, TrainRequest
from service.training import jobs
from service.training.public import to_public

router = APIRouter(prefix="/api/ml", tags=["training"], route_class=KeyFirstRoute)



def _accepted(request: Request, job_id: str, status_name: str) -> JobAccepted:
    url = str(request.url_for("training_job_status", job_id=job_id).path)
    return JobAccepted(job_id=job_id, status=status_name, status_url=url)  # type: ignore[arg-type]


@router.post(
    "/train",
    response_model=JobAccepted,
    status_code=status.HTTP_202_ACCEPTED,
    dependencies=[AdminKey],
    responses=Unavailable.openapi(),
)
async def train(body: TrainRequest, request: Request, session: SessionDep, dispatcher: DispatcherDep) -> JobAccepted:
    """Queue a training job of a model type (default: the ensemble); poll its status URL.

    Hyperparameters are validated per type (see GET /api/ml/model-types); an error names
    the field and its allowed range."""
    job = await jobs.create_training_job(session, body, dispatcher.dispatch)
    return _accepted(request, job.id, job.status)


@router.get("/model-types", response_model=list[ModelTypeInfo])
async def model_types() -> list[ModelTypeInfo]:
    """The model types a training job can name, with their hyperparameters' defaults and
    ranges (a JSON Schema per type) and the holdout metric each is gated on."""
    return [ModelTypeInfo(**info) for info in describe()]


@router.post(
    "/retrain",
    response_model=JobsAccepted,
    status_code=status.HTTP_202_ACCEPTED,
    dependencies=[AdminKey],
    responses=Unavailable.openapi(),
)
async def retrain(request: Request, session: SessionDep, dispatcher: DispatcherDep) -> JobsAccepted:
    """Retrain every configured model type on all current ratings."""
    created = await jobs.create_retrain_jobs(session, dispatcher.dispatch)
    return JobsAccepted(jobs=[_accepted(request, j.id, j.status) for j in created])


@router.get("/training-status", response_model=list[JobPublic], dependencies=[ReaderKey])
async def training_status(
    session: ReadSessionDep, limit: Annotated[int, Query(ge=1, le=100)] = 20
) -> list[JobPublic]:
    """Recent training jobs, newest first."""
    return [to_public(j) for j in await jobs.recent_jobs(session, limit)]


@router.get(
    "/training-status/{job_id}",
    response_model=JobPublic,
    name="training_job_status",
    dependencies=[ReaderKey],
    responses=NotFound.openapi(),
)
async def training_job_status(job_id: JobId, session: ReadSessionDep) -> JobPublic:
    """One job's status, progress, loss curve so far and error."""
    return to_public(await jobs.get_job(session, job_id))


@router.post(
    "/training-status/{job_id}/cancel",
    response_model=JobPublic,
    dependencies=[AdminKey],
    responses={**NotFound.openapi(), **Conflict.openapi()},
)
async def cancel_training_job(job_id: JobId, session: SessionDep) -> JobPublic:
    """Cancel a job: at once if queued, at the next epoch if running."""
    return to_public(await jobs.cancel_job(session, job_id))
