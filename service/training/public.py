"""A training job as the API shows it."""

from __future__ import annotations

from datetime import UTC, datetime

from service.db.models import TrainingJob, utcnow
from service.schemas.ml import EpochPoint, JobPublic
from service.training.status import JobStatus


def to_public(job: TrainingJob) -> JobPublic:
    history = [EpochPoint.model_validate(p) for p in job.history or []]
    duration = None
    if job.started_at is not None:
        end = job.finished_at or utcnow()
        duration = (_aware(end) - _aware(job.started_at)).total_seconds()
    eta = None
    if job.status == JobStatus.running and duration is not None and 0 < job.progress < 1:
        eta = duration * (1 - job.progress) / job.progress
    return JobPublic(
        id=job.id,
        kind=job.kind,  # type: ignore[arg-type]
        model_type=job.model_type,
        hyperparams=job.hyperparams,
        engine=job.engine,  # type: ignore[arg-type]
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


def _aware(value: datetime) -> datetime:
    # SQLite hands back naive datetimes for timezone-aware columns.
    return value if value.tzinfo else value.replace(tzinfo=UTC)
