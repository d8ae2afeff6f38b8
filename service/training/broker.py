"""The Celery client the service sends tasks with, by name: it never imports the tasks.

The worker's app (workers/celery_app.py) is built on this one, so both talk to Redis
with the same bounds."""

from __future__ import annotations

from celery import Celery

from service.core.config import Settings

TRAINING_QUEUE = "training"

# The tasks workers/tasks.py defines under these names.
TRAIN_MODEL = "recsys.train_model"
RETRAIN_ALL = "recsys.retrain_all"
REAP_STALE_JOBS = "recsys.reap_stale_jobs"
APPLY_RETENTION = "recsys.apply_retention"
RUN_TRIAL = "recsys.run_trial"
FINISH_STUDY = "recsys.finish_study"
TUNE_SCHEDULED = "recsys.tune_scheduled"


def build_celery(settings: Settings, *, set_as_current: bool = False) -> Celery:
    app = Celery("recsys", broker=settings.redis_url, backend=settings.redis_url, set_as_current=set_as_current)
    timeout = settings.broker_timeout_seconds
    app.conf.update(
        task_default_queue=TRAINING_QUEUE,
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
    )
    return app
