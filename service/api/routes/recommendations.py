from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Body, Query, Response

from service.api.deps import (
    ExposuresDep,
    KeyFirstRoute,
    ReaderKey,
    ReadSessionDep,
    ServingDep,
)
from service.api.openapi import named_examples, response_example, response_examples
from service.api.params import MovieId, UserId
from service.api.responses import json_response
from service.core.errors import Conflict, NotFound, Unavailable
from service.schemas import examples
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
from service.services import catalog, explanations, recommendations

router = APIRouter(prefix="/api/ml", tags=["recommendations"], route_class=KeyFirstRoute)

TopN = Annotated[int, Query(ge=1, le=100, description="How many movies to list.")]


@router.get(
    "/recommendations/{user_id}",
    response_model=RecommendationsResponse,
    dependencies=[ReaderKey],
    summary="Recommend movies for a user",
    responses={200: response_examples(
        personalized=("A user the model knows", examples.PERSONALIZED),
        explained=("With explain=true", examples.PERSONALIZED_EXPLAINED),
        popularity_fallback=("A user without ratings", examples.POPULARITY_FALLBACK),
        genre_fallback=("A user without ratings, with genres=Sci-Fi,Action", examples.GENRE_FALLBACK),
    )},
)
async def get_recommendations(
    user_id: UserId,
    serving: ServingDep,
    exposures: ExposuresDep,
    n: TopN = 10,
    explain: Annotated[bool, Query(description="Add a sentence to each movie saying why it is there.")] = False,
    genres: Annotated[
        str | None,
        Query(
            max_length=500, pattern=NO_NUL, description="Comma-separated genres for the cold-start fallback.",
            openapi_examples={"sci-fi": {"summary": "Science fiction or action", "value": "Sci-Fi,Action"}},
        ),
    ] = None,
) -> Response:
    """Top-n unseen movies for a user; a user without ratings gets the popularity fallback,
    or with ``genres`` the best-rated movies of those genres. A user in a running
    experiment is served by their arm, which the answer names."""
    wanted = [g.strip() for g in genres.split(",") if g.strip()] if genres else None
    if wanted:
        await catalog.refuse_unknown_genres(serving.catalogue, wanted, field="genres")
    if serving.registry.current is None:  # a first version another process activated a moment ago
        await serving.registry.catch_up()
    popularity = await serving.popularity()
    body, computed = recommendations.recommendations_json(
        serving, popularity, user_id, n, genres=wanted, explain=explain
    )
    if computed is not None and computed.arm is not None:  # a cached list was recorded when computed
        await exposures.record(computed)
    return Response(body, media_type="application/json")


@router.post(
    "/predict",
    response_model=PredictResponse,
    dependencies=[ReaderKey],
    summary="Predict a user's rating of a movie",
    responses={200: response_example(examples.PREDICTION), **NotFound.openapi(), **Conflict.openapi(), **Unavailable.openapi()},
)
async def predict(
    body: Annotated[PredictRequest, Body(openapi_examples=named_examples(
        star_wars=("User 196 and Star Wars", examples.PREDICT_REQUEST),
    ))],
    serving: ServingDep,
) -> Response:
    """The active model's predicted rating of a movie by a user (or, for a user in a running
    experiment, their arm's). A version of a type that only ranks (ease, ials) cannot predict: that is a 409."""
    async def answer() -> list[PredictResponse]:
        return recommendations.predict_many(serving, [(body.user_id, body.movie_id)])

    return json_response((await recommendations.answer_with_current_model(serving.registry, answer))[0])


@router.post(
    "/predict/batch",
    response_model=PredictBatchResponse,
    dependencies=[ReaderKey],
    summary="Predict many ratings at once",
    responses={200: response_example(examples.PREDICT_BATCH), **NotFound.openapi(), **Conflict.openapi(), **Unavailable.openapi()},
)
async def predict_batch(
    body: Annotated[PredictBatchRequest, Body(openapi_examples=named_examples(
        two=("Two movies for user 196", examples.PREDICT_BATCH_REQUEST),
    ))],
    serving: ServingDep,
) -> Response:
    """Predicted ratings for many (user, movie) pairs from one model version."""
    pairs = [(p.user_id, p.movie_id) for p in body.pairs]

    async def answer() -> list[PredictResponse]:
        return recommendations.predict_many(serving, pairs)

    predictions = await recommendations.answer_with_current_model(serving.registry, answer)
    first = predictions[0]
    return json_response(PredictBatchResponse.model_construct(
        model_version=first.model_version, model_type=first.model_type, predictions=predictions
    ))


@router.get(
    "/explain/{user_id}/{movie_id}",
    response_model=ExplanationResponse,
    dependencies=[ReaderKey],
    summary="Explain a user's score for a movie",
    responses={200: response_example(examples.EXPLANATION), **NotFound.openapi(), **Unavailable.openapi()},
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
    async def answer() -> ExplanationResponse:
        return await explanations.explain(session, serving, user_id, movie_id, top)

    return await recommendations.answer_with_current_model(serving.registry, answer)


@router.get(
    "/similar/{movie_id}",
    response_model=SimilarMoviesResponse,
    dependencies=[ReaderKey],
    summary="Find movies similar to a movie",
    responses={
        200: response_examples(
            model=("A movie the model learned", examples.SIMILAR_BY_MODEL),
            genres=("A movie added since training", examples.SIMILAR_BY_GENRES),
        ),
        **NotFound.openapi(),
    },
)
async def similar(movie_id: MovieId, serving: ServingDep, n: TopN = 10) -> Response:
    """Movies most like this one: in factor space, or by genres for a movie the model has not learned."""
    return json_response(recommendations.similar_movies(serving, movie_id, n))
