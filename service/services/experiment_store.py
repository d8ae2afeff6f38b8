"""Experiments as stored: the running one as serving needs it, and what users did in it.

Exposures are written by the recommendation request that served them (one INSERT, only
for users in an experiment, only when the list was computed rather than cached: a cached
list was computed, and recorded, by this process before). Ratings and hits are written
in the rating's own transaction (see realtime.py), so an accepted rating is counted
exactly once and a refused one not at all.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import insert, select, tuple_, update
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from service.db.models import (
    Experiment,
    ExperimentArm,
    ExperimentExposure,
    ExperimentRating,
    ExperimentStatus,
    utcnow,
)
from service.db.transaction import transaction
from service.schemas.ml import RecommendationsResponse
from service.serving.assignment import Arm, RunningExperiment


@dataclass(frozen=True)
class Outcome:
    """One accepted rating by a user of an arm, with the arm's prediction before it."""

    arm: str
    user_id: int
    movie_id: int
    predicted: float | None
    actual: float


async def running_experiment(session: AsyncSession) -> RunningExperiment | None:
    row = (await session.scalars(
        select(Experiment).where(Experiment.status == ExperimentStatus.running.value)
    )).first()
    if row is None:
        return None
    arms = (await session.scalars(
        select(ExperimentArm).where(ExperimentArm.experiment_id == row.id).order_by(ExperimentArm.position)
    )).all()
    return RunningExperiment(
        row.id, row.name, row.salt, row.coverage,
        tuple(Arm(a.name, a.model_version, a.fallback, a.share) for a in arms),
    )


async def record_exposures(
    session: AsyncSession, experiment_id: int, arm: str, user_id: int, movie_ids: Sequence[int]
) -> None:
    """The movies an arm listed for a user; a pair already recorded keeps its first time."""
    if not movie_ids:
        return
    dialect = session.bind.dialect.name
    statement = (pg_insert if dialect == "postgresql" else sqlite_insert)(ExperimentExposure)
    now = utcnow()
    await session.execute(statement.on_conflict_do_nothing(), [
        {"experiment_id": experiment_id, "user_id": user_id, "movie_id": m, "arm": arm, "served_at": now}
        for m in movie_ids
    ])


async def record_outcomes(
    session: AsyncSession, experiment_id: int, outcomes: Sequence[Outcome], *,
    threshold: float, window_seconds: float, now: datetime,
) -> None:
    """Each rating, and the hit it makes: an exposure of the movie to the user, served
    within the window before now and not hit yet, rated at or above the threshold."""
    if not outcomes:
        return
    await session.execute(insert(ExperimentRating), [
        {"experiment_id": experiment_id, "arm": o.arm, "user_id": o.user_id, "movie_id": o.movie_id,
         "predicted": o.predicted, "actual": o.actual, "created_at": now}
        for o in outcomes
    ])
    liked = sorted({(o.user_id, o.movie_id) for o in outcomes if o.actual >= threshold})
    if liked:
        await session.execute(
            update(ExperimentExposure)
            .where(
                ExperimentExposure.experiment_id == experiment_id,
                tuple_(ExperimentExposure.user_id, ExperimentExposure.movie_id).in_(liked),
                ExperimentExposure.hit_at.is_(None),
                ExperimentExposure.served_at >= now - timedelta(seconds=window_seconds),
            )
            .values(hit_at=now)
        )


class ExposureLog:
    """Records what an arm recommended, in a transaction of its own (the read that served
    it has none); used only for users in an experiment."""

    def __init__(self, sessions: async_sessionmaker) -> None:
        self._sessions = sessions

    async def record(self, response: RecommendationsResponse) -> None:
        if response.experiment_id is None or response.arm is None:
            return
        async with transaction(self._sessions) as session:
            await record_exposures(session, response.experiment_id, response.arm, response.user_id,
                                   [item.movie_id for item in response.items])
