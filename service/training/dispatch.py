"""Where training jobs go: a Celery queue on Redis, or a worker thread in this process."""

from __future__ import annotations

import logging
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from typing import Protocol

from celery import Celery

from service.core.config import Settings
from service.training.broker import FINISH_STUDY, RUN_TRIAL, TRAIN_MODEL, build_celery
from service.training.pipeline import run_training_job

log = logging.getLogger(__name__)


class QueueUnavailable(Exception):
    """The job could not be handed to the queue; the cause is logged, never shown."""


class JobDispatcher(Protocol):
    def dispatch(self, job_id: str) -> None:
        """Hand the job to a worker; raises QueueUnavailable when that is not possible."""
        ...

    def dispatch_trial(self, study_id: str) -> None:
        """Hand one trial of the study to a worker; raises QueueUnavailable."""
        ...

    def dispatch_finish(self, study_id: str) -> None:
        """Hand the retrain of the study's best trial to a worker; raises QueueUnavailable."""
        ...

    def broker_reachable(self) -> bool | None:
        """True/False for a broker, None when there is none to reach."""
        ...

    def shutdown(self) -> None: ...


class CeleryDispatcher:
    """Sends ``recsys.train_model(job_id)`` by name; every broker call is bounded by
    BROKER_TIMEOUT_SECONDS (socket timeouts and the publish retry policy live in
    service.training.broker), so an outage answers 503 in seconds instead of hanging.

    ``app``: a Celery app to send with (a worker's own); by default a client built from
    the settings."""

    def __init__(self, settings: Settings, app: Celery | None = None) -> None:
        self._app = app or build_celery(settings)
        self._timeout = settings.broker_timeout_seconds

    def dispatch(self, job_id: str) -> None:
        self._send(TRAIN_MODEL, job_id, "training job")

    def dispatch_trial(self, study_id: str) -> None:
        self._send(RUN_TRIAL, study_id, "trial of study")

    def dispatch_finish(self, study_id: str) -> None:
        self._send(FINISH_STUDY, study_id, "retrain of study")

    def _send(self, task: str, entity_id: str, what: str) -> None:
        try:
            # ignore_result: the job's truth is its row in PostgreSQL. Without it Celery
            # subscribes to the result channel first, retrying 20 times a second apart
            # when Redis is down, which is what made a 503 take 19 s.
            self._app.send_task(task, args=[entity_id], ignore_result=True, retry=True)
        except Exception as exc:
            log.warning("could not queue %s %s: %s: %s", what, entity_id, type(exc).__name__, exc)
            raise QueueUnavailable("the job queue is unavailable") from exc

    def broker_reachable(self) -> bool:
        try:
            with self._app.connection_for_write() as connection:
                # One attempt: the socket timeouts bound it, and /ready must answer fast.
                connection.ensure_connection(max_retries=0, timeout=self._timeout)
            return True
        except Exception as exc:  # any failure to connect means "not reachable"
            log.debug("broker not reachable: %s: %s", type(exc).__name__, exc)
            return False

    def shutdown(self) -> None:
        return None


class InProcessDispatcher:
    """The embedded default: one background thread runs jobs (and trials) in order.

    A job queued here dies with the process; the re-send upkeep (service.training.reaper)
    hands it to the new process's thread after a restart."""

    def __init__(self) -> None:
        self._executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="recsys-worker")
        self.pending: list[Future[object]] = []

    def dispatch(self, job_id: str) -> None:
        self._submit(run_training_job, job_id)

    def dispatch_trial(self, study_id: str) -> None:
        from service.tuning.runner import run_trial  # Optuna is imported when a study runs

        self._submit(run_trial, study_id, self.dispatch_finish)

    def dispatch_finish(self, study_id: str) -> None:
        from service.tuning.runner import finish_study

        # The retrain runs on this thread as the trials did, after any job queued before it.
        self._submit(finish_study, study_id, run_training_job)

    def _submit(self, function: Callable[..., object], *args: object) -> None:
        self.pending = [f for f in self.pending if not f.done()]
        try:
            self.pending.append(self._executor.submit(function, *args))
        except RuntimeError as exc:  # the executor is shutting down with the process
            raise QueueUnavailable("the job queue is shutting down") from exc

    def broker_reachable(self) -> None:
        return None

    def shutdown(self) -> None:
        self._executor.shutdown(wait=False, cancel_futures=True)


def build_dispatcher(settings: Settings) -> JobDispatcher:
    if settings.worker_mode == "celery":
        return CeleryDispatcher(settings)
    return InProcessDispatcher()
