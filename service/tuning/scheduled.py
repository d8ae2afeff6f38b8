"""Studies started without a request: ``recsys tune`` and the TUNE_SCHEDULE beat entry."""

from __future__ import annotations

import logging
from collections.abc import Callable

from sqlalchemy import select, update

from recsys_core.types import DEFAULT_MODEL_TYPE
from service.core.config import Settings
from service.core.errors import Unavailable
from service.db import statements
from service.db.models import TuningStudy, utcnow
from service.db.session import sync_session
from service.schemas.tuning import TuneRequest
from service.tuning.runner import StudyStatus
from service.tuning.studies import NOT_QUEUED, create_optuna_study, new_study, send_trials

log = logging.getLogger(__name__)

Dispatch = Callable[[str], None]


def queue_study(request: TuneRequest, settings: Settings, dispatch_trial: Dispatch, origin: str) -> str:
    """Commit the study's row, then queue its trials (InvalidInput for a bad request,
    Unavailable when the queue refuses them; the study is then marked failed)."""
    study = new_study(request, settings, origin)
    create_optuna_study(study, settings)
    with sync_session() as session:
        session.add(study)
    cause = send_trials(dispatch_trial, study.id, study.n_trials)
    if cause is not None:
        with sync_session() as session:
            session.execute(update(TuningStudy).where(TuningStudy.id == study.id).values(
                status=StudyStatus.failed, error=NOT_QUEUED, finished_at=utcnow()))
        raise Unavailable(f"{NOT_QUEUED}; study {study.id} is marked failed") from cause
    return study.id


def start_scheduled_study(settings: Settings, dispatch_trial: Dispatch, n_trials: int | None = None) -> str | None:
    """A study of the active version's type over its default space, unless one is
    still under way (a tick delivered twice, or a schedule shorter than a study)."""
    with sync_session() as session:
        busy = session.scalars(select(TuningStudy.id).where(
            TuningStudy.status.in_([StudyStatus.running, StudyStatus.retraining]))).first()
        active = session.scalars(statements.active_version()).first()
    if busy is not None:
        log.info("scheduled study skipped: study %s is still under way", busy)
        return None
    model_type = active.model_type if active else DEFAULT_MODEL_TYPE
    request = TuneRequest(model_type=model_type, n_trials=n_trials or settings.tune_schedule_trials)  # type: ignore[arg-type]
    return queue_study(request, settings, dispatch_trial, "schedule")
