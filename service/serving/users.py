"""Every user's ratings and real-time state, held in memory by each API process.

The bulk sits in compressed sparse rows (a sorted id array, row offsets, movie ids and
ratings as flat arrays: about 8 bytes a rating), loaded from the database in one pass.
Users changed since then sit in a small overlay of their own arrays, folded back into
the rows when it grows. States are kept per user with the revision the database gave
the write, so of two copies of a user that arrive out of order the newer one wins.

Nothing here knows the database or the feed: the loader fills it and the serving state
applies changes to it. Only the event loop mutates it; arrays are replaced, never
written in place, so a thread may read a snapshot while the loop goes on.
"""

from __future__ import annotations

import itertools
from collections.abc import Iterable
from dataclasses import dataclass

import numpy as np

STATE_DTYPE = np.float64
RATING_DTYPE = np.float32  # rating scales are a few decimals wide: exact enough, half the bytes
MIN_OVERLAY_TO_COMPACT = 20_000
_stamps = itertools.count(1)  # process-wide, so a reloaded store never reuses a stamp


@dataclass(frozen=True)
class UserRecord:
    """One user as stored: every rating, and the state folded from them (if any)."""

    user_id: int
    movies: np.ndarray  # int64
    ratings: np.ndarray  # float64
    state_version: int | None = None  # the model version the state was solved for
    state: np.ndarray | None = None  # None: no state row
    revision: int = 0  # counts the user's writes; 0 for a user never written through the service

    def rated(self) -> dict[int, float]:
        return dict(zip(self.movies.tolist(), self.ratings.tolist(), strict=True))


@dataclass(frozen=True)
class _State:
    version: int | None
    vector: np.ndarray
    revision: int


@dataclass(frozen=True)
class Rows:
    """Ratings of many users as compressed sparse rows, sorted by user id."""

    user_ids: np.ndarray
    indptr: np.ndarray
    movies: np.ndarray
    ratings: np.ndarray

    @classmethod
    def empty(cls) -> Rows:
        return cls(np.zeros(0, np.int64), np.zeros(1, np.int64), np.zeros(0, np.int64), np.zeros(0, RATING_DTYPE))

    @classmethod
    def from_triples(cls, users: np.ndarray, movies: np.ndarray, ratings: np.ndarray) -> Rows:
        order = np.lexsort((movies, users))
        users, movies = users[order], movies[order]
        ids, counts = np.unique(users, return_counts=True)
        indptr = np.zeros(len(ids) + 1, np.int64)
        np.cumsum(counts, out=indptr[1:])
        narrow = np.int32 if len(movies) and 0 <= movies.min() and movies.max() < 2**31 else np.int64
        return cls(ids.astype(np.int64), indptr, movies.astype(narrow), ratings[order].astype(RATING_DTYPE))

    def row(self, user_id: int) -> tuple[np.ndarray, np.ndarray] | None:
        k = int(np.searchsorted(self.user_ids, user_id))
        if k == len(self.user_ids) or self.user_ids[k] != user_id:
            return None
        lo, hi = self.indptr[k], self.indptr[k + 1]
        return self.movies[lo:hi], self.ratings[lo:hi]

    def without(self, user_ids: np.ndarray) -> Rows:
        keep_user = ~np.isin(self.user_ids, user_ids)
        keep = np.repeat(keep_user, np.diff(self.indptr))
        counts = np.diff(self.indptr)[keep_user]
        indptr = np.zeros(len(counts) + 1, np.int64)
        np.cumsum(counts, out=indptr[1:])
        return Rows(self.user_ids[keep_user], indptr, self.movies[keep], self.ratings[keep])

    @property
    def nbytes(self) -> int:
        return self.user_ids.nbytes + self.indptr.nbytes + self.movies.nbytes + self.ratings.nbytes


class UserStore:
    def __init__(self, rows: Rows | None = None, states: Iterable[UserRecord] = ()) -> None:
        self._rows = rows or Rows.empty()
        self._overlay: dict[int, tuple[np.ndarray, np.ndarray]] = {}
        self._states: dict[int, _State] = {
            r.user_id: _State(r.state_version, r.state, r.revision) for r in states if r.state is not None
        }
        self._loaded_stamp = next(_stamps)
        self._changed_stamps: dict[int, int] = {}

    def stamp(self, user_id: int) -> int:
        """Changes whenever what this store holds for the user changes (a put, or a
        reload into a new store): what is derived from a user can be cached by it."""
        return self._changed_stamps.get(user_id, self._loaded_stamp)

    def get(self, user_id: int) -> UserRecord:
        """The user as this process knows them; an unknown user has no ratings and no state."""
        ratings = self._overlay.get(user_id) or self._rows.row(user_id)
        movies, values = ratings if ratings is not None else (np.zeros(0, np.int64), np.zeros(0))
        state = self._states.get(user_id)
        return UserRecord(
            user_id,
            movies.astype(np.int64, copy=False),
            values.astype(np.float64, copy=False),
            state.version if state else None,
            state.vector if state else None,
            state.revision if state else 0,
        )

    def get_count(self, user_id: int) -> int:
        """How many ratings the user has (cheaper than ``get``)."""
        ratings = self._overlay.get(user_id) or self._rows.row(user_id)
        return len(ratings[0]) if ratings is not None else 0

    def revision(self, user_id: int) -> int:
        state = self._states.get(user_id)
        return state.revision if state else 0

    def put(self, record: UserRecord) -> bool:
        """Take a newer copy of a user; an older or equal revision is ignored. Returns
        whether it was taken."""
        if record.revision and record.revision <= self.revision(record.user_id):
            return False
        self._overlay[record.user_id] = (record.movies.astype(np.int64), record.ratings.astype(np.float64))
        self._changed_stamps[record.user_id] = next(_stamps)
        if record.state is not None:
            self._states[record.user_id] = _State(record.state_version, record.state, record.revision)
        else:
            self._states.pop(record.user_id, None)
        return True

    def adopt_state(self, user_id: int, version: int, state: np.ndarray, revision: int) -> None:
        """Keep a state re-solved on read against another version, unless the user
        changed meanwhile (it is derived data: the database keeps what was written)."""
        if self.revision(user_id) == revision:
            self._states[user_id] = _State(version, state, revision)

    def merge_newer(self, older: UserStore) -> None:
        """After a reload: keep what ``older`` learned that the load did not see yet."""
        for user_id, (movies, values) in older._overlay.items():
            state = older._states.get(user_id)
            if state is not None and state.revision > self.revision(user_id):
                self.put(UserRecord(user_id, movies, values, state.version, state.vector, state.revision))

    def overlay_snapshot(self) -> tuple[Rows, dict[int, tuple[np.ndarray, np.ndarray]]]:
        """The arrays as they are now, for a thread to read while the loop goes on."""
        return self._rows, dict(self._overlay)

    def needs_compaction(self) -> bool:
        return len(self._overlay) > max(MIN_OVERLAY_TO_COMPACT, len(self._rows.user_ids) // 10)

    def install_compacted(self, rows: Rows, folded: dict[int, tuple[np.ndarray, np.ndarray]]) -> None:
        """Swap in rows built from a snapshot; overlay entries changed since stay."""
        self._rows = rows
        for user_id, ratings in folded.items():
            if self._overlay.get(user_id) is ratings:
                del self._overlay[user_id]

    @property
    def n_users(self) -> int:
        overlay_only = sum(1 for u in self._overlay if self._rows.row(u) is None)
        return len(self._rows.user_ids) + overlay_only

    def nbytes(self) -> int:
        """Bytes of array data held (the Python objects around them come on top)."""
        overlay = sum(m.nbytes + v.nbytes for m, v in self._overlay.values())
        states = sum(s.vector.nbytes for s in self._states.values())
        return self._rows.nbytes + overlay + states


def compact(rows: Rows, overlay: dict[int, tuple[np.ndarray, np.ndarray]]) -> Rows:
    """``rows`` with the overlay's users replaced by their overlay ratings (runs in a thread)."""
    if not overlay:
        return rows
    changed = np.fromiter(overlay, np.int64, len(overlay))
    kept = rows.without(changed)
    counts = [len(m) for m, _ in overlay.values()]
    users = np.concatenate([np.repeat(kept.user_ids, np.diff(kept.indptr)), np.repeat(changed, counts)])
    movies = np.concatenate([kept.movies.astype(np.int64), *(m for m, _ in overlay.values())])
    values = np.concatenate([kept.ratings.astype(np.float64), *(v for _, v in overlay.values())])
    return Rows.from_triples(users, movies, values)


def movie_totals(rows: Rows, overlay: dict[int, tuple[np.ndarray, np.ndarray]]) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(movie ids, rating counts, rating sums) over every user's current ratings."""
    kept = rows.without(np.fromiter(overlay, np.int64, len(overlay))) if overlay else rows
    parts = [(kept.movies, kept.ratings), *overlay.values()]
    top = max((int(m.max()) for m, _ in parts if len(m)), default=-1)
    if 0 <= min((int(m.min()) for m, _ in parts if len(m)), default=0) and top < 50_000_000:
        # Movie ids are small integers in practice: count by id, no sort, no copies.
        counts = sum(np.bincount(m, minlength=top + 1) for m, _ in parts)
        sums = sum(np.bincount(m, weights=v, minlength=top + 1) for m, v in parts)
        ids = np.flatnonzero(counts)
        return ids, counts[ids], sums[ids]
    movies = np.concatenate([m.astype(np.int64) for m, _ in parts])
    values = np.concatenate([v.astype(np.float64) for _, v in parts])
    ids, codes = np.unique(movies, return_inverse=True)
    return ids, np.bincount(codes, minlength=len(ids)), np.bincount(codes, weights=values, minlength=len(ids))
