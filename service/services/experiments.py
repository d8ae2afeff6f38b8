"""Experiments: start one (validated), list, stop, promote an arm, and measure the arms.

At most one experiment runs at a time (a partial unique index makes it the database's
rule, as for the active version). Starting and promoting take the versions lock, so an
arm's version cannot be deleted or retired between the check and the start, and a
promotion activates through the versions service under the same rules as any activation.
"""

from __future__ import annotations

import math
import secrets

import numpy as np
from sqlalchemy import case, func, select
from sqlalchemy.ext.asyncio import AsyncSession

from service.core.config import Settings
from service.core.errors import Conflict, InvalidInput, NotFound
from service.db import statements
from service.db.models import (
    Experiment,
    ExperimentArm,
    ExperimentExposure,
    ExperimentRating,
    ExperimentStatus,
    ModelVersion,
    VersionStatus,
    utcnow,
)
from service.schemas.experiments import (
    ArmMetrics,
    ArmPublic,
    Comparison,
    ExperimentCreate,
    ExperimentMetrics,
    ExperimentPromoted,
    ExperimentPublic,
    Interval,
)
from service.services import experiment_stats as st
from service.services import versions as version_service

SHARE_TOLERANCE = 1e-6


async def start(session: AsyncSession, body: ExperimentCreate) -> ExperimentPublic:
    for statement in statements.lock_versions(session.bind.dialect.name):
        await session.execute(statement)
    await _check_arms(session, body)
    running = await session.scalar(select(Experiment.id).where(Experiment.status == ExperimentStatus.running.value))
    if running is not None:
        raise Conflict(f"experiment {running} is running; stop or promote it first (one runs at a time)")
    experiment = Experiment(name=body.name, salt=body.salt or secrets.token_hex(8), coverage=body.coverage,
                            status=ExperimentStatus.running.value, created_at=utcnow())
    session.add(experiment)
    await session.flush()  # the unique index refuses a second running one that raced this (409)
    for position, arm in enumerate(body.arms):
        session.add(ExperimentArm(experiment_id=experiment.id, name=arm.name, position=position,
                                  model_version=arm.model_version, fallback=arm.fallback, share=arm.share))
    await session.flush()
    return await get(session, experiment.id)


async def _check_arms(session: AsyncSession, body: ExperimentCreate) -> None:
    seen: set[str] = set()
    for index, arm in enumerate(body.arms):
        if arm.name in seen:
            raise InvalidInput(f"arm name {arm.name!r} is used twice", field=f"arms[{index}].name")
        seen.add(arm.name)
        if (arm.model_version is None) == (arm.fallback is None):
            raise InvalidInput("an arm names either a model_version or a fallback, not both or neither",
                               field=f"arms[{index}].model_version")
        if arm.model_version is not None:
            version = await session.get(ModelVersion, arm.model_version, populate_existing=True)
            if version is None:
                raise InvalidInput(f"model version {arm.model_version} not found",
                                   field=f"arms[{index}].model_version")
            if version.status != VersionStatus.ready.value:
                raise InvalidInput(f"model version {arm.model_version} is {version.status}, not ready",
                                   field=f"arms[{index}].model_version")
    total = math.fsum(arm.share for arm in body.arms)
    if abs(total - body.coverage) > SHARE_TOLERANCE:
        raise InvalidInput(
            f"the arms' shares sum to {total:g}; they must sum to the coverage, {body.coverage:g} "
            "(each share is a fraction of all traffic)",
            field="arms",
        )


async def list_experiments(session: AsyncSession) -> list[ExperimentPublic]:
    ids = (await session.scalars(select(Experiment.id).order_by(Experiment.id.desc()))).all()
    return [await get(session, i) for i in ids]


async def get(session: AsyncSession, experiment_id: int) -> ExperimentPublic:
    row = await session.get(Experiment, experiment_id, populate_existing=True)
    if row is None:
        raise NotFound(f"experiment {experiment_id} not found", field="experiment_id")
    arms = (await session.scalars(
        select(ExperimentArm).where(ExperimentArm.experiment_id == experiment_id).order_by(ExperimentArm.position)
    )).all()
    return ExperimentPublic(
        id=row.id, name=row.name, status=row.status, salt=row.salt, coverage=row.coverage,  # type: ignore[arg-type]
        arms=[ArmPublic(name=a.name, model_version=a.model_version, fallback=a.fallback, share=a.share) for a in arms],
        created_at=row.created_at, ended_at=row.ended_at, promoted_arm=row.promoted_arm,
    )


async def _running(session: AsyncSession, experiment_id: int) -> Experiment:
    row = await session.get(Experiment, experiment_id, populate_existing=True, with_for_update=True)
    if row is None:
        raise NotFound(f"experiment {experiment_id} not found", field="experiment_id")
    if row.status != ExperimentStatus.running.value:
        raise Conflict(f"experiment {experiment_id} is {row.status}, not running", field="experiment_id")
    return row


async def stop(session: AsyncSession, experiment_id: int) -> ExperimentPublic:
    row = await _running(session, experiment_id)
    row.status, row.ended_at = ExperimentStatus.stopped.value, utcnow()
    await session.flush()
    return await get(session, experiment_id)


async def promote(session: AsyncSession, experiment_id: int, arm_name: str) -> ExperimentPromoted:
    """End the experiment and activate the arm's version, in one transaction: both or neither."""
    row = await _running(session, experiment_id)
    arm = await session.get(ExperimentArm, (experiment_id, arm_name))
    if arm is None:
        raise NotFound(f"experiment {experiment_id} has no arm {arm_name!r}", field="arm")
    if arm.model_version is None:
        raise Conflict(f"arm {arm_name!r} serves the {arm.fallback} fallback, not a version; stop the experiment "
                       "instead", field="arm")
    row.status, row.ended_at, row.promoted_arm = ExperimentStatus.promoted.value, utcnow(), arm_name
    await session.flush()
    activated = await version_service.activate_version(session, arm.model_version)
    return ExperimentPromoted(experiment=await get(session, experiment_id), activated_version=activated.version)


async def metrics(session: AsyncSession, settings: Settings, experiment_id: int) -> ExperimentMetrics:
    experiment = await get(session, experiment_id)
    alpha = settings.experiment_alpha
    error = (ExperimentRating.predicted - ExperimentRating.actual)
    rated = (await session.execute(
        select(ExperimentRating.arm, ExperimentRating.user_id, func.count(),
               func.count(ExperimentRating.predicted), func.coalesce(func.sum(error * error), 0.0))
        .where(ExperimentRating.experiment_id == experiment_id)
        .group_by(ExperimentRating.arm, ExperimentRating.user_id)
    )).all()
    exposed = (await session.execute(
        select(ExperimentExposure.arm, ExperimentExposure.user_id, func.count(),
               func.sum(case((ExperimentExposure.hit_at.is_not(None), 1), else_=0)))
        .where(ExperimentExposure.experiment_id == experiment_id)
        .group_by(ExperimentExposure.arm, ExperimentExposure.user_id)
    )).all()
    names = [a.name for a in experiment.arms]
    mse = {a: st.ratio(*_columns([(r[4], r[3]) for r in rated if r[0] == a])) for a in names}
    hits = {a: st.ratio(*_columns([(e[3], e[2]) for e in exposed if e[0] == a])) for a in names}
    arms = []
    for name in names:
        rows = [r for r in rated if r[0] == name]
        low, high = st.rmse_interval(mse[name], alpha)
        h_low, h_high = st.wilson_interval(hits[name], alpha)
        arms.append(ArmMetrics(
            arm=name, n_ratings=sum(r[2] for r in rows), n_users=len(rows), n_predicted=sum(r[3] for r in rows),
            rmse=math.sqrt(mse[name].value) if mse[name].value is not None else None,
            rmse_ci=Interval(low=low, high=high),
            exposures=int(hits[name].denominator), hits=int(hits[name].numerator),
            hit_rate=hits[name].value, hit_rate_ci=Interval(low=h_low, high=h_high),
        ))
    control = names[0]
    m = 2 * (len(names) - 1)
    comparisons = []
    for name in names[1:]:
        comparisons.append(_comparison("rmse", name, control, mse, st.welch_mse(mse[name], mse[control]),
                                       "Welch's t-test on user-clustered squared errors", alpha, m, lower_better=True))
        comparisons.append(_comparison("hit_rate", name, control, hits, st.two_proportion(hits[name], hits[control]),
                                       "two-proportion z-test, user-clustered variance", alpha, m, lower_better=False))
    return ExperimentMetrics(
        experiment_id=experiment_id, status=experiment.status, alpha=alpha, threshold=settings.hit_threshold,
        hit_window_seconds=settings.experiment_hit_window_seconds, arms=arms, comparisons=comparisons,
        significant=any(c.significant for c in comparisons),
    )


def _columns(pairs: list[tuple[float, float]]) -> tuple[np.ndarray, np.ndarray]:
    array = np.array(pairs, dtype=np.float64).reshape(-1, 2)
    return array[:, 0], array[:, 1]


def _comparison(
    metric: str, arm: str, control: str, estimates: dict[str, st.RatioEstimate], p_value: float | None,
    test: str, alpha: float, m: int, *, lower_better: bool,
) -> Comparison:
    a, c = estimates[arm].value, estimates[control].value
    if metric == "rmse" and a is not None and c is not None:
        a, c = math.sqrt(a), math.sqrt(c)
    difference = a - c if a is not None and c is not None else None
    significant = st.significant(p_value, alpha, m)
    better = None
    if significant and difference is not None and difference != 0:
        better = arm if (difference < 0) == lower_better else control
    return Comparison(metric=metric, arm=arm, control=control, difference=difference, p_value=p_value,  # type: ignore[arg-type]
                      test=test, significant=significant, better=better)
