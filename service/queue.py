"""Where training jobs go: a Celery queue on Redis, or a worker thread in this process."""

from __future__ import annotations

import logging
from concurrent.futures import Future, ThreadPoolExecutor
from typing import Protocol

from service.core.config import Settings

log = logging.getLogger(__name__)


class JobDispatcher(Protocol):
    def dispatch(self, job_id: str) -> None: ...

    def broker_reachable(self) -> bool | None:
        """True/False for a broker, None when there is none to reach."""
        ...

    def shutdown(self) -> None: ...


class CeleryDispatcher:
    def __init__(self) -> None:
        from workers.celery_app import celery_app

        self._app = celery_app

    def dispatch(self, job_id: str) -> None:
        self._app.send_task(
            "recsys.train_model",
            args=[job_id],
            retry=True,
            retry_policy={"max_retries": 2, "interval_start": 0.2, "interval_step": 0.5},
        )

    def broker_reachable(self) -> bool:
        try:
            with self._app.connection_for_write() as connection:
                connection.ensure_connection(max_retries=1, timeout=1)
            return True
        except Exception:  # any failure to connect means "not reachable"
            return False

    def shutdown(self) -> None:
        return None


class InProcessDispatcher:
    """The embedded default: one background thread runs jobs in order."""

    def __init__(self) -> None:
        self._executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="recsys-worker")
        self.pending: list[Future[object]] = []

    def dispatch(self, job_id: str) -> None:
        from workers.training import run_training_job

        self.pending = [f for f in self.pending if not f.done()]
        self.pending.append(self._executor.submit(run_training_job, job_id))

    def broker_reachable(self) -> None:
        return None

    def shutdown(self) -> None:
        self._executor.shutdown(wait=False, cancel_futures=True)


def build_dispatcher(settings: Settings) -> JobDispatcher:
    if settings.worker_mode == "celery":
        return CeleryDispatcher()
    return InProcessDispatcher()
