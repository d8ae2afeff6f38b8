"""Celery tasks. Each takes ids, calls into service.training and is safe to run twice."""

from __future__ import annotations

from sqlalchemy.exc import OperationalError

from service.core.config import get_settings
from service.training import broker, jobs, pipeline, reaper, retention
from service.training.dispatch import CeleryDispatcher
from workers.celery_app import celery_app


@celery_app.task(
    name=broker.TRAIN_MODEL,
    autoretry_for=(OperationalError,),
    retry_backoff=True,
    retry_backoff_max=60,
    max_retries=5,
)
def train_model(job_id: str) -> dict[str, object]:
    outcome = pipeline.run_training_job(job_id)
    return {"job_id": outcome.job_id, "status": outcome.status, "model_version": outcome.model_version}


@celery_app.task(name=broker.RETRAIN_ALL)
def retrain_all() -> list[str]:
    """Queue one job per configured model type; never waits on them.

    A job whose send fails here stays queued, and the reaper re-sends it."""
    job_ids = jobs.add_retrain_jobs()
    for job_id in job_ids:
        train_model.delay(job_id)
    return job_ids


@celery_app.task(name=broker.REAP_STALE_JOBS)
def reap_stale_jobs() -> int:
    settings = get_settings()
    return reaper.reap_now(settings, CeleryDispatcher(settings, celery_app).dispatch)


@celery_app.task(name=broker.APPLY_RETENTION)
def apply_retention() -> list[int]:
    return retention.apply_retention(get_settings().model_retention)
