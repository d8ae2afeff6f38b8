"""Upkeep of jobs the queue failed, run by every API process (async) and by the worker
at start-up and Celery beat (sync): fail jobs whose worker died, and re-send queued jobs
that no worker claimed.

The job's truth lives in the database. A worker killed mid-training stops sending
heartbeats, and whichever process notices first marks the job failed with the reason.
A queued job whose message never reached a worker (Redis restarted empty, or the process
holding the in-process queue died) is sent again each time JOB_QUEUE_TIMEOUT_SECONDS pass
without a claim, for JOB_QUEUE_RESENDS timeouts (and at least once, however old it is);
the task claims its row atomically, so a duplicate delivery is harmless. A job whose
last re-send went unclaimed for a timeout after that, while no worker is busy, is failed
with the reason. While the queue itself is down the job stays queued and says so, and
goes out as soon as the queue is back.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import Select, Update
from sqlalchemy.ext.asyncio import async_sessionmaker

from service.core.config import Settings
from service.db import statements
from service.db.models import utcnow
from service.db.session import sync_session
from service.training.dispatch import CeleryDispatcher, QueueUnavailable

log = logging.getLogger(__name__)

QUEUE_UNAVAILABLE_RESENDING = "the job queue is unavailable; the job will be re-sent"

Dispatch = Callable[[str], None]


@dataclass(frozen=True)
class QueuePolicy:
    """When a queued job is due for a re-send, and when it is given up on."""

    sent_before: datetime  # jobs last sent before this are due (also: workers idle since)
    give_up_before: datetime  # jobs created before this get no more re-sends, only a failure
    stale_before: datetime  # a running job beating since this keeps its worker busy
    reason: str

    @classmethod
    def at(cls, now: datetime, settings: Settings) -> QueuePolicy:
        timeout = settings.job_queue_timeout_seconds
        window = timeout * (settings.job_queue_resends + 1)
        return cls(
            sent_before=now - timedelta(seconds=timeout),
            give_up_before=now - timedelta(seconds=window),
            stale_before=now - timedelta(seconds=settings.job_stale_seconds),
            reason=(
                f"no worker picked the job up within {window:.0f} s, though it was re-sent to the job queue; "
                "check that a worker is running, then train again"
            ),
        )

    def fail_unclaimed(self) -> Update:
        return statements.fail_unclaimed_jobs(self.give_up_before, self.sent_before, self.stale_before, self.reason)

    def due(self) -> Select[tuple[str]]:
        return statements.unclaimed_jobs(self.sent_before, self.give_up_before)


def _stale(settings: Settings) -> Update:
    seconds = settings.job_stale_seconds
    return statements.fail_stale_jobs(utcnow() - timedelta(seconds=seconds), seconds)


def _log_reaped(reaped: int) -> None:
    if reaped:
        log.warning("marked %d stale training job(s) failed", reaped)


def _log_failed(failed: int, policy: QueuePolicy) -> None:
    if failed:
        log.warning("marked %d queued training job(s) failed: %s", failed, policy.reason)


def _log_resent(job_id: str, settings: Settings) -> None:
    log.warning("re-sent training job %s: no worker claimed it within %.0f s", job_id,
                settings.job_queue_timeout_seconds)


# In an API process: async sessions, the dispatcher the process sends with.


async def reap_stale_jobs(sessions: async_sessionmaker, settings: Settings) -> int:
    async with sessions() as session:
        reaped = (await session.execute(_stale(settings))).rowcount
        await session.commit()
    _log_reaped(reaped)
    return reaped


async def resend_unclaimed_jobs(sessions: async_sessionmaker, dispatch: Dispatch, settings: Settings) -> int:
    """Re-send the queued jobs that are due; fail those past the last re-send. Returns
    how many were re-sent."""
    policy = QueuePolicy.at(utcnow(), settings)
    async with sessions() as session:
        failed = (await session.execute(policy.fail_unclaimed())).rowcount
        due = list(await session.scalars(policy.due()))
        await session.commit()
    _log_failed(failed, policy)
    resent = 0
    for job_id in due:
        async with sessions() as session:
            # Several processes run this upkeep; only the one whose update lands sends.
            taken = (await session.execute(statements.mark_resent(job_id, policy.sent_before))).rowcount
            await session.commit()
        if not taken:
            continue
        try:
            await asyncio.to_thread(dispatch, job_id)
        except QueueUnavailable:
            async with sessions() as session:
                await session.execute(statements.resend_failed(job_id, QUEUE_UNAVAILABLE_RESENDING))
                await session.commit()
            break  # the others would wait for the same timeout; try again next tick
        _log_resent(job_id, settings)
        resent += 1
    return resent


def tick_seconds(settings: Settings) -> float:
    return max(1.0, min(30.0, settings.job_stale_seconds / 4, settings.job_queue_timeout_seconds / 4))


async def reap_forever(
    sessions: async_sessionmaker, settings: Settings, dispatch: Dispatch, dispatch_finish: Dispatch | None = None,
) -> None:
    """Runs at start-up too, so jobs a previous process left queued are picked up.
    With ``dispatch_finish``, studies are kept moving too (service.tuning.runner.upkeep)."""
    interval = tick_seconds(settings)
    while True:
        try:
            await reap_stale_jobs(sessions, settings)
            await resend_unclaimed_jobs(sessions, dispatch, settings)
            if dispatch_finish is not None:
                await asyncio.to_thread(_tuning_upkeep, dispatch_finish)
        except Exception as exc:  # the database may be restarting; try again next tick
            log.warning("housekeeping failed: %s", exc)
        await asyncio.sleep(interval)


# In a Celery worker or beat: sync sessions, sending through Celery.


def _tuning_upkeep(dispatch_finish: Dispatch) -> None:
    from service.tuning.runner import upkeep  # Optuna loads only where studies are kept

    upkeep(dispatch_finish)


def reap_now(settings: Settings, dispatch: Dispatch | None = None, dispatch_finish: Dispatch | None = None) -> int:
    """Fail stale jobs, then (in celery mode) re-send the unclaimed ones and keep
    studies moving; returns how many jobs were failed as stale."""
    with sync_session() as session:
        reaped = session.execute(_stale(settings)).rowcount
    _log_reaped(reaped)
    if settings.worker_mode == "celery":
        _resend_unclaimed_now(dispatch or CeleryDispatcher(settings).dispatch, settings)
        _tuning_upkeep(dispatch_finish or CeleryDispatcher(settings).dispatch_finish)
    return reaped


def _resend_unclaimed_now(dispatch: Dispatch, settings: Settings) -> int:
    policy = QueuePolicy.at(utcnow(), settings)
    with sync_session() as session:
        failed = session.execute(policy.fail_unclaimed()).rowcount
        due = list(session.scalars(policy.due()))
    _log_failed(failed, policy)
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
        _log_resent(job_id, settings)
        resent += 1
    return resent
