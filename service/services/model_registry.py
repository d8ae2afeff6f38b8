"""The active model, and the versions the running experiment's arms serve, held in
memory by each API process and kept in step with the database.

Every process polls the active version (one indexed query a second by default), so an
activation by any replica or worker reaches all of them without a restart. The same
poll reads the running experiment (one more query): its arms' versions are loaded
before the experiment is installed, so no request is ever routed to an arm whose model
this process does not hold. An artifact whose checksum does not match is refused and
the model already loaded keeps serving (and an experiment needing it is not started here).
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
from service.db.models import ModelArtifact, ModelVersion
from service.services.experiment_store import running_experiment
from service.serving.assignment import RunningExperiment

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
        self.experiment: RunningExperiment | None = None  # installed only once its arms' models are loaded
        self.arms: dict[int, LoadedModel] = {}  # by version: every version an arm of the experiment serves
        self.active_version_in_db: int | None = None
        self.last_error: str | None = None
        self._lock = asyncio.Lock()

    def model(self, version: int) -> LoadedModel | None:
        """A version this process holds: the active one or an arm's."""
        current = self.current
        if current is not None and current.version == version:
            return current
        return self.arms.get(version)

    async def refresh(self) -> LoadedModel | None:
        async with self._lock:
            current = await self._refresh_active()
            await self._refresh_experiment()
            return current

    async def _refresh_experiment(self) -> None:
        async with self._sessions() as session:
            running = await running_experiment(session)
            if running is None:
                self.experiment, self.arms = None, {}
                return
            if running == self.experiment:
                return
            held = {v: m for v in running.versions() if (m := self.model(v)) is not None}
            missing = sorted(running.versions() - set(held))
            rows = (await session.execute(
                select(ModelVersion.version, ModelVersion.artifact_checksum, ModelVersion.holdout_rmse,
                       ModelArtifact.data)
                .join(ModelArtifact, ModelArtifact.version == ModelVersion.version)
                .where(ModelVersion.version.in_(missing))
            )).all() if missing else []
        found = {version: (checksum, holdout, data) for version, checksum, holdout, data in rows}
        for version in missing:
            if version not in found:
                self.last_error = f"experiment {running.id}: version {version} has no artifact"
                return
            checksum, holdout, data = found[version]
            try:
                model = await asyncio.to_thread(_verified_model, data, checksum)
            except Exception as exc:
                self.last_error = f"experiment {running.id}: version {version} refused: {exc}"
                log.error("%s; the experiment is not served by this process", self.last_error)
                return
            held[version] = LoadedModel(version, model, holdout)
        self.arms, self.experiment = held, running
        log.info("serving experiment %s (arms: %s)", running.id, ", ".join(a.name for a in running.arms))

    async def _refresh_active(self) -> LoadedModel | None:
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
