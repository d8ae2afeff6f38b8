from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Body, Path, status

from service.api.deps import (
    AdminKey,
    KeyFirstRoute,
    ReaderKey,
    ReadSessionDep,
    SessionDep,
    SettingsDep,
)
from service.api.openapi import named_examples, response_example
from service.core.errors import Conflict, InvalidInput, NotFound
from service.schemas import examples
from service.schemas.common import MAX_VERSION
from service.schemas.experiments import (
    ExperimentCreate,
    ExperimentMetrics,
    ExperimentPromoted,
    ExperimentPublic,
)
from service.services import experiments

router = APIRouter(prefix="/api/ml/experiments", tags=["experiments"], route_class=KeyFirstRoute)

ExperimentId = Annotated[int, Path(
    ge=1, le=MAX_VERSION, description="An experiment's id, as POST /api/ml/experiments answers it.",
    openapi_examples={"1": {"summary": "Experiment 1", "value": 1}},
)]
ArmPath = Annotated[str, Path(
    min_length=1, max_length=50, pattern=r"^[A-Za-z0-9_.-]+$", description="The name of the arm to promote.",
    openapi_examples={"treatment": {"summary": "The treatment arm", "value": "treatment"}},
)]


@router.post(
    "",
    response_model=ExperimentPublic,
    status_code=status.HTTP_201_CREATED,
    dependencies=[AdminKey],
    summary="Start an experiment",
    responses={201: response_example(examples.EXPERIMENT), **InvalidInput.openapi(), **Conflict.openapi()},
)
async def start_experiment(
    body: Annotated[ExperimentCreate, Body(openapi_examples=named_examples(
        two_versions=("Two versions on 40% of the users", examples.EXPERIMENT_CREATE),
        fallback=("A version against the popularity list", examples.EXPERIMENT_CREATE_FALLBACK),
    ))],
    session: SessionDep,
) -> ExperimentPublic:
    """Split users between arms by hashing their ids with the salt; every API process serves
    each user by their arm within a poll (MODEL_POLL_SECONDS). One experiment runs at a time (409)."""
    return await experiments.start(session, body)


@router.get(
    "", response_model=list[ExperimentPublic], dependencies=[ReaderKey], summary="List the experiments",
    responses={200: response_example([examples.EXPERIMENT])},
)
async def list_experiments(session: ReadSessionDep) -> list[ExperimentPublic]:
    """Every experiment, newest first."""
    return await experiments.list_experiments(session)


@router.get(
    "/{experiment_id}", response_model=ExperimentPublic, dependencies=[ReaderKey], summary="Show an experiment",
    responses={200: response_example(examples.EXPERIMENT), **NotFound.openapi()},
)
async def get_experiment(experiment_id: ExperimentId, session: ReadSessionDep) -> ExperimentPublic:
    """One experiment: its arms, shares, salt and status."""
    return await experiments.get(session, experiment_id)


@router.get(
    "/{experiment_id}/metrics", response_model=ExperimentMetrics, dependencies=[ReaderKey],
    summary="Measure an experiment's arms",
    responses={200: response_example(examples.EXPERIMENT_METRICS), **NotFound.openapi()},
)
async def experiment_metrics(experiment_id: ExperimentId, session: ReadSessionDep, settings: SettingsDep) -> ExperimentMetrics:
    """Per arm: prequential RMSE, hit rate and ratings, with confidence intervals; each arm
    against the control with a significance test (alpha: EXPERIMENT_ALPHA, Bonferroni over the comparisons)."""
    return await experiments.metrics(session, settings, experiment_id)


@router.post(
    "/{experiment_id}/stop", response_model=ExperimentPublic, dependencies=[AdminKey], summary="Stop an experiment",
    responses={200: response_example(examples.EXPERIMENT_STOPPED), **NotFound.openapi(), **Conflict.openapi()},
)
async def stop_experiment(experiment_id: ExperimentId, session: SessionDep) -> ExperimentPublic:
    """End it: every user is served by the active version again. Its metrics stay."""
    return await experiments.stop(session, experiment_id)


@router.post(
    "/{experiment_id}/promote/{arm}", response_model=ExperimentPromoted, dependencies=[AdminKey],
    summary="Stop an experiment and activate an arm",
    responses={200: response_example(examples.EXPERIMENT_PROMOTED), **NotFound.openapi(), **Conflict.openapi()},
)
async def promote_arm(experiment_id: ExperimentId, arm: ArmPath, session: SessionDep) -> ExperimentPromoted:
    """End the experiment and activate the arm's version, in one transaction (as
    POST /api/ml/models/activate/{version} would: a deleted or failed version is a 409)."""
    return await experiments.promote(session, experiment_id, arm)
