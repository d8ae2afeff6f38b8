from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query

from service.api.deps import (
    KeyFirstRoute,
    MovieCacheDep,
    NewMoviesDep,
    PopularityDep,
    ReaderKey,
    ReadSessionDep,
    RegistryDep,
    SettingsDep,
)
from service.api.params import MovieId, UserId
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
    session: ReadSessionDep,
    settings: SettingsDep,
    registry: RegistryDep,
    popularity: PopularityDep,
    new_movies: NewMoviesDep,
    movie_cache: MovieCacheDep,
    n: TopN = 10,
    explain: bool = False,
    genres: Annotated[
        str | None,
        Query(max_length=500, pattern=NO_NUL, description="Comma-separated genres for the cold-start fallback."),
    ] = None,
) -> RecommendationsResponse:
    """Top-n unseen movies for a user; a user without ratings gets the popularity fallback."""
    wanted = [g.strip() for g in genres.split(",") if g.strip()] if genres else None
    return await recommendations.recommend(
        session, settings, registry, popularity, new_movies, movie_cache, user_id, n, genres=wanted, explain=explain
    )


@router.post(
    "/predict",
    response_model=PredictResponse,
    dependencies=[ReaderKey],
    responses={**NotFound.openapi(), **Unavailable.openapi()},
)
async def predict(body: PredictRequest, session: ReadSessionDep, registry: RegistryDep) -> PredictResponse:
    """The active model's predicted rating of a movie by a user."""
    return (await recommendations.predict_many(session, registry, [(body.user_id, body.movie_id)]))[0]


@router.post(
    "/predict/batch",
    response_model=PredictBatchResponse,
    dependencies=[ReaderKey],
    responses={**NotFound.openapi(), **Unavailable.openapi()},
)
async def predict_batch(body: PredictBatchRequest, session: ReadSessionDep, registry: RegistryDep) -> PredictBatchResponse:
    """Predicted ratings for many (user, movie) pairs from one model version."""
    pairs = [(p.user_id, p.movie_id) for p in body.pairs]
    predictions = await recommendations.predict_many(session, registry, pairs)
    first = predictions[0]
    return PredictBatchResponse(model_version=first.model_version, model_type=first.model_type, predictions=predictions)


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
    registry: RegistryDep,
    settings: SettingsDep,
    top: Annotated[int, Query(ge=1, le=1000, description="How many rated movies to list.")] = 5,
) -> ExplanationResponse:
    """Why the model scores this movie as it does for this user: additive terms that sum
    to the score, the rated movies that moved it most, and a sentence naming them."""
    return await explanations.explain(session, registry, user_id, movie_id, top, genre_prior=settings.genre_prior)


@router.get(
    "/similar/{movie_id}",
    response_model=SimilarMoviesResponse,
    dependencies=[ReaderKey],
    responses=NotFound.openapi(),
)
async def similar(movie_id: MovieId, session: ReadSessionDep, registry: RegistryDep, n: TopN = 10) -> SimilarMoviesResponse:
    """Movies most like this one: in factor space, or by genres for a movie the model has not learned."""
    return await recommendations.similar_movies(session, registry, movie_id, n)
