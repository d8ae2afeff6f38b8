"""The Celery application: the service's broker client (service.training.broker) plus
what a worker needs for long idempotent jobs, and the beat schedule."""

from __future__ import annotations

from celery import Celery

from service.core.config import get_settings
from service.core.schedules import retrain_schedule
from service.training.broker import REAP_STALE_JOBS, RETRAIN_ALL, TUNE_SCHEDULED, build_celery


def create_celery() -> Celery:
    settings = get_settings()
    app = build_celery(settings, set_as_current=True)
    schedule = {
        "retrain-all": {"task": RETRAIN_ALL, "schedule": retrain_schedule(settings.retrain_schedule)},
        "reap-stale-jobs": {"task": REAP_STALE_JOBS, "schedule": settings.reaper_interval_seconds},
    }
    if settings.tune_schedule:  # off by default: a search costs many trainings
        # The budget travels with the tick: the schedule's settings are beat's.
        schedule["tune"] = {"task": TUNE_SCHEDULED, "schedule": retrain_schedule(settings.tune_schedule, "TUNE_SCHEDULE"),
                            "args": [settings.tune_schedule_trials]}
    app.conf.update(
        include=["workers.tasks"],
        # A job is acknowledged only when it finished; a killed worker's job comes back,
        # which is safe because train_model claims its job row atomically.
        task_acks_late=True,
        task_reject_on_worker_lost=True,
        worker_prefetch_multiplier=1,
        beat_schedule=schedule,
    )
    return app


celery_app = create_celery()
