"""The active model, held in memory by each API process and kept in step with the database.

Every process polls the active version (one indexed query a second by default), so an
activation by any replica or worker reaches all of them without a restart. An artifact
whose checksum does not match is refused and the model already loaded keeps serving.
"""

from __future__ import annotations

import asyncio
import hashlib
import logging
from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.ext.asyncio import async_sessionmaker

from recsys_core.recommender import Recommender
from recsys_core.types import load_model
from service.db import statements
from service.db.models import ModelArtifact

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class LoadedModel:
    version: int
    model: Recommender
    holdout_rmse: float | None

    @property
    def model_type(self) -> str:
        return self.model.model_type


class ArtifactRejected(Exception):
    pass


class ModelRegistry:
    def __init__(self, sessions: async_sessionmaker) -> None:
        self._sessions = sessions
        self.current: LoadedModel | None = None
        self.active_version_in_db: int | None = None
        self.last_error: str | None = None
        self._lock = asyncio.Lock()

    async def refresh(self) -> LoadedModel | None:
        async with self._lock:
            async with self._sessions() as session:
                active = (await session.scalars(statements.active_version())).first()
                self.active_version_in_db = active.version if active else None
                if active is None:
                    self.current = None
                    return None
                if self.current is not None and self.current.version == active.version:
                    self.last_error = None
                    return self.current
                artifact = (
                    await session.scalars(
                        select(ModelArtifact).where(ModelArtifact.version == active.version)
                    )
                ).first()
                expected = active.artifact_checksum
                holdout = active.holdout_rmse
            if artifact is None:
                self.last_error = f"version {active.version} has no artifact"
                return self.current
            try:
                model = await asyncio.to_thread(_verified_model, artifact.data, expected)
            except Exception as exc:
                self.last_error = f"version {active.version} refused: {exc}"
                log.error("%s; keeping version %s", self.last_error,
                          self.current.version if self.current else None)
                return self.current
            async with self._sessions() as session:
                still = (await session.scalars(statements.active_version())).first()
            if still is None or still.version != active.version:
                # Another version was activated while this one loaded: installing it now
                # would serve a version that is no longer active until the next poll.
                return self.current
            self.current = LoadedModel(active.version, model, holdout)
            self.last_error = None
            log.info("serving model version %s", active.version)
            return self.current

    async def catch_up(self) -> bool:
        """Check the active version now rather than at the next poll, and load it if it
        moved on: True when a different model is now loaded. A request about to refuse
        (no model yet, or one that cannot answer) asks this first, so a version another
        process activated a moment ago answers it instead of a 503."""
        before = self.current
        try:
            await self.refresh()
        except Exception as exc:  # the database is away: the refusal stands, as it would have
            log.warning("active version check failed: %s", exc)
        return self.current is not before

    async def poll_forever(self, interval: float) -> None:
        while True:
            try:
                await self.refresh()
            except Exception as exc:  # the database may be restarting; try again next tick
                self.last_error = f"refresh failed: {type(exc).__name__}"
                log.warning("model refresh failed: %s", exc)
            await asyncio.sleep(interval)


def _verified_model(data: bytes, expected_checksum: str) -> Recommender:
    actual = hashlib.sha256(data).hexdigest()
    if actual != expected_checksum:
        raise ArtifactRejected(f"artifact checksum {actual[:12]}… does not match {expected_checksum[:12]}…")
    return load_model(data)
