"""Jobs whose worker died: a running job that stopped sending heartbeats is failed."""

from __future__ import annotations

import logging
from datetime import timedelta

from sqlalchemy import update

from service.core.config import get_settings
from service.db.models import TrainingJob, utcnow
from service.db.session import sync_session

log = logging.getLogger(__name__)


def reap_stale_jobs(stale_seconds: float | None = None) -> int:
    seconds = get_settings().job_stale_seconds if stale_seconds is None else stale_seconds
    cutoff = utcnow() - timedelta(seconds=seconds)
    with sync_session() as session:
        reaped = session.execute(
            update(TrainingJob)
            .where(TrainingJob.status == "running", TrainingJob.heartbeat_at < cutoff)
            .values(
                status="failed",
                finished_at=utcnow(),
                error=f"worker lost: no progress reported for more than {seconds:.0f} s",
            )
        ).rowcount
    if reaped:
        log.warning("marked %d stale training job(s) failed", reaped)
    return reaped
