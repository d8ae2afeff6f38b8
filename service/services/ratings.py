"""Ratings: one per user and movie; a re-rating replaces the old one."""

from __future__ import annotations

import time
from collections.abc import Sequence

from sqlalchemy import delete, select
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.ext.asyncio import AsyncSession

from service.core.config import Settings
from service.core.errors import InvalidInput, NotFound
from service.db.models import Rating
from service.schemas.ratings import RatingCreate, RatingPublic
from service.services.catalog import known_movie_ids


def _upsert(session: AsyncSession):
    return pg_insert if session.bind.dialect.name == "postgresql" else sqlite_insert


def check_scale(settings: Settings, rating: float, field: str = "rating") -> None:
    if not settings.rating_min <= rating <= settings.rating_max:
        raise InvalidInput(
            f"rating must be between {settings.rating_min} and {settings.rating_max}, got {rating}",
            field=field,
        )


async def upsert_ratings(
    session: AsyncSession, settings: Settings, payloads: Sequence[RatingCreate], *, field_prefix: str = ""
) -> tuple[list[RatingPublic], set[tuple[int, int]]]:
    """Validate all, then write all in the caller's transaction. Within one batch the last
    rating of a (user, movie) pair wins. Returns the stored ratings and the pairs replaced."""
    for index, payload in enumerate(payloads):
        check_scale(settings, payload.rating, _field(field_prefix, index, "rating"))
    known = await known_movie_ids(session, (p.movie_id for p in payloads))
    for index, payload in enumerate(payloads):
        if payload.movie_id not in known:
            raise NotFound(f"movie {payload.movie_id} not found", field=_field(field_prefix, index, "movie_id"))

    now = int(time.time())
    latest: dict[tuple[int, int], RatingPublic] = {}
    for payload in payloads:
        latest[(payload.user_id, payload.movie_id)] = RatingPublic(
            user_id=payload.user_id,
            movie_id=payload.movie_id,
            rating=payload.rating,
            timestamp=payload.timestamp if payload.timestamp is not None else now,
        )
    replaced = await _existing_pairs(session, list(latest))
    rows = [r.model_dump() for r in latest.values()]
    insert = _upsert(session)(Rating).values(rows)
    await session.execute(
        insert.on_conflict_do_update(
            index_elements=[Rating.user_id, Rating.movie_id],
            set_={"rating": insert.excluded.rating, "timestamp": insert.excluded.timestamp},
        )
    )
    return list(latest.values()), replaced


def _field(prefix: str, index: int, name: str) -> str:
    return f"{prefix}[{index}].{name}" if prefix else name


async def _existing_pairs(session: AsyncSession, pairs: list[tuple[int, int]]) -> set[tuple[int, int]]:
    found: set[tuple[int, int]] = set()
    by_user: dict[int, list[int]] = {}
    for user_id, movie_id in pairs:
        by_user.setdefault(user_id, []).append(movie_id)
    for user_id, movie_ids in by_user.items():
        rows = await session.scalars(
            select(Rating.movie_id).where(Rating.user_id == user_id, Rating.movie_id.in_(movie_ids))
        )
        found.update((user_id, m) for m in rows)
    return found


async def user_ratings(session: AsyncSession, user_id: int) -> list[RatingPublic]:
    rows = await session.scalars(
        select(Rating).where(Rating.user_id == user_id).order_by(Rating.timestamp.desc(), Rating.movie_id)
    )
    return [RatingPublic(user_id=r.user_id, movie_id=r.movie_id, rating=r.rating, timestamp=r.timestamp) for r in rows]


async def delete_rating(session: AsyncSession, user_id: int, movie_id: int) -> None:
    deleted = await session.execute(
        delete(Rating).where(Rating.user_id == user_id, Rating.movie_id == movie_id)
    )
    if deleted.rowcount == 0:
        raise NotFound(f"user {user_id} has not rated movie {movie_id}", field="movie_id")
