"""Jobs the queue failed: a running job whose worker died is failed, and a queued job no
worker claimed is re-sent, then failed (the same rules as service.services.housekeeping,
run by Celery beat and at worker start-up)."""

from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import timedelta

from service.core.config import get_settings
from service.db import statements
from service.db.models import utcnow
from service.db.session import sync_session
from service.queue import CeleryDispatcher, QueueUnavailable
from service.services.housekeeping import QUEUE_UNAVAILABLE_RESENDING, QueuePolicy

log = logging.getLogger(__name__)


def reap_stale_jobs(stale_seconds: float | None = None, dispatch: Callable[[str], None] | None = None) -> int:
    settings = get_settings()
    seconds = settings.job_stale_seconds if stale_seconds is None else stale_seconds
    cutoff = utcnow() - timedelta(seconds=seconds)
    with sync_session() as session:
        reaped = session.execute(statements.fail_stale_jobs(cutoff, seconds)).rowcount
    if reaped:
        log.warning("marked %d stale training job(s) failed", reaped)
    if settings.worker_mode == "celery":
        resend_unclaimed_jobs(dispatch or CeleryDispatcher(settings).dispatch)
    return reaped


def resend_unclaimed_jobs(dispatch: Callable[[str], None]) -> int:
    settings = get_settings()
    policy = QueuePolicy.at(utcnow(), settings)
    with sync_session() as session:
        failed = session.execute(policy.fail_unclaimed()).rowcount
        due = list(session.scalars(policy.due()))
    if failed:
        log.warning("marked %d queued training job(s) failed: %s", failed, policy.reason)
    resent = 0
    for job_id in due:
        with sync_session() as session:
            taken = session.execute(statements.mark_resent(job_id, policy.sent_before)).rowcount
        if not taken:  # an API process or another beat got there first
            continue
        try:
            dispatch(job_id)
        except QueueUnavailable:
            with sync_session() as session:
                session.execute(statements.resend_failed(job_id, QUEUE_UNAVAILABLE_RESENDING))
            break
        log.warning("re-sent training job %s: no worker claimed it within %.0f s", job_id,
                    settings.job_queue_timeout_seconds)
        resent += 1
    return resent
