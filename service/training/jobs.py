"""Training jobs: create their rows and queue them once committed, read, cancel.

Every job, from the API, the CLI or the schedule, is created the same way: its row is
committed first, then it is sent, so a worker never races a row that does not exist."""

from __future__ import annotations

import asyncio
from collections.abc import Callable

from pydantic import BaseModel
from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession

from recsys_core.types import DEFAULT_MODEL_TYPE
from service.core.errors import Conflict, NotFound, Unavailable
from service.core.model_types import retrain_hyperparams
from service.db import statements
from service.db.hooks import after_commit
from service.db.models import ModelVersion, TrainingJob, utcnow
from service.db.session import sync_session
from service.schemas.ml import TrainRequest
from service.training.dispatch import QueueUnavailable
from service.training.status import JobStatus

QUEUE_UNAVAILABLE = "the job queue is unavailable"
NOT_QUEUED = f"could not queue the job: {QUEUE_UNAVAILABLE}"

Dispatch = Callable[[str], None]


def new_job(model_type: str, hyperparams: BaseModel, kind: str = "train", engine: str = "numpy") -> TrainingJob:
    return TrainingJob.new(
        kind=kind, model_type=model_type, hyperparams=hyperparams.model_dump(mode="json"), engine=engine
    )


def retrain_jobs(active: ModelVersion | None) -> list[TrainingJob]:
    """Retrain what serves: the active version's type with its hyperparameters and engine
    (the default type with its defaults when nothing is active)."""
    model_type = active.model_type if active else DEFAULT_MODEL_TYPE
    return [
        TrainingJob.new(
            kind="retrain",
            model_type=model_type,
            hyperparams=retrain_hyperparams(model_type, active.hyperparams if active else None),
            engine=active.engine if active else "numpy",
        )
    ]


def _send(dispatch: Dispatch, job_ids: list[str]) -> tuple[list[str], QueueUnavailable | None]:
    """Send the jobs in order, up to the first the queue refuses: (the ids not sent, why)."""
    for position, job_id in enumerate(job_ids):
        try:
            dispatch(job_id)
        except QueueUnavailable as exc:
            return job_ids[position:], exc
    return [], None


def _not_queued(unsent: list[str]) -> Unavailable:
    which = f"job {unsent[0]} was" if len(unsent) == 1 else f"jobs {', '.join(unsent)} were"
    return Unavailable(f"{QUEUE_UNAVAILABLE}; {which} not queued (marked failed), retry later")


def _queue_after_commit(session: AsyncSession, dispatch: Dispatch, job_ids: list[str]) -> None:
    """Send the jobs to the queue only once their rows exist. If the queue is unavailable,
    say so (503) and fail the jobs not sent, so the client that gets the 503 knows
    nothing will run; the cause goes to the log (the dispatcher logs it), never to clients.
    A job the queue accepted but then lost is re-sent by the reaper."""

    async def send(committed: AsyncSession) -> None:
        unsent, cause = await asyncio.to_thread(_send, dispatch, job_ids)
        if unsent:
            await committed.execute(statements.fail_unqueued(unsent, NOT_QUEUED))
            await committed.commit()
            raise _not_queued(unsent) from cause

    after_commit(session, send)


async def create_training_job(
    session: AsyncSession, request: TrainRequest, dispatch: Dispatch, kind: str = "train"
) -> TrainingJob:
    job = new_job(request.model_type, request.hyperparams, kind, request.engine)
    session.add(job)
    await session.flush()
    _queue_after_commit(session, dispatch, [job.id])
    return job


async def create_retrain_jobs(session: AsyncSession, dispatch: Dispatch) -> list[TrainingJob]:
    jobs = retrain_jobs((await session.scalars(statements.active_version())).first())
    session.add_all(jobs)
    await session.flush()
    _queue_after_commit(session, dispatch, [job.id for job in jobs])
    return jobs


def queue_job(job: TrainingJob, dispatch: Dispatch) -> str:
    """``create_training_job`` for a caller without a request (the CLI): commit the row,
    then send it, under the same rule when the queue is unavailable."""
    with sync_session() as session:
        session.add(job)
        job_id = job.id
    unsent, cause = _send(dispatch, [job_id])
    if unsent:
        with sync_session() as session:
            session.execute(statements.fail_unqueued(unsent, NOT_QUEUED))
        raise _not_queued(unsent) from cause
    return job_id


def add_retrain_jobs() -> list[str]:
    """The scheduled retrain's rows, committed; the task sends them (a send that fails
    leaves its job queued, for the reaper to re-send).

    Nothing is added while a retrain is still queued or running: a tick delivered twice
    (the task is acknowledged late), a second beat, or a schedule shorter than a retrain
    then neither duplicates the work nor piles jobs up behind it."""
    with sync_session() as session:
        for statement in statements.lock_retrains(session.get_bind().dialect.name):
            session.execute(statement)
        if session.scalars(statements.pending_retrains()).first() is not None:
            return []
        jobs = retrain_jobs(session.scalars(statements.active_version()).first())
        session.add_all(jobs)
        return [job.id for job in jobs]


async def get_job(session: AsyncSession, job_id: str) -> TrainingJob:
    job = await session.get(TrainingJob, job_id)
    if job is None:
        raise NotFound(f"training job {job_id} not found", field="job_id")
    return job


async def recent_jobs(session: AsyncSession, limit: int) -> list[TrainingJob]:
    return list(
        (await session.scalars(select(TrainingJob).order_by(TrainingJob.created_at.desc()).limit(limit))).all()
    )


async def cancel_job(session: AsyncSession, job_id: str) -> TrainingJob:
    """A queued job is cancelled at once; a running one stops at its next epoch."""
    job = await get_job(session, job_id)
    if JobStatus(job.status).is_terminal:
        raise Conflict(f"job {job_id} already {job.status}", field="job_id")
    values: dict[str, object] = {"cancel_requested": True}
    if job.status == JobStatus.queued:
        values.update(status=JobStatus.cancelled, finished_at=utcnow(), error="cancelled before it started")
    await session.execute(update(TrainingJob).where(TrainingJob.id == job_id).values(**values))
    await session.refresh(job)
    return job
