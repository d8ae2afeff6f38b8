"""Real-time learning: every rating re-solves its user against the active model's fixed
item factors before the request answers, and is first scored as an unseen test case.

The folded vector is stored in ``user_states`` (tagged with the model version) so every
API process serves it from the next request on. Writes for one user are serialized
until their transaction ends (advisory locks on PostgreSQL, striped process locks on the
embedded SQLite), so the last write of each movie is what the stored vector was solved from.
"""

from __future__ import annotations

import asyncio
import time
import weakref
from collections import defaultdict
from collections.abc import Iterable, Sequence

import numpy as np
from sqlalchemy import func, select
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.ext.asyncio import AsyncSession

from recsys_core.model import UserVector
from service.core.config import Settings
from service.db.hooks import at_transaction_end
from service.db.models import LivePrediction, Rating, UserState, utcnow
from service.schemas.ratings import FoldInResult, RatingCreate, RatingPublic
from service.services import ratings as rating_store
from service.services.model_registry import LoadedModel, ModelRegistry

FACTOR_DTYPE = np.float64
LOCK_STRIPES = 256
_stripes_by_loop: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, list[asyncio.Lock]] = (
    weakref.WeakKeyDictionary()
)


async def rated_by(session: AsyncSession, user_id: int) -> dict[int, float]:
    rows = await session.execute(select(Rating.movie_id, Rating.rating).where(Rating.user_id == user_id))
    return {movie_id: rating for movie_id, rating in rows}


async def current_vector(
    session: AsyncSession, loaded: LoadedModel, user_id: int, rated: dict[int, float] | None = None
) -> UserVector | None:
    """The user's vector under the active version.

    A user who rated since the version was trained has a folded state. A state folded
    into another version (ratings that arrived while a newer model trained, or just
    before it was activated) is re-solved from the stored ratings against the active
    version, so no rating is forgotten across a switch. Everyone else has their trained
    vector. ``rated`` saves a query when the caller already has the user's ratings.
    """
    state = await session.get(UserState, user_id)
    if state is None:
        return loaded.model.user_vector(user_id)
    if state.model_version == loaded.version:
        if state.n_ratings == 0:
            return None
        return UserVector(bias=state.bias, factors=np.frombuffer(state.factors, dtype=FACTOR_DTYPE))
    rated = rated if rated is not None else await rated_by(session, user_id)
    return loaded.model.solve_user(list(rated), list(rated.values())) if rated else None


async def _lock_users(session: AsyncSession, user_ids: Iterable[int]) -> None:
    """Serialize writers of the same user until this transaction ends.

    PostgreSQL: transaction-scoped advisory locks, shared by every process. The embedded
    SQLite runs in one process: a fixed table of striped asyncio locks, released by the
    session dependency when the transaction ends. Both take locks in a fixed order, so
    two batches cannot deadlock."""
    ids = sorted(set(user_ids))
    if session.bind.dialect.name == "postgresql":
        for user_id in ids:
            await session.execute(select(func.pg_advisory_xact_lock(user_id)))
        return
    stripes = _stripes_by_loop.setdefault(
        asyncio.get_running_loop(), [asyncio.Lock() for _ in range(LOCK_STRIPES)]
    )
    for index in sorted({user_id % LOCK_STRIPES for user_id in ids}):
        await stripes[index].acquire()
        at_transaction_end(session, stripes[index].release)


async def rate(
    session: AsyncSession,
    settings: Settings,
    registry: ModelRegistry,
    payloads: Sequence[RatingCreate],
    *,
    field_prefix: str = "",
) -> tuple[list[RatingPublic], set[tuple[int, int]], dict[int, FoldInResult]]:
    """Store ratings, record the prequential predictions, fold each user in once."""
    user_ids = sorted({p.user_id for p in payloads})
    await _lock_users(session, user_ids)
    loaded = registry.current
    before: dict[int, UserVector | None] = {}
    if loaded is not None:
        for user_id in user_ids:
            before[user_id] = await current_vector(session, loaded, user_id)

    stored, replaced = await rating_store.upsert_ratings(session, settings, payloads, field_prefix=field_prefix)
    if loaded is None:
        unfolded = FoldInResult(model_version=None, folded_in=False)
        return stored, replaced, {u: unfolded for u in user_ids}

    results: dict[int, FoldInResult] = {}
    by_user: defaultdict[int, list[RatingPublic]] = defaultdict(list)
    for rating in stored:
        by_user[rating.user_id].append(rating)
    for user_id, new in by_user.items():
        predictions = _predict_before(loaded, before[user_id], new)
        session.add_all(
            LivePrediction(user_id=user_id, movie_id=r.movie_id, model_version=loaded.version,
                           predicted=p, actual=r.rating)
            for r, p in zip(new, predictions, strict=True)
        )
        latency = await fold_user(session, loaded, user_id)
        results[user_id] = FoldInResult(
            model_version=loaded.version, folded_in=True, latency_ms=latency, predicted_before=predictions[-1]
        )
    return stored, replaced, results


def _predict_before(loaded: LoadedModel, vector: UserVector | None, new: list[RatingPublic]) -> list[float]:
    movie_ids = [r.movie_id for r in new]
    model = loaded.model
    if vector is None:
        values = model.predict([new[0].user_id] * len(movie_ids), movie_ids)
    else:
        values = model.predict_vector(vector, movie_ids)
    return [float(v) for v in values]


async def fold_user(session: AsyncSession, loaded: LoadedModel, user_id: int) -> float:
    """Re-solve one user from all their ratings; returns the solve's latency in ms."""
    rated = await rated_by(session, user_id)
    started = time.perf_counter()
    if rated:
        vector = loaded.model.solve_user(list(rated), list(rated.values()))
        bias, factors = float(vector.bias), np.asarray(vector.factors, dtype=FACTOR_DTYPE)
    else:
        bias, factors = 0.0, np.zeros(loaded.model.params.n_factors, dtype=FACTOR_DTYPE)
    latency = (time.perf_counter() - started) * 1000
    values = {"model_version": loaded.version, "bias": bias, "factors": factors.tobytes(),
              "n_ratings": len(rated), "updated_at": utcnow()}
    insert = (pg_insert if session.bind.dialect.name == "postgresql" else sqlite_insert)(UserState)
    await session.execute(
        insert.values(user_id=user_id, **values).on_conflict_do_update(index_elements=[UserState.user_id], set_=values)
    )
    return latency


async def unrate(session: AsyncSession, registry: ModelRegistry, user_id: int, movie_id: int) -> FoldInResult:
    await _lock_users(session, [user_id])
    await rating_store.delete_rating(session, user_id, movie_id)
    loaded = registry.current
    if loaded is None:
        return FoldInResult(model_version=None, folded_in=False)
    latency = await fold_user(session, loaded, user_id)
    return FoldInResult(model_version=loaded.version, folded_in=True, latency_ms=latency)

