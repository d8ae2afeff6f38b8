"""Hyperparameter search: start a study, follow it and its trials, cancel it."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Body, Path, Query, Request, status

from recsys_core.types import MODEL_TYPES
from service.api.deps import (
    AdminKey,
    DispatcherDep,
    KeyFirstRoute,
    ReaderKey,
    ReadSessionDep,
    SessionDep,
    SettingsDep,
)
from service.api.openapi import named_examples, response_example
from service.core.errors import Conflict, InvalidInput, NotFound, Unavailable
from service.schemas import examples
from service.schemas.common import NO_NUL
from service.schemas.tuning import (
    SearchSpaceInfo,
    StudyAccepted,
    StudyDetail,
    StudySummary,
    TuneRequest,
)
from service.tuning import studies
from service.tuning.space import default_space

router = APIRouter(prefix="/api/ml", tags=["tuning"], route_class=KeyFirstRoute)

StudyId = Annotated[str, Path(
    max_length=36, pattern=NO_NUL, description="A study's id, as POST /api/ml/tune answers it.",
    openapi_examples={"study": {"summary": "A study", "value": examples.STUDY_ID}},
)]


@router.post(
    "/tune",
    response_model=StudyAccepted,
    status_code=status.HTTP_202_ACCEPTED,
    dependencies=[AdminKey],
    summary="Start a hyperparameter search",
    responses={202: response_example(examples.STUDY_ACCEPTED), **InvalidInput.openapi(), **Unavailable.openapi()},
)
async def tune(
    body: Annotated[TuneRequest, Body(openapi_examples=named_examples(
        small_mf=("Six trials of MF over a small space", examples.TUNE_MF_REQUEST),
        ensemble=("The ensemble's default space, 30 trials", {"model_type": "ensemble", "n_trials": 30}),
        timed=("EASE for ten minutes", {"model_type": "ease", "timeout_seconds": 600}),
    ))],
    request: Request,
    session: SessionDep,
    settings: SettingsDep,
    dispatcher: DispatcherDep,
) -> StudyAccepted:
    """Queue a study: its trials run on the workers (in process in the embedded mode),
    Optuna's TPE choosing each from the trials so far; the best is retrained as a version
    and gated. An unknown hyperparameter or a bound the type refuses is a 422 naming it."""
    study = await studies.create_study(session, body, settings, dispatcher.dispatch_trial)
    url = str(request.url_for("study_status", study_id=study.id).path)
    return StudyAccepted(study_id=study.id, status=study.status, status_url=url)  # type: ignore[arg-type]


@router.get(
    "/tune/spaces", response_model=list[SearchSpaceInfo], summary="List each type's default search space",
    responses={200: response_example([examples.SEARCH_SPACE])},
)
async def search_spaces() -> list[SearchSpaceInfo]:
    """What a study searches when its request names no space, and what it optimizes."""
    return [
        SearchSpaceInfo(model_type=t, objective=studies.default_objective(t), space=default_space(t))
        for t in MODEL_TYPES
    ]


@router.get(
    "/tune", response_model=list[StudySummary], dependencies=[ReaderKey], summary="List recent studies",
    responses={200: response_example([examples.STUDY_SUMMARY])},
)
async def list_studies(
    session: ReadSessionDep, settings: SettingsDep,
    limit: Annotated[int, Query(ge=1, le=100, description="How many studies to list.")] = 20,
) -> list[StudySummary]:
    """Recent studies, newest first, with their progress and best trial so far."""
    return await studies.list_studies(session, settings, limit)


@router.get(
    "/tune/{study_id}", response_model=StudyDetail, name="study_status", dependencies=[ReaderKey],
    summary="Follow a study and its trials",
    responses={200: response_example(examples.STUDY_DETAIL), **NotFound.openapi()},
)
async def study_status(study_id: StudyId, session: ReadSessionDep, settings: SettingsDep) -> StudyDetail:
    """A study with every trial (state, values, per-epoch figures, worker), the best-so-far
    curve, parameter importances, and the version it produced."""
    return await studies.get_study(session, settings, study_id)


@router.post(
    "/tune/{study_id}/cancel", response_model=StudyDetail, dependencies=[AdminKey], summary="Cancel a study",
    responses={200: response_example(examples.CANCELLED_STUDY), **NotFound.openapi(), **Conflict.openapi()},
)
async def cancel_study(study_id: StudyId, session: SessionDep, settings: SettingsDep) -> StudyDetail:
    """No new trial starts, running ones stop at their next epoch, and a retrain under way
    is cancelled; a finished study is a 409."""
    return await studies.cancel_study(session, settings, study_id)
