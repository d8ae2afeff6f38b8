"""The Celery application: Redis broker and backend, settings for long idempotent jobs."""

from __future__ import annotations

from celery import Celery
from celery.schedules import crontab

from service.core.config import get_settings

TRAINING_QUEUE = "training"


def _cron(expression: str) -> crontab:
    minute, hour, day_of_month, month_of_year, day_of_week = expression.split()
    return crontab(
        minute=minute,
        hour=hour,
        day_of_month=day_of_month,
        month_of_year=month_of_year,
        day_of_week=day_of_week,
    )


def create_celery() -> Celery:
    settings = get_settings()
    app = Celery("recsys", broker=settings.redis_url, backend=settings.redis_url)
    app.conf.update(
        include=["workers.tasks"],
        task_default_queue=TRAINING_QUEUE,
        # A job is acknowledged only when it finished; a killed worker's job comes back,
        # which is safe because train_model claims its job row atomically.
        task_acks_late=True,
        task_reject_on_worker_lost=True,
        worker_prefetch_multiplier=1,
        broker_transport_options={"visibility_timeout": settings.visibility_timeout_seconds},
        broker_connection_retry_on_startup=True,
        task_track_started=True,
        result_expires=24 * 3600,
        timezone="UTC",
        beat_schedule={
            "retrain-all": {"task": "recsys.retrain_all", "schedule": _cron(settings.retrain_schedule)},
            "reap-stale-jobs": {"task": "recsys.reap_stale_jobs", "schedule": 60.0},
        },
    )
    return app


celery_app = create_celery()
