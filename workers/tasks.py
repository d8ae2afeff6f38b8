"""Celery tasks. Each takes ids, re-reads the world and is safe to run twice."""

from __future__ import annotations

from sqlalchemy.exc import OperationalError

from workers import housekeeping, jobs, training
from workers.celery_app import celery_app


@celery_app.task(
    name="recsys.train_model",
    autoretry_for=(OperationalError,),
    retry_backoff=True,
    retry_backoff_max=60,
    max_retries=5,
)
def train_model(job_id: str) -> dict[str, object]:
    outcome = training.run_training_job(job_id)
    return {"job_id": outcome.job_id, "status": outcome.status, "model_version": outcome.model_version}


@celery_app.task(name="recsys.retrain_all")
def retrain_all() -> list[str]:
    """Queue one job per configured model type; never waits on them.

    A job whose send fails here stays queued, and the housekeeping re-sends it."""
    job_ids = jobs.create_retrain_jobs()
    for job_id in job_ids:
        train_model.delay(job_id)
    return job_ids


@celery_app.task(name="recsys.reap_stale_jobs")
def reap_stale_jobs() -> int:
    return housekeeping.reap_stale_jobs()


@celery_app.task(name="recsys.apply_retention")
def apply_retention() -> list[int]:
    from service.core.config import get_settings

    return training.apply_retention(get_settings().model_retention)
