"""Checks and encodings of a ratings frame that every model type shares.

A ratings frame has ``user_id``, ``item_id`` and ``rating`` columns. These helpers
check it (with messages that say what to fix), resolve the rating scale, encode
it as a user x item CSR matrix over two :class:`IdVocabulary` s, and fingerprint
the training triples.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd
import scipy.sparse as sp

from ._vocab import IdVocabulary

__all__ = ["EncodedRatings", "check_frame", "encode_ratings", "fingerprint", "resolve_scale"]

REQUIRED_COLUMNS = ("user_id", "item_id", "rating")


def check_frame(ratings: Any, what: str) -> pd.DataFrame:
    """``ratings`` if it is a frame with numeric, finite ratings; ``ValueError`` otherwise."""
    if not isinstance(ratings, pd.DataFrame):
        raise ValueError(
            f"{what} must be a pandas DataFrame with columns user_id, item_id, rating; "
            f"got {type(ratings).__name__}"
        )
    missing = [c for c in REQUIRED_COLUMNS if c not in ratings.columns]
    if missing:
        raise ValueError(
            f"{what} is missing column(s) {missing}; expected user_id, item_id, rating "
            f"(and optionally timestamp), got {list(ratings.columns)}"
        )
    rating = ratings["rating"]
    if not pd.api.types.is_numeric_dtype(rating) or pd.api.types.is_bool_dtype(rating):
        raise ValueError(f"{what}.rating must be numeric, got dtype {rating.dtype}")
    if not np.isfinite(rating.to_numpy(dtype=np.float64)).all():
        raise ValueError(f"{what}.rating contains NaN or infinite values; drop or fix those rows")
    if len(ratings) == 0:
        raise ValueError(f"{what} is empty")
    return ratings


def resolve_scale(r: np.ndarray, rating_scale: Any) -> tuple[float, float]:
    """The ``(min, max)`` rating scale: the given one (checked against ``r``) or ``r``'s span."""
    if rating_scale is None:
        lo, hi = float(r.min()), float(r.max())
        if lo == hi:
            raise ValueError(f"all ratings equal {lo}; pass rating_scale=(min, max) explicitly")
        return lo, hi
    try:
        lo, hi = (float(v) for v in rating_scale)
    except (TypeError, ValueError) as exc:
        raise ValueError(f"rating_scale must be a (min, max) pair, got {rating_scale!r}") from exc
    if not (np.isfinite(lo) and np.isfinite(hi) and lo < hi):
        raise ValueError(f"rating_scale must be finite with min < max, got {rating_scale!r}")
    if r.min() < lo or r.max() > hi:
        raise ValueError(
            f"ratings span [{r.min()}, {r.max()}], outside rating_scale ({lo}, {hi}); fix the scale or the data"
        )
    return lo, hi


def fingerprint(users: IdVocabulary, items: IdVocabulary, by_user: sp.csr_matrix) -> str:
    """SHA-256 of the sorted (user, item, rating) triples of the training data."""
    h = hashlib.sha256()
    for vocab in (users, items):
        if vocab.kind == "int":
            h.update(b"int:" + vocab.ids.astype("<i8").tobytes())
        else:
            h.update(b"str:" + "\x1f".join(vocab.ids.tolist()).encode())
    _update_as(h, by_user.indptr, "<i8")
    _update_as(h, by_user.indices, "<i8")
    _update_as(h, by_user.data, "<f8")
    return h.hexdigest()


_HASH_CHUNK = 1 << 20  # elements converted at a time


def _update_as(h: Any, values: np.ndarray, dtype: str) -> None:
    """``h.update(values.astype(dtype).tobytes())`` without the two whole-array copies
    (at 10M ratings they cost more than the hashing)."""
    if values.dtype == np.dtype(dtype) and values.flags.c_contiguous:
        h.update(memoryview(values).cast("B"))
        return
    for start in range(0, len(values), _HASH_CHUNK):
        h.update(memoryview(np.ascontiguousarray(values[start : start + _HASH_CHUNK], dtype=dtype)).cast("B"))


@dataclass(frozen=True)
class EncodedRatings:
    """A ratings frame as ``users x items`` CSR (sorted indices, float64 ratings)."""

    users: IdVocabulary
    items: IdVocabulary
    by_user: sp.csr_matrix
    rating_scale: tuple[float, float]


def encode_ratings(ratings: Any, rating_scale: Any = None, what: str = "ratings") -> EncodedRatings:
    """Check and encode a frame; a (user, item) pair given twice is an error."""
    frame = check_frame(ratings, what)
    users, u = IdVocabulary.encode(frame["user_id"])
    items, i = IdVocabulary.encode(frame["item_id"])
    r = frame["rating"].to_numpy(dtype=np.float64)
    scale = resolve_scale(r, rating_scale)
    by_user = sp.csr_matrix((r, (u, i)), shape=(len(users), len(items)))
    if by_user.nnz != len(r):
        raise ValueError(f"{what} rates some (user_id, item_id) pair more than once; keep one rating per pair")
    by_user.sort_indices()
    return EncodedRatings(users, items, by_user, scale)
