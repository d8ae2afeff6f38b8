from __future__ import annotations

from fastapi import APIRouter, Response, status

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
from service.api.params import MovieId, UserId
from service.api.responses import json_response
from service.core.errors import InvalidInput, NotFound
from service.schemas.ratings import (
    FoldInResult,
    RatingAccepted,
    RatingBatchAccepted,
    RatingBatchCreate,
    RatingCreate,
    RatingPublic,
)
from service.services import ratings, realtime

router = APIRouter(tags=["ratings"], route_class=KeyFirstRoute)


@router.post(
    "/api/ratings",
    response_model=RatingAccepted,
    status_code=status.HTTP_201_CREATED,
    dependencies=[ClientKey],
    responses={**NotFound.openapi(), **InvalidInput.openapi()},
)
async def post_rating(body: RatingCreate, ratings_writer: RatingBatcherDep) -> Response:
    """Store one rating (a re-rating replaces the old one) and fold the user in at once."""
    return json_response(await ratings_writer.rate(body), status.HTTP_201_CREATED)


@router.post(
    "/api/ratings/batch",
    response_model=RatingBatchAccepted,
    status_code=status.HTTP_201_CREATED,
    dependencies=[ClientKey],
    responses={**NotFound.openapi(), **InvalidInput.openapi()},
)
async def post_ratings_batch(
    body: RatingBatchCreate, session: SessionDep, settings: SettingsDep, registry: RegistryDep, serving: ServingDep
) -> Response:
    """Store many ratings in one transaction (all or none) and fold each user in once."""
    stored, _, folded = await realtime.rate(session, settings, registry, serving, body.ratings, field_prefix="ratings")
    return json_response(RatingBatchAccepted(count=len(stored), fold_in=list(folded.values())), status.HTTP_201_CREATED)


@router.delete(
    "/api/ratings/{user_id}/{movie_id}",
    response_model=FoldInResult,
    dependencies=[ClientKey],
    responses=NotFound.openapi(),
)
async def delete_rating(
    user_id: UserId, movie_id: MovieId, session: SessionDep, registry: RegistryDep, serving: ServingDep
) -> FoldInResult:
    """Delete one rating and refold the user."""
    return await realtime.unrate(session, registry, serving, user_id, movie_id)


@router.get("/api/users/{user_id}/ratings", response_model=list[RatingPublic], dependencies=[ReaderKey])
async def get_user_ratings(user_id: UserId, session: ReadSessionDep) -> list[RatingPublic]:
    """A user's ratings, newest first (an unknown user has none)."""
    return await ratings.user_ratings(session, user_id)
