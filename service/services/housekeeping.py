"""Background upkeep in every API process: fail jobs whose worker died.

The job's truth lives in the database; a worker killed mid-training stops sending
heartbeats, and whichever API process notices first marks the job failed with the reason.
"""

from __future__ import annotations

import asyncio
import logging
from datetime import timedelta

from sqlalchemy.ext.asyncio import async_sessionmaker

from service.core.config import Settings
from service.db import statements
from service.db.models import utcnow

log = logging.getLogger(__name__)


async def reap_stale_jobs(sessions: async_sessionmaker, stale_seconds: float) -> int:
    async with sessions() as session:
        cutoff = utcnow() - timedelta(seconds=stale_seconds)
        reaped = (await session.execute(statements.fail_stale_jobs(cutoff, stale_seconds))).rowcount
        await session.commit()
    if reaped:
        log.warning("marked %d stale training job(s) failed", reaped)
    return reaped


async def housekeeping_forever(sessions: async_sessionmaker, settings: Settings) -> None:
    interval = max(1.0, min(30.0, settings.job_stale_seconds / 4))
    while True:
        try:
            await reap_stale_jobs(sessions, settings.job_stale_seconds)
        except Exception as exc:  # the database may be restarting; try again next tick
            log.warning("housekeeping failed: %s", exc)
        await asyncio.sleep(interval)
