from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query, Response

from service.api.deps import (
    KeyFirstRoute,
    ReaderKey,
    ReadSessionDep,
    ServingDep,
)
from service.api.params import MovieId, UserId
from service.api.responses import json_response
from service.core.errors import NotFound, Unavailable
from service.schemas.common import NO_NUL
from service.schemas.ml import (
    ExplanationResponse,
    PredictBatchRequest,
    PredictBatchResponse,
    PredictRequest,
    PredictResponse,
    RecommendationsResponse,
    SimilarMoviesResponse,
)
from service.services import explanations, recommendations

router = APIRouter(prefix="/api/ml", tags=["recommendations"], route_class=KeyFirstRoute)

TopN = Annotated[int, Query(ge=1, le=100)]


@router.get("/recommendations/{user_id}", response_model=RecommendationsResponse, dependencies=[ReaderKey])
async def get_recommendations(
    user_id: UserId,
    serving: ServingDep,
    n: TopN = 10,
    explain: bool = False,
    genres: Annotated[
        str | None,
        Query(max_length=500, pattern=NO_NUL, description="Comma-separated genres for the cold-start fallback."),
    ] = None,
) -> Response:
    """Top-n unseen movies for a user; a user without ratings gets the popularity fallback."""
    wanted = [g.strip() for g in genres.split(",") if g.strip()] if genres else None
    popularity = await serving.popularity()
    body = recommendations.recommendations_json(serving, popularity, user_id, n, genres=wanted, explain=explain)
    return Response(body, media_type="application/json")


@router.post(
    "/predict",
    response_model=PredictResponse,
    dependencies=[ReaderKey],
    responses={**NotFound.openapi(), **Unavailable.openapi()},
)
async def predict(body: PredictRequest, serving: ServingDep) -> Response:
    """The active model's predicted rating of a movie by a user."""
    return json_response(recommendations.predict_many(serving, [(body.user_id, body.movie_id)])[0])


@router.post(
    "/predict/batch",
    response_model=PredictBatchResponse,
    dependencies=[ReaderKey],
    responses={**NotFound.openapi(), **Unavailable.openapi()},
)
async def predict_batch(body: PredictBatchRequest, serving: ServingDep) -> Response:
    """Predicted ratings for many (user, movie) pairs from one model version."""
    pairs = [(p.user_id, p.movie_id) for p in body.pairs]
    predictions = recommendations.predict_many(serving, pairs)
    first = predictions[0]
    return json_response(PredictBatchResponse.model_construct(
        model_version=first.model_version, model_type=first.model_type, predictions=predictions
    ))


@router.get(
    "/explain/{user_id}/{movie_id}",
    response_model=ExplanationResponse,
    dependencies=[ReaderKey],
    responses={**NotFound.openapi(), **Unavailable.openapi()},
)
async def explain(
    user_id: UserId,
    movie_id: MovieId,
    session: ReadSessionDep,
    serving: ServingDep,
    top: Annotated[int, Query(ge=1, le=1000, description="How many rated movies to list.")] = 5,
) -> ExplanationResponse:
    """Why the model scores this movie as it does for this user: additive terms that sum
    to the score, the rated movies that moved it most, and a sentence naming them."""
    return await explanations.explain(session, serving, user_id, movie_id, top)


@router.get(
    "/similar/{movie_id}",
    response_model=SimilarMoviesResponse,
    dependencies=[ReaderKey],
    responses=NotFound.openapi(),
)
async def similar(movie_id: MovieId, serving: ServingDep, n: TopN = 10) -> Response:
    """Movies most like this one: in factor space, or by genres for a movie the model has not learned."""
    return json_response(recommendations.similar_movies(serving, movie_id, n))
