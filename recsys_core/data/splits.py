"""Train/test splits of a ratings frame.

Every split is seeded where it is random, keeps all columns of the input, and
returns frames with a fresh ``RangeIndex`` whose rows keep the input's order.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from .movielens import _read_official_split_file

__all__ = [
    "OFFICIAL_SPLITS",
    "Split",
    "kfold_splits",
    "official_movielens_split",
    "temporal_split",
    "user_holdout_split",
]

#: Names of the official ml-100k splits (``uN.base`` / ``uN.test``).
OFFICIAL_SPLITS = ("u1", "u2", "u3", "u4", "u5", "ua", "ub")


@dataclass(frozen=True)
class Split:
    """One train/test partition of a ratings frame."""

    train: pd.DataFrame
    test: pd.DataFrame


def _check_ratings(ratings: pd.DataFrame) -> None:
    missing = {"user_id", "item_id"} - set(ratings.columns)
    if missing:
        raise ValueError(f"ratings frame lacks column(s) {sorted(missing)}")


def _check_fraction(test_fraction: float) -> None:
    if not 0.0 < test_fraction < 1.0:
        raise ValueError(f"test_fraction must be strictly between 0 and 1, got {test_fraction}")


def _take(ratings: pd.DataFrame, mask: np.ndarray) -> Split:
    return Split(
        train=ratings[~mask].reset_index(drop=True),
        test=ratings[mask].reset_index(drop=True),
    )


def kfold_splits(ratings: pd.DataFrame, k: int = 5, seed: int = 0) -> list[Split]:
    """Partition the rows into ``k`` folds at random; fold ``i`` is the test set of split ``i``.

    Rows are shuffled with ``numpy.random.default_rng(seed)`` and dealt round-robin,
    so fold sizes differ by at most one and every row is in exactly one test set.
    """
    _check_ratings(ratings)
    if not isinstance(k, (int, np.integer)) or k < 2:
        raise ValueError(f"k must be an integer >= 2, got {k!r}")
    n = len(ratings)
    if n < k:
        raise ValueError(f"cannot make {k} folds from {n} ratings")
    rng = np.random.default_rng(seed)
    fold = np.empty(n, dtype=np.int64)
    fold[rng.permutation(n)] = np.arange(n) % k
    return [_take(ratings, fold == i) for i in range(k)]


def user_holdout_split(
    ratings: pd.DataFrame, test_fraction: float = 0.2, seed: int = 0, min_train: int = 1
) -> Split:
    """Hold out a random ``test_fraction`` of each user's ratings.

    User ``u`` with ``n_u`` ratings gets ``min(round_half_up(test_fraction * n_u),
    n_u - min_train)`` (never negative) random ratings in the test set, so every
    user keeps at least ``min_train`` ratings in train (users with ``n_u <=
    min_train`` are all-train). Vectorized: one random key per row, a sort by
    ``(user, key)`` and a rank within the user's block.
    """
    _check_ratings(ratings)
    _check_fraction(test_fraction)
    if min_train < 0:
        raise ValueError(f"min_train must be >= 0, got {min_train}")
    n = len(ratings)
    rng = np.random.default_rng(seed)
    codes, _ = pd.factorize(ratings["user_id"], sort=False)
    counts = np.bincount(codes)
    n_test = np.minimum(np.floor(test_fraction * counts + 0.5), counts - min_train)
    n_test = np.maximum(n_test, 0).astype(np.int64)

    order = np.lexsort((rng.random(n), codes))  # by user, random within user
    sorted_codes = codes[order]
    starts = np.concatenate(([0], np.cumsum(counts)[:-1]))
    rank = np.arange(n) - starts[sorted_codes]
    mask = np.zeros(n, dtype=bool)
    mask[order] = rank < n_test[sorted_codes]
    return _take(ratings, mask)


def temporal_split(ratings: pd.DataFrame, test_fraction: float = 0.2) -> Split:
    """Global time split: the latest ``round_half_up(test_fraction * n)`` ratings are the test set.

    Rows are ordered by ``timestamp`` with a stable sort, so ratings sharing a
    timestamp keep their input order and the result is deterministic; every
    train timestamp is ``<=`` every test timestamp.
    """
    _check_ratings(ratings)
    _check_fraction(test_fraction)
    if "timestamp" not in ratings.columns:
        raise ValueError("temporal_split needs a 'timestamp' column")
    n = len(ratings)
    n_test = int(np.floor(test_fraction * n + 0.5))
    if n_test == 0 or n_test == n:
        raise ValueError(
            f"test_fraction={test_fraction} of {n} ratings leaves an empty train or test set"
        )
    order = np.argsort(ratings["timestamp"].to_numpy(), kind="stable")
    mask = np.zeros(n, dtype=bool)
    mask[order[n - n_test :]] = True
    return _take(ratings, mask)


def official_movielens_split(folder: str | Path, name: str = "u1") -> Split:
    """The official ml-100k split ``name``: ``<name>.base`` as train, ``<name>.test`` as test.

    ``name`` is one of ``u1`` .. ``u5`` (five disjoint 80/20 folds) or ``ua``/``ub``
    (ten ratings per user in test). ``folder`` is the ml-100k folder or its zip.

    Raises:
        ValueError: unknown split name.
        FileNotFoundError: the split's files are not in ``folder``.
    """
    if name not in OFFICIAL_SPLITS:
        raise ValueError(
            f"unknown official MovieLens split {name!r}; expected one of {OFFICIAL_SPLITS}"
        )
    folder = Path(folder)
    if not folder.exists():
        raise FileNotFoundError(f"no MovieLens folder at {folder}")
    frames = []
    for suffix in ("base", "test"):
        file = f"{name}.{suffix}"
        try:
            frames.append(_read_official_split_file(folder, file))
        except FileNotFoundError:
            raise FileNotFoundError(
                f"official split {name!r} needs {file} in {folder}, which is not there "
                "(the ml-100k archive from GroupLens ships u1..u5, ua and ub; some copies "
                "leave out ua/ub)"
            ) from None
    return Split(train=frames[0], test=frames[1])
