"""The statements of a rating's transaction: lock its users and read them, then write
the ratings, the prequential predictions and the users' states.

Writers of the same user are serialized until their transaction ends. Users hash onto
``LOCK_STRIPES`` stripes, so a transaction holds at most that many locks however many
users a batch names, taken in one order so batches cannot deadlock.

PostgreSQL: each step is one round trip, because under load every round trip waits
behind the requests that share the API's event loop. The lock and the reads are one
call of ``recsys_lock_and_read_users`` (migration 0005: transaction-scoped advisory
locks, then the reads, each with a fresh snapshot). The writes are one statement of
data-modifying CTEs over arrays, in key order. SQLite (the embedded mode: one process)
takes asyncio locks, released when the transaction ends, and runs plain statements.
"""

from __future__ import annotations

import asyncio
import weakref
from collections.abc import Iterable, Sequence
from datetime import datetime
from functools import cache

from sqlalchemy import insert, text
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.ext.asyncio import AsyncSession

from service.db.hooks import at_transaction_end
from service.db.models import LivePrediction, UserState
from service.schemas.ratings import RatingPublic
from service.services import ratings as rating_store
from service.serving.loader import fetch_users, record_of
from service.serving.users import UserRecord

LOCK_STRIPES = 1024  # two batches of ten users share a stripe 9% of the time (64: 82%); at most 1024 locks a transaction
USER_LOCK_BASE = 0x7573_6572 << 32  # advisory keys USER_LOCK_BASE + stripe: apart from the versions lock
_stripes_by_loop: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, list[asyncio.Lock]] = (
    weakref.WeakKeyDictionary()
)

Prediction = tuple[int, int, int, float, float]  # user, movie, version that predicted, predicted before, actual

_LOCK_AND_READ = text(
    "SELECT o_user, o_movie, o_rating, o_version, o_state, o_revision "
    "FROM recsys_lock_and_read_users(CAST(:keys AS bigint[]), CAST(:users AS bigint[]))"
)
_WRITE_ALL = text("""
WITH rated AS (
    INSERT INTO ratings (user_id, movie_id, rating, "timestamp")
    SELECT * FROM unnest(CAST(:r_user AS bigint[]), CAST(:r_movie AS bigint[]),
                         CAST(:r_rating AS double precision[]), CAST(:r_time AS bigint[]))
    ON CONFLICT (user_id, movie_id) DO UPDATE SET rating = EXCLUDED.rating, "timestamp" = EXCLUDED."timestamp"
    RETURNING 1
), predicted AS (
    INSERT INTO live_predictions (user_id, movie_id, model_version, predicted, actual, created_at)
    SELECT u, m, pv, p, a, CAST(:now AS timestamptz)
    FROM unnest(CAST(:p_user AS bigint[]), CAST(:p_movie AS bigint[]), CAST(:p_version AS integer[]),
                CAST(:p_predicted AS double precision[]), CAST(:p_actual AS double precision[])) AS t(u, m, pv, p, a)
    RETURNING 1
)
INSERT INTO user_states (user_id, model_version, state, n_ratings, revision, updated_at)
SELECT u, sv, s, n, v, CAST(:now AS timestamptz)
FROM unnest(CAST(:s_user AS bigint[]), CAST(:s_version AS integer[]), CAST(:s_state AS bytea[]),
            CAST(:s_count AS integer[]), CAST(:s_revision AS bigint[])) AS t(u, sv, s, n, v)
ON CONFLICT (user_id) DO UPDATE SET model_version = EXCLUDED.model_version, state = EXCLUDED.state,
    n_ratings = EXCLUDED.n_ratings, revision = EXCLUDED.revision, updated_at = EXCLUDED.updated_at
""")


def user_lock_stripes(user_ids: Iterable[int]) -> list[int]:
    """The lock stripes of these users, in the order every writer takes them (the
    advisory lock key of a stripe is ``USER_LOCK_BASE + stripe``)."""
    return sorted({user_id % LOCK_STRIPES for user_id in user_ids})


async def lock_and_read(session: AsyncSession, user_ids: Sequence[int]) -> dict[int, UserRecord]:
    """Lock these users until the transaction ends, then read them as stored."""
    if session.bind.dialect.name == "postgresql":
        keys = [USER_LOCK_BASE + stripe for stripe in user_lock_stripes(user_ids)]
        rated: dict[int, list[tuple[int, float]]] = {u: [] for u in user_ids}
        states: dict[int, tuple[int | None, bytes, int]] = {}
        for user_id, movie_id, rating, version, state, revision in await session.execute(
            _LOCK_AND_READ, {"keys": keys, "users": list(user_ids)}
        ):
            if movie_id is not None:
                rated[user_id].append((movie_id, rating))
            else:
                states[user_id] = (version, state, revision)
        return {u: record_of(u, sorted(rated[u]), *states.get(u, (None, None, 0))) for u in user_ids}
    locks = _stripes_by_loop.setdefault(asyncio.get_running_loop(), [asyncio.Lock() for _ in range(LOCK_STRIPES)])
    for stripe in user_lock_stripes(user_ids):
        await locks[stripe].acquire()
        at_transaction_end(session, locks[stripe].release)
    return {r.user_id: r for r in await fetch_users(session, user_ids)}


async def write(
    session: AsyncSession,
    ratings: Sequence[RatingPublic],
    predictions: Sequence[Prediction],
    states: Sequence[UserRecord],
    now: datetime,
) -> None:
    """Ratings (in the order given: key order), predictions and states, in the caller's
    transaction; each state row carries its record's version and revision (users of an
    experiment's arm are folded into the arm's version)."""
    if session.bind.dialect.name == "postgresql":
        await session.execute(_WRITE_ALL, {
            "r_user": [r.user_id for r in ratings], "r_movie": [r.movie_id for r in ratings],
            "r_rating": [r.rating for r in ratings], "r_time": [r.timestamp for r in ratings],
            "p_user": [p[0] for p in predictions], "p_movie": [p[1] for p in predictions],
            "p_version": [p[2] for p in predictions],
            "p_predicted": [p[3] for p in predictions], "p_actual": [p[4] for p in predictions],
            "s_user": [s.user_id for s in states], "s_version": [s.state_version for s in states],
            "s_state": [s.state.tobytes() for s in states],
            "s_count": [len(s.movies) for s in states], "s_revision": [s.revision for s in states],
            "now": now,
        })
        return
    if ratings:
        await rating_store.write(session, ratings)
    if predictions:
        await session.execute(insert(LivePrediction), [
            {"user_id": u, "movie_id": m, "model_version": v, "predicted": p, "actual": a, "created_at": now}
            for u, m, v, p, a in predictions
        ])
    await write_states(session, states, now)


async def write_states(session: AsyncSession, states: Sequence[UserRecord], now: datetime) -> None:
    """Each state tagged with the version it was solved for (its record's ``state_version``)."""
    await session.execute(_state_upsert(session.bind.dialect.name), [
        {"user_id": s.user_id, "model_version": s.state_version, "state": s.state.tobytes(), "n_ratings": len(s.movies),
         "revision": s.revision, "updated_at": now}
        for s in states
    ])


@cache
def _state_upsert(dialect: str):
    """Built once per dialect: constructing an upsert costs more Python than executing it."""
    upsert = (pg_insert if dialect == "postgresql" else sqlite_insert)(UserState)
    replace = {name: upsert.excluded[name] for name in ("model_version", "state", "n_ratings", "revision", "updated_at")}
    return upsert.on_conflict_do_update(index_elements=[UserState.user_id], set_=replace)
