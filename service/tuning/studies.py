"""Studies from the API's side: create one (its row committed, then its trials
queued), list, read and cancel them. Optuna's storage is synchronous; it is read in a
thread so the event loop keeps serving."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Callable
from datetime import timedelta
from typing import Any

import optuna
from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession

from service.core.config import Settings
from service.core.errors import Conflict, InvalidInput, NotFound, Unavailable
from service.core.model_types import gate_metric
from service.db.hooks import after_commit
from service.db.models import ModelVersion, TrainingJob, TuningStudy, utcnow
from service.schemas.tuning import StudyDetail, StudySummary, TuneRequest
from service.training.dispatch import QueueUnavailable
from service.tuning import public
from service.tuning import space as spaces
from service.tuning.objective import OBJECTIVES
from service.tuning.runner import StudyStatus, load_study
from service.tuning.storage import get_storage

Dispatch = Callable[[str], None]
NOT_QUEUED = "could not queue the study's trials: the job queue is unavailable"


def default_objective(model_type: str) -> str:
    return "rmse" if gate_metric(model_type) == "rmse" else "ndcg@10"


def new_study(request: TuneRequest, settings: Settings, origin: str = "api") -> TuningStudy:
    """The study's row, validated: InvalidInput names the field that is wrong."""
    from recsys_core.types import model_class

    model_type = request.model_type
    objective = request.objective or default_objective(model_type)
    if objective == "rmse" and not model_class(model_type).predicts_ratings:
        raise InvalidInput(f"{model_type} predicts no ratings, so it cannot be tuned on rmse; use ndcg@10",
                           field="objective")
    if request.n_trials is None and request.timeout_seconds is None:
        raise InvalidInput("give a budget: n_trials, timeout_seconds or both", field="n_trials")
    spaces.check_base(model_type, request.base_hyperparams)
    space = request.space if request.space is not None else _parsed(spaces.default_space(model_type))
    spaces.check_space(model_type, space, request.base_hyperparams)
    now = utcnow()
    return TuningStudy(
        id=str(uuid.uuid4()), model_type=model_type, objective=objective, direction=OBJECTIVES[objective],
        space={name: dimension.model_dump(mode="json") for name, dimension in space.items()},
        base_hyperparams=request.base_hyperparams, validation_folds=request.validation_folds,
        n_trials=request.n_trials or settings.tune_max_trials,
        timeout_seconds=request.timeout_seconds, status=StudyStatus.running, created_at=now,
        deadline_at=now + timedelta(seconds=request.timeout_seconds) if request.timeout_seconds else None,
        origin=origin,
    )


def _parsed(space: dict[str, dict[str, Any]]) -> dict[str, spaces.Dimension]:
    from pydantic import TypeAdapter

    return TypeAdapter(spaces.Space).validate_python(space)


def create_optuna_study(study: TuningStudy, settings: Settings) -> None:
    ostudy = optuna.create_study(study_name=study.id, storage=get_storage(settings), direction=study.direction,
                                 load_if_exists=True)
    start = spaces.starting_point(study.model_type, study.space, study.base_hyperparams)
    if start:
        ostudy.enqueue_trial(start, skip_if_exists=True)


def send_trials(dispatch_trial: Dispatch, study_id: str, n_trials: int) -> QueueUnavailable | None:
    """One task per trial: the queue spreads them over the free workers."""
    for _ in range(n_trials):
        try:
            dispatch_trial(study_id)
        except QueueUnavailable as exc:
            return exc
    return None


async def create_study(session: AsyncSession, request: TuneRequest, settings: Settings,
                       dispatch_trial: Dispatch) -> TuningStudy:
    study = new_study(request, settings)
    await asyncio.to_thread(create_optuna_study, study, settings)
    session.add(study)
    await session.flush()

    async def send(committed: AsyncSession) -> None:
        cause = await asyncio.to_thread(send_trials, dispatch_trial, study.id, study.n_trials)
        if cause is not None:
            await committed.execute(update(TuningStudy).where(TuningStudy.id == study.id).values(
                status=StudyStatus.failed, error=NOT_QUEUED, finished_at=utcnow()))
            await committed.commit()
            raise Unavailable(f"{NOT_QUEUED}; study {study.id} is marked failed, retry later") from cause

    after_commit(session, send)
    return study


async def get_row(session: AsyncSession, study_id: str) -> TuningStudy:
    study = await session.get(TuningStudy, study_id)
    if study is None:
        raise NotFound(f"study {study_id} not found", field="study_id")
    return study


def _trials(study_id: str, settings: Settings) -> tuple[optuna.Study | None, list[optuna.trial.FrozenTrial]]:
    try:
        ostudy = load_study(study_id, settings)
    except KeyError:  # its Optuna study was never created (the request failed half-way)
        return None, []
    return ostudy, ostudy.get_trials(deepcopy=False)


async def list_studies(session: AsyncSession, settings: Settings, limit: int) -> list[StudySummary]:
    rows = list((await session.scalars(
        select(TuningStudy).order_by(TuningStudy.created_at.desc()).limit(limit))).all())

    def read() -> list[StudySummary]:
        return [public.summary(row, _trials(row.id, settings)[1]) for row in rows]

    return await asyncio.to_thread(read)


async def get_study(session: AsyncSession, settings: Settings, study_id: str) -> StudyDetail:
    study = await get_row(session, study_id)
    version = await session.get(ModelVersion, study.model_version) if study.model_version else None

    def read() -> StudyDetail:
        ostudy, trials = _trials(study_id, settings)
        return public.detail(study, trials, version, ostudy)

    return await asyncio.to_thread(read)


async def cancel_study(session: AsyncSession, settings: Settings, study_id: str) -> StudyDetail:
    """No new trial starts; running ones stop at their next epoch; a retrain under way
    is cancelled like any job. A finished study is a 409."""
    study = await get_row(session, study_id)
    if study.status in StudyStatus.terminal:
        raise Conflict(f"study {study_id} already {study.status}", field="study_id")
    await session.execute(update(TuningStudy).where(TuningStudy.id == study_id).values(
        status=StudyStatus.cancelled, finished_at=utcnow(), error="cancelled on request"))
    if study.job_id is not None:
        await session.execute(update(TrainingJob).where(TrainingJob.id == study.job_id).values(cancel_requested=True))
    await session.refresh(study)
    return await get_study(session, settings, study_id)
