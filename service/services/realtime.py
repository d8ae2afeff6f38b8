"""Real-time learning: every rating re-solves its user's state against the active model
before the request answers (MF and iALS: the user's factors against the fixed item side;
EASE scores straight from the ratings), and is first scored as an unseen test case by
types that predict ratings.

The state is stored in ``user_states`` (tagged with the model version) so every API
process serves it from the next request on. Writes for one user are serialized
until their transaction ends (advisory locks on PostgreSQL, striped process locks on the
embedded SQLite), so the last write of each movie is what the stored state was solved from.
"""

from __future__ import annotations

import asyncio
import time
import weakref
from collections import defaultdict
from collections.abc import Iterable, Sequence

import numpy as np
from sqlalchemy import func, insert, select
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.ext.asyncio import AsyncSession

from recsys_core.recommender import UserProfile
from service.core.config import Settings
from service.db.hooks import at_transaction_end
from service.db.models import LivePrediction, Rating, UserState, utcnow
from service.schemas.ratings import FoldInResult, RatingCreate, RatingPublic
from service.services import ratings as rating_store
from service.services.model_registry import LoadedModel, ModelRegistry

STATE_DTYPE = np.float64
LOCK_STRIPES = 64
USER_LOCK_BASE = 0x7573_6572 << 32  # advisory keys USER_LOCK_BASE + stripe: apart from the versions lock
_stripes_by_loop: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, list[asyncio.Lock]] = (
    weakref.WeakKeyDictionary()
)


async def rated_by(session: AsyncSession, user_id: int) -> dict[int, float]:
    rows = await session.execute(select(Rating.movie_id, Rating.rating).where(Rating.user_id == user_id))
    return {movie_id: rating for movie_id, rating in rows}


async def ratings_of(session: AsyncSession, user_ids: Sequence[int]) -> dict[int, dict[int, float]]:
    """Every listed user's ratings, a few statements however many users there are."""
    rated: dict[int, dict[int, float]] = {user_id: {} for user_id in user_ids}
    for chunk in _chunks(user_ids):
        rows = await session.execute(
            select(Rating.user_id, Rating.movie_id, Rating.rating).where(Rating.user_id.in_(chunk))
        )
        for user_id, movie_id, rating in rows:
            rated[user_id][movie_id] = rating
    return rated


async def _states_of(session: AsyncSession, user_ids: Sequence[int]) -> dict[int, UserState]:
    states: dict[int, UserState] = {}
    for chunk in _chunks(user_ids):
        states.update((s.user_id, s) for s in await session.scalars(select(UserState).where(UserState.user_id.in_(chunk))))
    return states


def _chunks(values: Sequence[int], size: int = rating_store.CHUNK) -> Iterable[Sequence[int]]:
    return (values[start : start + size] for start in range(0, len(values), size))


async def current_profile(
    session: AsyncSession, loaded: LoadedModel, user_id: int, rated: dict[int, float] | None = None
) -> UserProfile | None:
    """The user's profile under the active version: their stored ratings and state.

    A user who rated since the version was trained has a folded state. A state folded
    into another version (ratings that arrived while a newer model trained, or just
    before it was activated) is re-solved from the stored ratings against the active
    version, so no rating is forgotten across a switch. Everyone else has their trained
    state. ``rated`` saves a query when the caller already has the user's ratings.
    """
    rated = rated if rated is not None else await rated_by(session, user_id)
    state = await session.get(UserState, user_id)
    return usable_profile(loaded, user_id, state, rated)


def usable_profile(
    loaded: LoadedModel, user_id: int, state: UserState | None, rated: dict[int, float]
) -> UserProfile | None:
    if not rated:
        # Never rated through the service: a user the model was trained on still has
        # their trained profile; anyone else is new.
        return loaded.model.trained_profile(user_id) if state is None else None
    items = np.fromiter(rated, dtype=np.int64, count=len(rated))
    values = np.fromiter(rated.values(), dtype=np.float64, count=len(rated))
    if state is not None and state.model_version == loaded.version:
        return UserProfile(items, values, np.frombuffer(state.state, dtype=STATE_DTYPE))
    if state is None and (trained := loaded.model.trained_state(user_id)) is not None:
        return UserProfile(items, values, trained)
    # No usable state: folded into another (possibly deleted) version, or a user the
    # model never saw. Whatever ratings are stored are solved for, always.
    return loaded.model.profile(items, values)


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
            await session.execute(select(func.pg_advisory_xact_lock(USER_LOCK_BASE + stripe)))
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
    payloads: Sequence[RatingCreate],
    *,
    field_prefix: str = "",
) -> tuple[list[RatingPublic], set[tuple[int, int]], dict[int, FoldInResult]]:
    """Store ratings, record the prequential predictions, fold each user in once.

    A batch costs a fixed number of statements, not a few per user."""
    user_ids = sorted({p.user_id for p in payloads})
    await _lock_users(session, user_ids)
    loaded = registry.current
    before: dict[int, UserProfile | None] = {}
    if loaded is not None and loaded.model.predicts_ratings:
        states, rated = await _states_of(session, user_ids), await ratings_of(session, user_ids)
        before = {u: usable_profile(loaded, u, states.get(u), rated[u]) for u in user_ids}

    stored, replaced = await rating_store.upsert_ratings(session, settings, payloads, field_prefix=field_prefix)
    if loaded is None:
        unfolded = FoldInResult(model_version=None, folded_in=False)
        return stored, replaced, {u: unfolded for u in user_ids}

    by_user: defaultdict[int, list[RatingPublic]] = defaultdict(list)
    for rating in stored:
        by_user[rating.user_id].append(rating)
    predictions = _predictions_before(loaded, before, by_user)
    if predictions:
        await session.execute(insert(LivePrediction), [
            {"user_id": r.user_id, "movie_id": r.movie_id, "model_version": loaded.version,
             "predicted": p, "actual": r.rating, "created_at": utcnow()}
            for user_id, new in by_user.items()
            for r, p in zip(new, predictions[user_id], strict=True)
        ])
    latency = await fold_users(session, loaded, list(by_user))
    results = {
        user_id: FoldInResult(
            model_version=loaded.version, folded_in=True, latency_ms=latency,
            predicted_before=predictions[user_id][-1] if predictions else None,
        )
        for user_id in by_user
    }
    return stored, replaced, results


def _predictions_before(
    loaded: LoadedModel, before: dict[int, UserProfile | None], by_user: dict[int, list[RatingPublic]]
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
    profiles = [before[u] for u in users]
    has_profile = np.array([p is not None for p in profiles])[rows]
    if has_profile.any():
        known = [p for p in profiles if p is not None]
        remap = np.cumsum([p is not None for p in profiles]) - 1
        values[has_profile] = model.predict_profiles(known, remap[rows[has_profile]], movies[has_profile])
    if not has_profile.all():  # no profile: the model's own estimate (bias-only for a new user)
        values[~has_profile] = model.predict(np.asarray(users)[rows[~has_profile]], movies[~has_profile])
    bounds = np.cumsum([0, *counts])
    return {u: values[bounds[k] : bounds[k + 1]].tolist() for k, u in enumerate(users)}


async def fold_users(session: AsyncSession, loaded: LoadedModel, user_ids: Sequence[int]) -> float:
    """Re-solve users from all their stored ratings, in one vectorized solve, and store
    their states; returns the solve's latency in ms."""
    rated = await ratings_of(session, user_ids)
    rows = np.repeat(np.arange(len(user_ids)), [len(rated[u]) for u in user_ids])
    movies = np.fromiter((m for u in user_ids for m in rated[u]), dtype=np.int64, count=len(rows))
    values = np.fromiter((v for u in user_ids for v in rated[u].values()), dtype=np.float64, count=len(rows))
    started = time.perf_counter()
    solved = loaded.model.user_states(rows, movies, values, n_rows=len(user_ids)).astype(STATE_DTYPE)
    latency = (time.perf_counter() - started) * 1000
    now = utcnow()
    states = [
        {"user_id": user_id, "model_version": loaded.version, "state": solved[k].tobytes(),
         "n_ratings": len(rated[user_id]), "updated_at": now}
        for k, user_id in enumerate(user_ids)
    ]
    upsert = (pg_insert if session.bind.dialect.name == "postgresql" else sqlite_insert)(UserState)
    replace = {name: upsert.excluded[name] for name in ("model_version", "state", "n_ratings", "updated_at")}
    await session.execute(upsert.on_conflict_do_update(index_elements=[UserState.user_id], set_=replace), states)
    return latency


async def unrate(session: AsyncSession, registry: ModelRegistry, user_id: int, movie_id: int) -> FoldInResult:
    await _lock_users(session, [user_id])
    await rating_store.delete_rating(session, user_id, movie_id)
    loaded = registry.current
    if loaded is None:
        return FoldInResult(model_version=None, folded_in=False)
    latency = await fold_users(session, loaded, [user_id])
    return FoldInResult(model_version=loaded.version, folded_in=True, latency_ms=latency)
