"""Training jobs from the API side: create (dispatched after commit), read, cancel."""

from __future__ import annotations

import asyncio
from collections.abc import Callable

from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession

from service.core.errors import Conflict, NotFound, Unavailable
from service.core.model_types import MODEL_TYPES, retrain_hyperparams
from service.db import statements
from service.db.hooks import after_commit
from service.db.models import TrainingJob, utcnow
from service.queue import QueueUnavailable
from service.schemas.ml import EpochPoint, JobPublic, TrainRequest

QUEUE_UNAVAILABLE = "the job queue is unavailable"


def _queue_after_commit(session: AsyncSession, dispatch: Callable[[str], None], job_ids: list[str]) -> None:
    """Send the jobs to the queue only once their rows exist. If the queue is unavailable,
    say so (503) and fail the jobs not sent, so the client that gets the 503 knows
    nothing will run; the cause goes to the log (the dispatcher logs it), never to clients.
    A job the queue accepted but then lost is re-sent by the housekeeping."""

    async def send(committed: AsyncSession) -> None:
        for position, job_id in enumerate(job_ids):
            try:
                await asyncio.to_thread(dispatch, job_id)
            except QueueUnavailable as exc:
                unsent = job_ids[position:]
                await committed.execute(
                    update(TrainingJob)
                    .where(TrainingJob.id.in_(unsent), TrainingJob.status == "queued")
                    .values(status="failed", finished_at=utcnow(), error=f"could not queue the job: {QUEUE_UNAVAILABLE}")
                )
                await committed.commit()
                which = f"job {unsent[0]} was" if len(unsent) == 1 else f"jobs {', '.join(unsent)} were"
                raise Unavailable(f"{QUEUE_UNAVAILABLE}; {which} not queued (marked failed), retry later") from exc

    after_commit(session, send)


async def create_training_job(
    session: AsyncSession, request: TrainRequest, dispatch: Callable[[str], None], kind: str = "train"
) -> TrainingJob:
    job = TrainingJob.new(
        kind=kind, model_type=request.model_type, hyperparams=request.hyperparams.model_dump(mode="json")
    )
    session.add(job)
    await session.flush()
    _queue_after_commit(session, dispatch, [job.id])
    return job


async def create_retrain_jobs(session: AsyncSession, dispatch: Callable[[str], None]) -> list[TrainingJob]:
    active = (await session.scalars(statements.active_version())).first()
    jobs = [
        TrainingJob.new(
            kind="retrain",
            model_type=model_type,
            hyperparams=retrain_hyperparams(
                model_type, active.model_type if active else None, active.hyperparams if active else None
            ),
        )
        for model_type in MODEL_TYPES
    ]
    session.add_all(jobs)
    await session.flush()
    _queue_after_commit(session, dispatch, [job.id for job in jobs])
    return jobs


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
    if job.status in ("succeeded", "failed", "cancelled"):
        raise Conflict(f"job {job_id} already {job.status}", field="job_id")
    values: dict[str, object] = {"cancel_requested": True}
    if job.status == "queued":
        values.update(status="cancelled", finished_at=utcnow(), error="cancelled before it started")
    await session.execute(update(TrainingJob).where(TrainingJob.id == job_id).values(**values))
    await session.refresh(job)
    return job


def to_public(job: TrainingJob) -> JobPublic:
    history = [EpochPoint.model_validate(p) for p in job.history or []]
    duration = None
    if job.started_at is not None:
        end = job.finished_at or utcnow()
        duration = (_aware(end) - _aware(job.started_at)).total_seconds()
    eta = None
    if job.status == "running" and duration is not None and 0 < job.progress < 1:
        eta = duration * (1 - job.progress) / job.progress
    return JobPublic(
        id=job.id,
        kind=job.kind,  # type: ignore[arg-type]
        model_type=job.model_type,
        hyperparams=job.hyperparams,
        status=job.status,  # type: ignore[arg-type]
        progress=job.progress,
        current_epoch=job.current_epoch,
        total_epochs=job.total_epochs,
        history=history,
        error=job.error,
        model_version=job.model_version,
        cancel_requested=job.cancel_requested,
        attempts=job.attempts,
        created_at=job.created_at,
        started_at=job.started_at,
        finished_at=job.finished_at,
        duration_seconds=duration,
        eta_seconds=eta,
    )


def _aware(value):
    # SQLite hands back naive datetimes for timezone-aware columns.
    from datetime import UTC

    return value if value.tzinfo else value.replace(tzinfo=UTC)
