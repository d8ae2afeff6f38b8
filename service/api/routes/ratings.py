from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Body, Response, status

from service.api.deps import (
    ClientKey,
    KeyFirstRoute,
    RatingBatcherDep,
    ReaderKey,
    ReadSessionDep,
    RegistryDep,
    ServingDep,
    SessionDep,
    SettingsDep,
)
from service.api.openapi import named_examples, response_example
from service.api.params import MovieId, UserId
from service.api.responses import json_response
from service.core.errors import InvalidInput, NotFound
from service.schemas import examples
from service.schemas.ratings import (
    FoldInResult,
    RatingAccepted,
    RatingBatchAccepted,
    RatingBatchCreate,
    RatingCreate,
    RatingPublic,
    RatingScale,
)
from service.services import ratings, realtime

router = APIRouter(tags=["ratings"], route_class=KeyFirstRoute)


@router.post(
    "/api/ratings",
    response_model=RatingAccepted,
    status_code=status.HTTP_201_CREATED,
    dependencies=[ClientKey],
    summary="Rate a movie",
    responses={201: response_example(examples.RATING_ACCEPTED), **NotFound.openapi(), **InvalidInput.openapi()},
)
async def post_rating(
    body: Annotated[RatingCreate, Body(openapi_examples=named_examples(
        now=("A rating made now", examples.RATE),
        dated=("A rating with its own timestamp", examples.RATE_AT),
    ))],
    ratings_writer: RatingBatcherDep,
) -> Response:
    """Store one rating (a re-rating replaces the old one) and fold the user in at once."""
    return json_response(await ratings_writer.rate(body), status.HTTP_201_CREATED)


@router.post(
    "/api/ratings/batch",
    response_model=RatingBatchAccepted,
    status_code=status.HTTP_201_CREATED,
    dependencies=[ClientKey],
    summary="Rate many movies at once",
    responses={201: response_example(examples.RATING_BATCH_ACCEPTED), **NotFound.openapi(), **InvalidInput.openapi()},
)
async def post_ratings_batch(
    body: Annotated[RatingBatchCreate, Body(openapi_examples=named_examples(
        two_users=("Three ratings by two users", examples.RATE_BATCH),
    ))],
    session: SessionDep, settings: SettingsDep, registry: RegistryDep, serving: ServingDep
) -> Response:
    """Store many ratings in one transaction (all or none) and fold each user in once."""
    stored, _, folded = await realtime.rate(session, settings, registry, serving, body.ratings, field_prefix="ratings")
    return json_response(RatingBatchAccepted(count=len(stored), fold_in=list(folded.values())), status.HTTP_201_CREATED)


@router.delete(
    "/api/ratings/{user_id}/{movie_id}",
    response_model=FoldInResult,
    dependencies=[ClientKey],
    summary="Delete a rating",
    responses={200: response_example(examples.UNRATED), **NotFound.openapi()},
)
async def delete_rating(
    user_id: UserId, movie_id: MovieId, session: SessionDep, registry: RegistryDep, serving: ServingDep
) -> FoldInResult:
    """Delete one rating and fold the user in again without it; a rating that does not exist is a 404."""
    return await realtime.unrate(session, registry, serving, user_id, movie_id)


@router.get(
    "/api/ratings/scale", response_model=RatingScale, dependencies=[ReaderKey], summary="Show the rating scale",
    responses={200: response_example(examples.RATING_SCALE)},
)
async def get_rating_scale(settings: SettingsDep) -> RatingScale:
    """The lowest and highest rating the service takes; predictions stay between them."""
    return RatingScale(min=settings.rating_min, max=settings.rating_max)


@router.get(
    "/api/users/{user_id}/ratings", response_model=list[RatingPublic], dependencies=[ReaderKey],
    summary="List a user's ratings", responses={200: response_example(examples.USER_RATINGS)},
)
async def get_user_ratings(user_id: UserId, session: ReadSessionDep) -> list[RatingPublic]:
    """A user's ratings, newest first (an unknown user has none)."""
    return await ratings.user_ratings(session, user_id)
