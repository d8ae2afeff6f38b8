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
    timeout = settings.broker_timeout_seconds
    app.conf.update(
        include=["workers.tasks"],
        task_default_queue=TRAINING_QUEUE,
        # A job is acknowledged only when it finished; a killed worker's job comes back,
        # which is safe because train_model claims its job row atomically.
        task_acks_late=True,
        task_reject_on_worker_lost=True,
        worker_prefetch_multiplier=1,
        # Every Redis call is bounded: a stopped or hung broker makes a publish fail in
        # about BROKER_TIMEOUT_SECONDS (the API answers 503) instead of blocking forever.
        # The socket timeout stays above kombu's 1 s BRPOP poll (see the setting's floor).
        broker_transport_options={
            "visibility_timeout": settings.visibility_timeout_seconds,
            "socket_connect_timeout": timeout,
            "socket_timeout": timeout,
        },
        broker_connection_timeout=timeout,
        broker_connection_retry_on_startup=True,
        # One quick retry covers a connection Redis dropped while it restarted.
        task_publish_retry_policy={"max_retries": 1, "interval_start": 0.2, "interval_step": 0.2, "interval_max": 0.5},
        # The job's truth is its row in PostgreSQL; nothing reads Celery results. Storing
        # them (STARTED before the body even runs) turned a Redis blip into "Exception
        # raised outside body" and a lost message, so workers store none.
        task_ignore_result=True,
        task_track_started=False,
        redis_socket_connect_timeout=timeout,
        redis_socket_timeout=timeout,
        result_backend_transport_options={
            "retry_policy": {"max_retries": 1, "interval_start": 0, "interval_step": 0.5, "interval_max": 0.5}
        },
        result_expires=24 * 3600,
        timezone="UTC",
        beat_schedule={
            "retrain-all": {"task": "recsys.retrain_all", "schedule": _cron(settings.retrain_schedule)},
            "reap-stale-jobs": {"task": "recsys.reap_stale_jobs", "schedule": 60.0},
        },
    )
    return app


celery_app = create_celery()
