"""Ratings: one per user and movie; a re-rating replaces the old one."""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from functools import partial

from sqlalchemy import delete, select, tuple_
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.ext.asyncio import AsyncSession

from service.core.config import Settings
from service.core.errors import InvalidInput, NotFound
from service.core.rating_rules import rating_problem, timestamp_problem
from service.db.models import Rating
from service.schemas.ratings import RatingCreate, RatingPublic
from service.services.catalog import known_movie_ids

CHUNK = 1_000  # rows per statement: inside PostgreSQL's and SQLite's parameter limits


def _upsert(session: AsyncSession):
    return pg_insert if session.bind.dialect.name == "postgresql" else sqlite_insert


def check_rating(settings: Settings, payload: RatingCreate, now: float, field_of: Callable[[str], str]) -> None:
    if problem := rating_problem(payload.rating, settings.rating_min, settings.rating_max):
        raise InvalidInput(problem, field=field_of("rating"))
    if payload.timestamp is not None and (problem := timestamp_problem(payload.timestamp, now)):
        raise InvalidInput(problem, field=field_of("timestamp"))


async def upsert_ratings(
    session: AsyncSession, settings: Settings, payloads: Sequence[RatingCreate], *, field_prefix: str = ""
) -> tuple[list[RatingPublic], set[tuple[int, int]]]:
    """Validate all, then write all in the caller's transaction. Within one batch the last
    rating of a (user, movie) pair wins. Returns the stored ratings and the pairs replaced."""
    now = time.time()
    for index, payload in enumerate(payloads):
        check_rating(settings, payload, now, partial(_field, field_prefix, index))
    known = await known_movie_ids(session, (p.movie_id for p in payloads))
    for index, payload in enumerate(payloads):
        if payload.movie_id not in known:
            raise NotFound(f"movie {payload.movie_id} not found", field=_field(field_prefix, index, "movie_id"))

    latest: dict[tuple[int, int], RatingPublic] = {}
    for payload in payloads:
        latest[(payload.user_id, payload.movie_id)] = RatingPublic(
            user_id=payload.user_id,
            movie_id=payload.movie_id,
            rating=payload.rating,
            timestamp=payload.timestamp if payload.timestamp is not None else int(now),
        )
    replaced = await _existing_pairs(session, list(latest))
    # Key order, as the archive import writes: two writers of overlapping rows then take
    # their row locks in the same order and cannot deadlock.
    rows = [latest[pair].model_dump() for pair in sorted(latest)]
    upsert = _upsert(session)(Rating)
    await session.execute(
        upsert.on_conflict_do_update(
            index_elements=[Rating.user_id, Rating.movie_id],
            set_={"rating": upsert.excluded.rating, "timestamp": upsert.excluded.timestamp},
        ),
        rows,
    )
    return list(latest.values()), replaced


def _field(prefix: str, index: int, name: str) -> str:
    return f"{prefix}[{index}].{name}" if prefix else name


async def _existing_pairs(session: AsyncSession, pairs: list[tuple[int, int]]) -> set[tuple[int, int]]:
    found: set[tuple[int, int]] = set()
    for start in range(0, len(pairs), CHUNK):
        rows = await session.execute(
            select(Rating.user_id, Rating.movie_id).where(
                tuple_(Rating.user_id, Rating.movie_id).in_(pairs[start : start + CHUNK])
            )
        )
        found.update((user_id, movie_id) for user_id, movie_id in rows)
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
