"""Celery tasks. Each takes ids, calls into service.training and is safe to run twice."""

from __future__ import annotations

from sqlalchemy.exc import OperationalError

from service.core.config import get_settings
from service.training import broker, jobs, pipeline, reaper, retention
from service.training.dispatch import CeleryDispatcher
from service.tuning import runner, scheduled
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


@celery_app.task(name=broker.RUN_TRIAL, autoretry_for=(OperationalError,), retry_backoff=True, max_retries=5)
def run_trial(study_id: str) -> str:
    """One trial of the study (or nothing, once its budget is spent or it was cancelled)."""
    return runner.run_trial(study_id, CeleryDispatcher(get_settings(), celery_app).dispatch_finish)


@celery_app.task(name=broker.FINISH_STUDY, autoretry_for=(OperationalError,), retry_backoff=True, max_retries=5)
def finish_study(study_id: str) -> str | None:
    """Retrain the study's best trial as a normal training job, run here."""
    return runner.finish_study(study_id, pipeline.run_training_job)


@celery_app.task(name=broker.TUNE_SCHEDULED)
def tune_scheduled(n_trials: int | None = None) -> str | None:
    """TUNE_SCHEDULE's study of the active type (``n_trials``: beat's TUNE_SCHEDULE_TRIALS);
    never waits on it."""
    settings = get_settings()
    return scheduled.start_scheduled_study(settings, CeleryDispatcher(settings, celery_app).dispatch_trial, n_trials)
