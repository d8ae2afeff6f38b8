from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Body, Query, Request, status

from service.api.deps import (
    AdminKey,
    DispatcherDep,
    KeyFirstRoute,
    ReaderKey,
    ReadSessionDep,
    SessionDep,
)
from service.api.openapi import named_examples, response_example
from service.api.params import JobId
from service.core.errors import Conflict, NotFound, Unavailable
from service.core.model_types import describe
from service.schemas import examples
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
    summary="Train a new model version",
    responses={202: response_example(examples.JOB_ACCEPTED), **Unavailable.openapi()},
)
async def train(
    body: Annotated[TrainRequest, Body(openapi_examples=named_examples(
        matrix_factorization=("Matrix factorization with 20 factors", examples.TRAIN_MF_REQUEST),
        ensemble=("The default type with its defaults", {"model_type": "ensemble"}),
        ease=("EASE with a stronger penalty", {"model_type": "ease", "hyperparams": {"regularization": 300.0}}),
        spark=("Matrix factorization trained on Spark (SPARK_MASTER_URL)", examples.TRAIN_SPARK_REQUEST),
    ))],
    request: Request,
    session: SessionDep,
    dispatcher: DispatcherDep,
) -> JobAccepted:
    """Queue a training job of a model type (default: the ensemble); poll its status URL.

    Hyperparameters are validated per type (see GET /api/ml/model-types); an error names
    the field and its allowed range."""
    job = await jobs.create_training_job(session, body, dispatcher.dispatch)
    return _accepted(request, job.id, job.status)


@router.get(
    "/model-types", response_model=list[ModelTypeInfo], summary="List the model types you can train",
    responses={200: response_example([examples.MODEL_TYPE_INFO])},
)
async def model_types() -> list[ModelTypeInfo]:
    """The model types a training job can name, with their hyperparameters' defaults and
    ranges (a JSON Schema per type) and the holdout metric each is gated on."""
    return [ModelTypeInfo(**info) for info in describe()]


@router.post(
    "/retrain",
    response_model=JobsAccepted,
    status_code=status.HTTP_202_ACCEPTED,
    dependencies=[AdminKey],
    summary="Retrain the model that serves",
    responses={202: response_example(examples.JOBS_ACCEPTED), **Unavailable.openapi()},
)
async def retrain(request: Request, session: SessionDep, dispatcher: DispatcherDep) -> JobsAccepted:
    """Retrain on all current ratings: the active version's type with its hyperparameters,
    or the default type with its defaults while no version is active."""
    created = await jobs.create_retrain_jobs(session, dispatcher.dispatch)
    return JobsAccepted(jobs=[_accepted(request, j.id, j.status) for j in created])


@router.get(
    "/training-status", response_model=list[JobPublic], dependencies=[ReaderKey], summary="List recent training jobs",
    responses={200: response_example([examples.RUNNING_JOB])},
)
async def training_status(
    session: ReadSessionDep, limit: Annotated[int, Query(ge=1, le=100, description="How many jobs to list.")] = 20
) -> list[JobPublic]:
    """Recent training jobs, newest first."""
    return [to_public(j) for j in await jobs.recent_jobs(session, limit)]


@router.get(
    "/training-status/{job_id}",
    response_model=JobPublic,
    name="training_job_status",
    dependencies=[ReaderKey],
    summary="Follow a training job",
    responses={200: response_example(examples.RUNNING_JOB), **NotFound.openapi()},
)
async def training_job_status(job_id: JobId, session: ReadSessionDep) -> JobPublic:
    """One job's status, progress, loss curve so far and error."""
    return to_public(await jobs.get_job(session, job_id))


@router.post(
    "/training-status/{job_id}/cancel",
    response_model=JobPublic,
    dependencies=[AdminKey],
    summary="Cancel a training job",
    responses={200: response_example(examples.CANCEL_REQUESTED_JOB), **NotFound.openapi(), **Conflict.openapi()},
)
async def cancel_training_job(job_id: JobId, session: SessionDep) -> JobPublic:
    """Cancel a job: at once if queued, at the next epoch if running; a finished job is a 409."""
    return to_public(await jobs.cancel_job(session, job_id))
