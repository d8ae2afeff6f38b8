"""Ratings: one per user and movie; a re-rating replaces the old one."""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from functools import cache, partial

from sqlalchemy import delete, select
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.ext.asyncio import AsyncSession

from service.core.config import Settings
from service.core.errors import InvalidInput
from service.core.rating_rules import rating_problem, timestamp_problem
from service.db.models import Rating
from service.schemas.ratings import RatingCreate, RatingPublic


@cache
def _upsert_statement(dialect: str):
    """Built once per dialect: constructing an upsert (its ``excluded`` columns) costs
    more Python than executing it."""
    upsert = (pg_insert if dialect == "postgresql" else sqlite_insert)(Rating)
    return upsert.on_conflict_do_update(
        index_elements=[Rating.user_id, Rating.movie_id],
        set_={"rating": upsert.excluded.rating, "timestamp": upsert.excluded.timestamp},
    )


def check_rating(settings: Settings, payload: RatingCreate, now: float, field_of: Callable[[str], str]) -> None:
    if problem := rating_problem(payload.rating, settings.rating_min, settings.rating_max):
        raise InvalidInput(problem, field=field_of("rating"))
    if payload.timestamp is not None and (problem := timestamp_problem(payload.timestamp, now)):
        raise InvalidInput(problem, field=field_of("timestamp"))


def checked(
    settings: Settings, payloads: Sequence[RatingCreate], field_prefix: str = ""
) -> dict[tuple[int, int], RatingPublic]:
    """Every rating checked against the scale and the clock (the first bad one is a 422
    naming its field), keyed by (user, movie): within one batch the last one wins."""
    now = time.time()
    latest: dict[tuple[int, int], RatingPublic] = {}
    for index, payload in enumerate(payloads):
        check_rating(settings, payload, now, partial(_field, field_prefix, index))
        latest[(payload.user_id, payload.movie_id)] = RatingPublic(
            user_id=payload.user_id,
            movie_id=payload.movie_id,
            rating=payload.rating,
            timestamp=payload.timestamp if payload.timestamp is not None else int(now),
        )
    return latest


async def write(session: AsyncSession, ratings: Sequence[RatingPublic]) -> None:
    """Upsert in the caller's transaction, in the order given: callers pass key order,
    as the archive import writes, so two writers of overlapping rows take their row
    locks in the same order and cannot deadlock."""
    await session.execute(_upsert_statement(session.bind.dialect.name), [r.model_dump() for r in ratings])


def _field(prefix: str, index: int, name: str) -> str:
    return f"{prefix}[{index}].{name}" if prefix else name


async def user_ratings(session: AsyncSession, user_id: int) -> list[RatingPublic]:
    rows = await session.scalars(
        select(Rating).where(Rating.user_id == user_id).order_by(Rating.timestamp.desc(), Rating.movie_id)
    )
    return [RatingPublic(user_id=r.user_id, movie_id=r.movie_id, rating=r.rating, timestamp=r.timestamp) for r in rows]


async def delete_rating(session: AsyncSession, user_id: int, movie_id: int) -> None:
    await session.execute(delete(Rating).where(Rating.user_id == user_id, Rating.movie_id == movie_id))
