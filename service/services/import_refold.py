"""Bring the real-time states of the users an import changed up to date.

The read path serves a user's folded state, or their trained vector when they have
none; after an import adds or changes their ratings, both are stale. Right after the
import commits, each changed user is re-solved from all their stored ratings against
the active model and their state is written, as a rating posted to the API would.

This runs in short transactions of a few hundred users, each holding the same
per-user locks as the rating path (user_writes.lock_and_read), so a rating posted during
the import is either seen by the solve or folded after it, never lost between the
two. The price: if the process dies between the import's commit and the end of the
refold, the users not yet refolded keep a stale vector until their next rating or the
next training (the log says how many).
"""

from __future__ import annotations

import hashlib
import logging
from collections.abc import Sequence

import numpy as np
from sqlalchemy import func, select
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.orm import Session

from recsys_core.recommender import Recommender
from recsys_core.types import load_model
from service.db import statements
from service.db.models import ModelArtifact, Rating, UserState, utcnow
from service.db.session import sync_session
from service.services.user_writes import USER_LOCK_BASE, user_lock_stripes
from service.serving.users import STATE_DTYPE

log = logging.getLogger(__name__)

USERS_PER_TRANSACTION = 500


def refold_users(user_ids: Sequence[int]) -> int:
    """Re-solve and store these users' states against the active model; returns how
    many were refolded (0 without an active model; fewer than asked after a failure,
    which is logged rather than raised)."""
    ids = sorted(set(user_ids))
    if not ids:
        return 0
    with sync_session() as session:
        active = _active_model(session)
    if active is None:
        return 0
    version, model = active
    done = 0
    try:
        for start in range(0, len(ids), USERS_PER_TRANSACTION):
            batch = ids[start : start + USERS_PER_TRANSACTION]
            with sync_session() as session:
                _lock_users(session, batch)
                _fold(session, version, model, batch)
            done += len(batch)
    except Exception:
        # The import has committed: answering it with an error would invite a retry,
        # which changes nothing and so refolds no one. Say so in the log instead.
        log.exception("refolded %d of %d users after an import; the rest keep stale vectors until "
                      "their next rating or the next training", done, len(ids))
        return done
    log.info("refolded %d users against model version %d after an import", done, version)
    return done


def _active_model(session: Session) -> tuple[int, Recommender] | None:
    active = session.scalars(statements.active_version()).first()
    if active is None:
        return None
    artifact = session.get(ModelArtifact, active.version)
    if artifact is None or hashlib.sha256(artifact.data).hexdigest() != active.artifact_checksum:
        # The API refuses this artifact too and serves another version; a state tagged
        # with a version it does not serve is re-solved on read, so skipping is safe.
        log.error("active version %s has no valid artifact; imported users are not refolded", active.version)
        return None
    return active.version, load_model(artifact.data)


def _lock_users(session: Session, user_ids: Sequence[int]) -> None:
    """The advisory locks user_writes.lock_and_read takes for these users, in its order."""
    if session.get_bind().dialect.name != "postgresql":
        return  # SQLite has one writer at a time, and a writer that read before our commit fails
    for stripe in user_lock_stripes(user_ids):
        session.execute(select(func.pg_advisory_xact_lock(USER_LOCK_BASE + stripe)))


def _fold(session: Session, version: int, model: Recommender, user_ids: Sequence[int]) -> None:
    rows = session.execute(
        select(Rating.user_id, Rating.movie_id, Rating.rating)
        .where(Rating.user_id.in_(user_ids))
    ).all()
    users = np.fromiter((r[0] for r in rows), dtype=np.int64, count=len(rows))
    movies = np.fromiter((r[1] for r in rows), dtype=np.int64, count=len(rows))
    values = np.fromiter((r[2] for r in rows), dtype=np.float64, count=len(rows))
    positions = {user_id: k for k, user_id in enumerate(user_ids)}
    rows_of = np.fromiter((positions[u] for u in users), dtype=np.int64, count=len(users))
    solved = model.user_states(rows_of, movies, values, n_rows=len(user_ids)).astype(STATE_DTYPE)
    counts = np.bincount(rows_of, minlength=len(user_ids))
    now = utcnow()
    # A user whose ratings were deleted meanwhile solves to zeros, as realtime.fold_users does.
    states = [
        {"user_id": user_id, "model_version": version, "state": solved[k].tobytes(),
         "n_ratings": int(counts[k]), "revision": 1, "updated_at": now}
        for k, user_id in enumerate(user_ids)
    ]
    insert = (pg_insert if session.get_bind().dialect.name == "postgresql" else sqlite_insert)(UserState.__table__)
    replace = {name: insert.excluded[name] for name in ("model_version", "state", "n_ratings", "updated_at")}
    replace["revision"] = UserState.__table__.c.revision + 1  # a write like any other: API processes keep the newest
    session.execute(insert.on_conflict_do_update(index_elements=["user_id"], set_=replace), states)
