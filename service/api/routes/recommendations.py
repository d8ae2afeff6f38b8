from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Path, Query

from service.api.deps import PopularityDep, ReaderKey, RegistryDep, SessionDep
from service.core.errors import NotFound, Unavailable
from service.schemas.common import MAX_ID
from service.schemas.ml import (
    ExplanationResponse,
    PredictRequest,
    PredictResponse,
    RecommendationsResponse,
)
from service.services import explanations, recommendations

router = APIRouter(prefix="/api/ml", tags=["recommendations"])

UserId = Annotated[int, Path(ge=1, le=MAX_ID)]
MovieId = Annotated[int, Path(ge=1, le=MAX_ID)]


@router.get("/recommendations/{user_id}", response_model=RecommendationsResponse, dependencies=[ReaderKey])
async def get_recommendations(
    user_id: UserId,
    session: SessionDep,
    registry: RegistryDep,
    popularity: PopularityDep,
    n: Annotated[int, Query(ge=1, le=100)] = 10,
    genres: Annotated[str | None, Query(max_length=500, description="Comma-separated genres for the cold-start fallback.")] = None,
) -> RecommendationsResponse:
    """Top-n unseen movies for a user; a user without ratings gets the popularity fallback."""
    wanted = [g.strip() for g in genres.split(",") if g.strip()] if genres else None
    return await recommendations.recommend(session, registry, popularity, user_id, n, genres=wanted)


@router.post(
    "/predict",
    response_model=PredictResponse,
    dependencies=[ReaderKey],
    responses={**NotFound.openapi(), **Unavailable.openapi()},
)
async def predict(body: PredictRequest, session: SessionDep, registry: RegistryDep) -> PredictResponse:
    """The active model's predicted rating of a movie by a user."""
    return await recommendations.predict(session, registry, body.user_id, body.movie_id)


@router.get(
    "/explain/{user_id}/{movie_id}",
    response_model=ExplanationResponse,
    dependencies=[ReaderKey],
    responses={**NotFound.openapi(), **Unavailable.openapi()},
)
async def explain(user_id: UserId, movie_id: MovieId, session: SessionDep, registry: RegistryDep) -> ExplanationResponse:
    """Why the model predicts what it does for this user and movie."""
    return await explanations.explain(session, registry, user_id, movie_id)
