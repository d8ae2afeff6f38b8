"""Real-time learning: every rating re-solves its user's state against the active model
before the request answers (MF and iALS: the user's factors against the fixed item side;
EASE scores straight from the ratings), and is first scored as an unseen test case by
types that predict ratings.

The state is stored in ``user_states`` (tagged with the model version and a revision
that counts the user's writes). Writes for one user are serialized until their
transaction ends (advisory locks on PostgreSQL, striped process locks on the embedded
SQLite), and each reads the user's ratings from the database under that lock, so the
state is solved from exactly what is stored. After the commit the writing process
serves the user as written, and the change feed tells every other process.

A write costs a fixed number of statements however many users a batch names: the
lock, the users' ratings and states, the rating upsert, the prequential predictions
and the state upsert.
"""

from __future__ import annotations

import asyncio
import time
import weakref
from collections import defaultdict
from collections.abc import Iterable, Sequence
from functools import cache

import numpy as np
from sqlalchemy import BigInteger, bindparam, func, insert, select
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.ext.asyncio import AsyncSession

from service.core.config import Settings
from service.core.errors import NotFound
from service.db.hooks import after_commit, at_transaction_end
from service.db.models import LivePrediction, UserState, utcnow
from service.schemas.ratings import FoldInResult, RatingCreate, RatingPublic
from service.services import ratings as rating_store
from service.services.model_registry import LoadedModel, ModelRegistry
from service.serving.loader import fetch_users
from service.serving.state import ServingState
from service.serving.users import STATE_DTYPE, UserRecord

LOCK_STRIPES = 64
USER_LOCK_BASE = 0x7573_6572 << 32  # advisory keys USER_LOCK_BASE + stripe: apart from the versions lock
_stripes_by_loop: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, list[asyncio.Lock]] = (
    weakref.WeakKeyDictionary()
)


@cache
def _state_upsert(dialect: str):
    """Built once per dialect (see ratings._upsert_statement)."""
    upsert = (pg_insert if dialect == "postgresql" else sqlite_insert)(UserState)
    replace = {name: upsert.excluded[name] for name in ("model_version", "state", "n_ratings", "revision", "updated_at")}
    return upsert.on_conflict_do_update(index_elements=[UserState.user_id], set_=replace)


_ADVISORY_LOCK = select(func.pg_advisory_xact_lock(bindparam("key", type_=BigInteger)))


def user_lock_stripes(user_ids: Iterable[int]) -> list[int]:
    """The lock stripes of these users, in the order every writer takes them (the
    advisory lock key of a stripe is ``USER_LOCK_BASE + stripe``)."""
    return sorted({user_id % LOCK_STRIPES for user_id in user_ids})


async def _lock_users(session: AsyncSession, user_ids: Iterable[int]) -> None:
    """Serialize writers of the same user until this transaction ends.

    Users hash onto a fixed number of stripes, so a transaction holds at most
    ``LOCK_STRIPES`` locks however many users a batch names (a lock per user exhausted
    PostgreSQL's shared lock table), taken in a fixed order so batches cannot deadlock.
    PostgreSQL: transaction-scoped advisory locks, shared by every process. The embedded
    SQLite runs in one process: asyncio locks, released by the session dependency when
    the transaction ends."""
    stripes = user_lock_stripes(user_ids)
    if session.bind.dialect.name == "postgresql":
        for stripe in stripes:
            await session.execute(_ADVISORY_LOCK, {"key": USER_LOCK_BASE + stripe})
        return
    locks = _stripes_by_loop.setdefault(
        asyncio.get_running_loop(), [asyncio.Lock() for _ in range(LOCK_STRIPES)]
    )
    for stripe in stripes:
        await locks[stripe].acquire()
        at_transaction_end(session, locks[stripe].release)


async def rate(
    session: AsyncSession,
    settings: Settings,
    registry: ModelRegistry,
    serving: ServingState,
    payloads: Sequence[RatingCreate],
    *,
    field_prefix: str = "",
) -> tuple[list[RatingPublic], set[tuple[int, int]], dict[int, FoldInResult]]:
    """Store ratings, record the prequential predictions, fold each user in once.
    Returns the stored ratings, the (user, movie) pairs they replaced and each user's fold-in."""
    latest = rating_store.checked(settings, payloads, field_prefix)
    await _require_movies(session, serving, payloads, field_prefix)
    user_ids = sorted({user_id for user_id, _ in latest})
    await _lock_users(session, user_ids)
    before = {r.user_id: r for r in await fetch_users(session, user_ids)}
    replaced = {(u, m) for u, m in latest if m in before[u].rated()}
    await rating_store.write(session, [latest[pair] for pair in sorted(latest)])

    by_user: defaultdict[int, list[RatingPublic]] = defaultdict(list)
    for rating in latest.values():
        by_user[rating.user_id].append(rating)
    after = {u: {**before[u].rated(), **{r.movie_id: r.rating for r in new}} for u, new in by_user.items()}
    loaded = registry.current
    predictions = _predictions_before(loaded, serving, before, by_user) if loaded is not None else {}
    if predictions:
        await session.execute(insert(LivePrediction), [
            {"user_id": r.user_id, "movie_id": r.movie_id, "model_version": loaded.version,
             "predicted": p, "actual": r.rating, "created_at": utcnow()}
            for user_id, new in by_user.items()
            for r, p in zip(new, predictions[user_id], strict=True)
        ])
    latency = await _store_states(session, serving, loaded, before, after)
    results = {
        user_id: FoldInResult(
            model_version=loaded.version if loaded else None, folded_in=loaded is not None,
            latency_ms=latency if loaded else None,
            predicted_before=predictions[user_id][-1] if predictions else None,
        )
        for user_id in by_user
    }
    return list(latest.values()), replaced, results


async def unrate(
    session: AsyncSession, registry: ModelRegistry, serving: ServingState, user_id: int, movie_id: int
) -> FoldInResult:
    await _lock_users(session, [user_id])
    (before,) = await fetch_users(session, [user_id])
    rated = before.rated()
    if rated.pop(movie_id, None) is None:
        raise NotFound(f"user {user_id} has not rated movie {movie_id}", field="movie_id")
    await rating_store.delete_rating(session, user_id, movie_id)
    loaded = registry.current
    latency = await _store_states(session, serving, loaded, {user_id: before}, {user_id: rated})
    if loaded is None:
        return FoldInResult(model_version=None, folded_in=False)
    return FoldInResult(model_version=loaded.version, folded_in=True, latency_ms=latency)


async def _require_movies(
    session: AsyncSession, serving: ServingState, payloads: Sequence[RatingCreate], field_prefix: str
) -> None:
    known = await serving.known_movies(session, (p.movie_id for p in payloads))
    for index, payload in enumerate(payloads):
        if payload.movie_id not in known:
            field = f"{field_prefix}[{index}].movie_id" if field_prefix else "movie_id"
            raise NotFound(f"movie {payload.movie_id} not found", field=field)


def _predictions_before(
    loaded: LoadedModel, serving: ServingState, before: dict[int, UserRecord], by_user: dict[int, list[RatingPublic]]
) -> dict[int, list[float]]:
    """Each new rating as the model predicted it before learning it, for all users at once
    (types that only rank movies predict no ratings, so they record none)."""
    model = loaded.model
    users = list(by_user)
    if not users or not model.predicts_ratings:
        return {}
    counts = [len(by_user[u]) for u in users]
    rows = np.repeat(np.arange(len(users)), counts)
    movies = np.fromiter((r.movie_id for u in users for r in by_user[u]), dtype=np.int64, count=len(rows))
    values = np.empty(len(rows))
    profiles = [serving.profile(loaded, before[u]) for u in users]
    has_profile = np.array([p is not None for p in profiles])[rows]
    if has_profile.any():
        known = [p for p in profiles if p is not None]
        remap = np.cumsum([p is not None for p in profiles]) - 1
        values[has_profile] = model.predict_profiles(known, remap[rows[has_profile]], movies[has_profile])
    if not has_profile.all():  # no profile: the model's own estimate (bias-only for a new user)
        values[~has_profile] = model.predict(np.asarray(users)[rows[~has_profile]], movies[~has_profile])
    bounds = np.cumsum([0, *counts])
    return {u: values[bounds[k] : bounds[k + 1]].tolist() for k, u in enumerate(users)}


async def _store_states(
    session: AsyncSession,
    serving: ServingState,
    loaded: LoadedModel | None,
    before: dict[int, UserRecord],
    after: dict[int, dict[int, float]],
) -> float:
    """Solve the users from their ratings as written (one vectorized solve), store their
    states with the next revision, and serve them so once the transaction commits.
    Without an active model the state is empty and tagged with no version. Returns the
    solve's latency in ms."""
    user_ids = list(after)
    rows = np.repeat(np.arange(len(user_ids)), [len(after[u]) for u in user_ids])
    movies = np.fromiter((m for u in user_ids for m in sorted(after[u])), dtype=np.int64, count=len(rows))
    values = np.fromiter((after[u][m] for u in user_ids for m in sorted(after[u])), dtype=np.float64, count=len(rows))
    started = time.perf_counter()
    if loaded is not None:
        solved = loaded.model.user_states(rows, movies, values, n_rows=len(user_ids)).astype(STATE_DTYPE)
    else:
        solved = np.zeros((len(user_ids), 0), dtype=STATE_DTYPE)
    latency = (time.perf_counter() - started) * 1000
    version = loaded.version if loaded is not None else None
    bounds = np.cumsum([0, *(len(after[u]) for u in user_ids)])
    records = [
        UserRecord(user_id, movies[bounds[k] : bounds[k + 1]], values[bounds[k] : bounds[k + 1]], version,
                   solved[k].copy(), before[user_id].revision + 1)
        for k, user_id in enumerate(user_ids)
    ]
    now = utcnow()
    await session.execute(_state_upsert(session.bind.dialect.name), [
        {"user_id": r.user_id, "model_version": version, "state": r.state.tobytes(), "n_ratings": len(r.movies),
         "revision": r.revision, "updated_at": now}
        for r in records
    ])

    async def serve_as_written(_: AsyncSession) -> None:
        await serving.users_written(records)

    after_commit(session, serve_as_written)
    return latency
