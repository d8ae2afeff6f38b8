"""Jobs whose worker died: a running job that stopped sending heartbeats is failed."""

from __future__ import annotations

import logging
from datetime import timedelta

from service.core.config import get_settings
from service.db import statements
from service.db.models import utcnow
from service.db.session import sync_session

log = logging.getLogger(__name__)


def reap_stale_jobs(stale_seconds: float | None = None) -> int:
    seconds = get_settings().job_stale_seconds if stale_seconds is None else stale_seconds
    cutoff = utcnow() - timedelta(seconds=seconds)
    with sync_session() as session:
        reaped = session.execute(statements.fail_stale_jobs(cutoff, seconds)).rowcount
    if reaped:
        log.warning("marked %d stale training job(s) failed", reaped)
    return reaped
