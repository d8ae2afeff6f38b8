"""Reads what serving keeps in memory from the database: everything at start or on a
resync, and single users or movies when the change feed names them."""

from __future__ import annotations

import asyncio
import io
from collections.abc import Sequence

import numpy as np
import pandas as pd
from sqlalchemy import bindparam, select
from sqlalchemy.ext.asyncio import AsyncSession

from service.db.models import Movie, MovieGenre, Rating, UserState
from service.schemas.movies import MoviePublic
from service.services.catalog import movies_by_id
from service.serving.catalogue import Catalogue
from service.serving.users import STATE_DTYPE, Rows, UserRecord, UserStore

CHUNK = 1_000  # ids per IN (...): inside PostgreSQL's and SQLite's parameter limits


async def load_users(session: AsyncSession) -> UserStore:
    rows = await _load_rows(session)
    states = await session.execute(
        select(UserState.user_id, UserState.model_version, UserState.state, UserState.revision)
    )
    return UserStore(rows, (record_of(u, None, v, s, r) for u, v, s, r in states))


async def _load_rows(session: AsyncSession) -> Rows:
    if session.bind.dialect.name != "postgresql":
        triples = (await session.execute(select(Rating.user_id, Rating.movie_id, Rating.rating))).all()
        array = np.array(triples, dtype=np.float64).reshape(-1, 3)
        return Rows.from_triples(array[:, 0].astype(np.int64), array[:, 1].astype(np.int64), array[:, 2])
    # COPY streams the table as text at a fraction of the cost of fetching row objects
    # (20M ratings: seconds, not minutes); pandas parses it in a thread.
    connection = await (await session.connection()).get_raw_connection()
    text = bytearray()
    async with connection.driver_connection.cursor() as cursor:
        async with cursor.copy("COPY ratings (user_id, movie_id, rating) TO STDOUT") as copy:
            async for block in copy:
                text += block
    return await asyncio.to_thread(_parse_rows, bytes(text))


def _parse_rows(text: bytes) -> Rows:
    frame = pd.read_csv(io.BytesIO(text), sep="\t", header=None, names=["u", "m", "r"],
                        dtype={"u": np.int64, "m": np.int64, "r": np.float64})
    return Rows.from_triples(frame["u"].to_numpy(), frame["m"].to_numpy(), frame["r"].to_numpy())


# Built once: on the write path their construction cost more than their execution.
_RATINGS_OF = select(Rating.user_id, Rating.movie_id, Rating.rating).where(
    Rating.user_id.in_(bindparam("ids", expanding=True))
)
_STATES_OF = select(UserState.user_id, UserState.model_version, UserState.state, UserState.revision).where(
    UserState.user_id.in_(bindparam("ids", expanding=True))
)


async def fetch_users(session: AsyncSession, user_ids: Sequence[int]) -> list[UserRecord]:
    """These users as the database has them now (a user with nothing stored comes back empty)."""
    rated: dict[int, list[tuple[int, float]]] = {u: [] for u in user_ids}
    states: dict[int, tuple[int | None, bytes, int]] = {}
    for start in range(0, len(user_ids), CHUNK):
        chunk = {"ids": list(user_ids[start : start + CHUNK])}
        for user_id, movie_id, rating in await session.execute(_RATINGS_OF, chunk):
            rated[user_id].append((movie_id, rating))
        for user_id, version, state, revision in await session.execute(_STATES_OF, chunk):
            states[user_id] = (version, state, revision)
    return [record_of(u, sorted(rated[u]), *states.get(u, (None, None, 0))) for u in user_ids]


def record_of(
    user_id: int, rated: list[tuple[int, float]] | None, version: int | None, state: bytes | None, revision: int
) -> UserRecord:
    pairs = rated or []
    return UserRecord(
        user_id,
        np.array([m for m, _ in pairs], dtype=np.int64),
        np.array([r for _, r in pairs], dtype=np.float64),
        version,
        np.frombuffer(state, dtype=STATE_DTYPE) if state is not None else None,
        revision,
    )


async def load_catalogue(session: AsyncSession) -> Catalogue:
    genres: dict[int, list[str]] = {}
    for movie_id, genre in await session.execute(select(MovieGenre.movie_id, MovieGenre.genre)):
        genres.setdefault(movie_id, []).append(genre)
    movies = await session.execute(select(Movie.id, Movie.title, Movie.year))
    return Catalogue(
        MoviePublic(id=i, title=t, year=y, genres=sorted(genres.get(i, []))) for i, t, y in movies
    )


async def fetch_movies(session: AsyncSession, movie_ids: Sequence[int]) -> list[MoviePublic]:
    found: list[MoviePublic] = []
    for start in range(0, len(movie_ids), CHUNK):
        found.extend((await movies_by_id(session, movie_ids[start : start + CHUNK])).values())
    return found
