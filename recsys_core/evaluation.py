"""Accuracy and ranking metrics for explicit-rating recommenders.

Works on any model exposing ``predict(user_ids, item_ids) -> float array``,
``recommend_batch(user_ids, n, exclude_seen) -> (ids, scores)`` (2-D, rows padded
with ``None`` ids / NaN scores), ``item_ids`` (the catalogue) and
``rating_scale`` ``(lo, hi)``.

Two ranking protocols are offered, because they answer different questions:

* **full catalogue** (:func:`ranking_metrics`): each test user gets a top-K list
  over every catalogue item they did not rate in train, and it is scored against
  their relevant held-out ratings. This is what a user of the service sees.
* **candidate** (:func:`candidate_metrics`): each user's own held-out items are
  ranked by predicted rating (the protocol of the module this library replaces,
  also the Surprise FAQ's ``precision_recall_at_k``). It is easier and reads
  higher; it is kept for comparison with earlier numbers.

Conventions: metrics are averaged over users (macro average); a metric whose
user set is empty is NaN, never a silent 0. Everything is vectorized over users:
per-user quantities come from ``np.bincount`` over integer user codes and from
2-D hit matrices of one batch of users at a time.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Protocol

import numpy as np
import pandas as pd

__all__ = [
    "EvaluationReport",
    "RatingModel",
    "candidate_metrics",
    "default_threshold",
    "evaluate",
    "mae",
    "ranking_metrics",
    "rmse",
]

_PREDICT_CHUNK = 1 << 20


class RatingModel(Protocol):
    """What the evaluation needs from a model."""

    item_ids: Any
    rating_scale: tuple[float, float]

    def predict(self, user_ids: Any, item_ids: Any) -> np.ndarray: ...

    def recommend_batch(
        self, user_ids: Any, n: int = 10, exclude_seen: bool = True
    ) -> tuple[np.ndarray, np.ndarray]: ...


# ---------------------------------------------------------------------------
# Error metrics


def _pair(y_true: Any, y_pred: Any) -> tuple[np.ndarray, np.ndarray]:
    t = np.asarray(y_true, dtype=np.float64).ravel()
    p = np.asarray(y_pred, dtype=np.float64).ravel()
    if t.shape != p.shape:
        raise ValueError(f"y_true has {t.size} values but y_pred has {p.size}")
    if not (np.isfinite(t).all() and np.isfinite(p).all()):
        raise ValueError("y_true and y_pred must be finite (found NaN or infinity)")
    return t, p


def rmse(y_true: Any, y_pred: Any) -> float:
    """Root mean squared error, ``sqrt(sum_j (y_j - yhat_j)^2 / n)``; NaN when ``n == 0``."""
    t, p = _pair(y_true, y_pred)
    if t.size == 0:
        return float("nan")
    return float(np.sqrt(np.mean((t - p) ** 2)))


def mae(y_true: Any, y_pred: Any) -> float:
    """Mean absolute error, ``sum_j |y_j - yhat_j| / n``; NaN when ``n == 0``."""
    t, p = _pair(y_true, y_pred)
    if t.size == 0:
        return float("nan")
    return float(np.mean(np.abs(t - p)))


# ---------------------------------------------------------------------------
# Shared helpers


def default_threshold(rating_scale: tuple[float, float]) -> float:
    """Relevance threshold ``lo + 0.75 (hi - lo)``: 4.0 on 1-5, 3.875 on 0.5-5."""
    lo, hi = float(rating_scale[0]), float(rating_scale[1])
    return lo + 0.75 * (hi - lo)


def _check_k(k: int) -> int:
    if not isinstance(k, (int, np.integer)) or isinstance(k, bool) or k < 1:
        raise ValueError(f"k must be a positive integer, got {k!r}")
    return int(k)


def _check_frame(frame: pd.DataFrame, name: str, columns: tuple[str, ...]) -> None:
    missing = [c for c in columns if c not in frame.columns]
    if missing:
        raise ValueError(f"{name} frame lacks column(s) {missing}")


def _discounts(k: int) -> tuple[np.ndarray, np.ndarray]:
    """``disc[i] = 1 / log2(i + 2)`` for ranks ``i = 0..k-1`` and ``ideal[m] = sum_{i<m} disc[i]``."""
    disc = 1.0 / np.log2(np.arange(k, dtype=np.float64) + 2.0)
    ideal = np.concatenate(([0.0], np.cumsum(disc)))
    return disc, ideal


def _predict(model: RatingModel, users: np.ndarray, items: np.ndarray) -> np.ndarray:
    """``model.predict`` in bounded chunks, checked for shape and finiteness."""
    out = np.empty(len(users), dtype=np.float64)
    for start in range(0, len(users), _PREDICT_CHUNK):
        stop = start + _PREDICT_CHUNK
        pred = np.asarray(model.predict(users[start:stop], items[start:stop]), dtype=np.float64)
        if pred.shape != (min(stop, len(users)) - start,):
            raise ValueError(
                f"model.predict returned shape {pred.shape} for {len(users[start:stop])} pairs"
            )
        out[start:stop] = pred
    if not np.isfinite(out).all():
        raise ValueError("model.predict returned NaN or infinite predictions")
    return out


def _mean(values: np.ndarray) -> float:
    return float(values.mean()) if values.size else float("nan")


def _sorted_unique(keys: np.ndarray) -> np.ndarray:
    """Sorted distinct int64 keys (sort based: faster than ``np.unique``'s hashing here)."""
    keys = np.sort(keys)
    if keys.size:
        keys = keys[np.concatenate(([True], keys[1:] != keys[:-1]))]
    return keys


def _in_sorted(sorted_keys: np.ndarray, keys: np.ndarray) -> np.ndarray:
    """Membership of ``keys`` in the sorted array ``sorted_keys`` (vectorized)."""
    if sorted_keys.size == 0:
        return np.zeros(keys.shape, dtype=bool)
    pos = np.minimum(np.searchsorted(sorted_keys, keys), sorted_keys.size - 1)
    return sorted_keys[pos] == keys


# ---------------------------------------------------------------------------
# Full-catalogue ranking protocol


@dataclass(frozen=True)
class _RankingResult:
    metrics: dict[str, float]
    n_users: int


def _ranking(
    model: RatingModel,
    train: pd.DataFrame,
    test: pd.DataFrame,
    k: int,
    threshold: float | None,
    batch_size: int,
    include_unknown_users: bool,
) -> _RankingResult:
    k = _check_k(k)
    _check_frame(train, "train", ("user_id", "item_id"))
    _check_frame(test, "test", ("user_id", "item_id", "rating"))
    if batch_size < 1:
        raise ValueError(f"batch_size must be >= 1, got {batch_size}")
    thr = default_threshold(model.rating_scale) if threshold is None else float(threshold)

    # Integer codes: users are the distinct test users; items share one vocabulary
    # whose first n_cat entries are the model's catalogue.
    t_codes, t_users = pd.factorize(test["user_id"])
    n_users = len(t_users)
    catalog = (
        pd.Series(list(model.item_ids) if not hasattr(model.item_ids, "dtype") else model.item_ids)
        .infer_objects()
        .drop_duplicates()
    )
    n_cat = len(catalog)
    vocab = pd.Index(
        pd.unique(pd.concat([catalog, test["item_id"], train["item_id"]], ignore_index=True))
    )
    n_vocab = np.int64(len(vocab))
    user_index = pd.Index(t_users)

    tr_u = user_index.get_indexer(train["user_id"])
    tr_keep = tr_u >= 0
    train_keys = np.sort(
        tr_u[tr_keep].astype(np.int64) * n_vocab + vocab.get_indexer(train["item_id"][tr_keep])
    )

    rel_mask = test["rating"].to_numpy(dtype=np.float64) >= thr
    rel_keys = _sorted_unique(
        t_codes[rel_mask].astype(np.int64) * n_vocab + vocab.get_indexer(test["item_id"][rel_mask])
    )
    rel_keys = rel_keys[~_in_sorted(train_keys, rel_keys)]  # seen in train: never recommendable
    n_rel = np.bincount(rel_keys // n_vocab, minlength=n_users)

    if include_unknown_users or not hasattr(model, "user_ids"):
        ranked = np.arange(n_users)
    else:
        ranked = np.flatnonzero(pd.Index(model.user_ids).get_indexer(t_users) >= 0)

    disc, ideal = _discounts(k)
    positions = np.arange(1, k + 1, dtype=np.float64)
    sums = dict.fromkeys(("precision", "recall", "ndcg", "map", "hit_rate"), 0.0)
    n_scored = 0
    covered = np.zeros(n_cat, dtype=bool)

    for start in range(0, len(ranked), batch_size):
        rows = ranked[start : start + batch_size]
        ids, _ = model.recommend_batch(np.asarray(t_users[rows]), n=k, exclude_seen=True)
        ids = np.asarray(ids, dtype=object)
        if ids.ndim != 2 or ids.shape[0] != len(rows):
            raise ValueError(
                f"model.recommend_batch returned ids of shape {ids.shape} for {len(rows)} users"
            )
        codes = np.full((len(rows), k), -1, dtype=np.int64)
        width = min(k, ids.shape[1])
        if width:
            codes[:, :width] = vocab.get_indexer(ids[:, :width].ravel()).reshape(len(rows), width)
        keys = rows[:, None].astype(np.int64) * n_vocab + codes
        # A model whose seen set differs from `train` could return a train item;
        # such a slot counts as empty (no hit, no coverage).
        codes[(codes >= 0) & _in_sorted(train_keys, keys)] = -1
        covered[codes[(codes >= 0) & (codes < n_cat)]] = True

        user_rel = n_rel[rows]
        scored = user_rel > 0
        if not scored.any():
            continue
        hits = ((codes >= 0) & _in_sorted(rel_keys, keys))[scored]
        user_rel = user_rel[scored].astype(np.float64)
        n_hits = hits.sum(axis=1)
        cap = np.minimum(user_rel, k)
        sums["precision"] += float((n_hits / k).sum())
        sums["recall"] += float((n_hits / user_rel).sum())
        sums["ndcg"] += float(((hits @ disc) / ideal[cap.astype(np.int64)]).sum())
        precision_at_i = np.cumsum(hits, axis=1) / positions
        sums["map"] += float(((hits * precision_at_i).sum(axis=1) / cap).sum())
        sums["hit_rate"] += float((n_hits > 0).sum())
        n_scored += int(scored.sum())

    metrics = {
        f"{name}@{k}": (value / n_scored if n_scored else float("nan"))
        for name, value in sums.items()
    }
    metrics[f"catalog_coverage@{k}"] = (
        float(covered.sum() / n_cat) if len(ranked) and n_cat else float("nan")
    )
    return _RankingResult(metrics=metrics, n_users=n_scored)


def ranking_metrics(
    model: RatingModel,
    train: pd.DataFrame,
    test: pd.DataFrame,
    k: int = 10,
    threshold: float | None = None,
    *,
    batch_size: int = 1024,
    include_unknown_users: bool = False,
) -> dict[str, float]:
    """Top-K metrics under the full-catalogue protocol.

    For each test user ``u`` the model ranks every catalogue item ``u`` did not
    rate in train (``model.recommend_batch(users, n=k, exclude_seen=True)``, called
    for ``batch_size`` users at a time so memory stays bounded) giving the list
    ``L_u`` of length ``K``. A held-out item is relevant when its test rating is
    ``>= threshold`` (default :func:`default_threshold` of ``model.rating_scale``:
    4.0 on a 1-5 scale). ``R_u`` is the set of relevant test items of ``u`` that
    ``u`` did not also rate in train (those can never be recommended). With
    ``hit_i = 1`` when the item at rank ``i`` (1-based) is in ``R_u``:

    * ``precision@K = sum_i hit_i / K`` (short lists still divide by K);
    * ``recall@K = sum_i hit_i / |R_u|``;
    * ``ndcg@K = DCG / IDCG`` with ``DCG = sum_i hit_i / log2(i + 1)`` and ``IDCG``
      the DCG of ``min(K, |R_u|)`` hits at the top;
    * ``map@K`` = mean of ``AP@K = sum_i hit_i * (sum_{j<=i} hit_j / i) / min(K, |R_u|)``;
    * ``hit_rate@K`` = share of users with at least one hit;
    * ``catalog_coverage@K = |union_u L_u| / |catalogue|`` over every ranked
      test user (relevant items or not), with the catalogue ``model.item_ids``.

    The first five are averaged over test users with ``|R_u| >= 1``; with no such
    user they are NaN. Relevant items outside the model's catalogue stay in
    ``R_u``: the model is charged for not knowing them.

    Test users the model does not know (not in ``model.user_ids``) are skipped by
    default: this protocol measures personalised ranking, and cold-start users
    would only measure the model's fallback. ``include_unknown_users=True`` passes
    them to ``recommend_batch`` too (the model must then handle them). A model
    without ``user_ids`` gets every test user. Should a model return an item the
    user rated in ``train`` (its seen set differs from ``train``), that slot
    counts as empty.

    Returns:
        ``{"precision@K", "recall@K", "ndcg@K", "map@K", "hit_rate@K",
        "catalog_coverage@K"}`` with ``K`` replaced by its value.
    """
    return _ranking(model, train, test, k, threshold, batch_size, include_unknown_users).metrics


# ---------------------------------------------------------------------------
# Candidate protocol


def _candidate(
    test: pd.DataFrame, predictions: np.ndarray, k: int, threshold: float
) -> dict[str, float]:
    k = _check_k(k)
    codes, users = pd.factorize(test["user_id"])
    n_users = len(users)
    y_true = test["rating"].to_numpy(dtype=np.float64)
    if predictions.shape != y_true.shape:
        raise ValueError(f"{predictions.size} predictions for {y_true.size} test ratings")

    # Rank each user's held-out items by predicted rating, descending; ties keep
    # the test frame's row order (np.lexsort is stable).
    order = np.lexsort((-predictions, codes))
    counts = np.bincount(codes, minlength=n_users)
    starts = np.concatenate(([0], np.cumsum(counts)[:-1]))
    rank = np.empty(len(codes), dtype=np.int64)
    rank[order] = np.arange(len(codes)) - starts[codes[order]]

    top = rank < k
    relevant = y_true >= threshold
    recommended = top & (predictions >= threshold)
    n_rel = np.bincount(codes, weights=relevant, minlength=n_users)
    n_rec = np.bincount(codes, weights=recommended, minlength=n_users)
    n_hit = np.bincount(codes, weights=recommended & relevant, minlength=n_users)
    disc, ideal = _discounts(k)
    gains = np.where(top & relevant, disc[np.minimum(rank, k - 1)], 0.0)
    dcg = np.bincount(codes, weights=gains, minlength=n_users)

    with_rel = n_rel > 0
    precision = np.divide(n_hit, n_rec, out=np.zeros(n_users), where=n_rec > 0)
    recall = n_hit[with_rel] / n_rel[with_rel]
    ndcg = dcg[with_rel] / ideal[np.minimum(n_rel[with_rel], k).astype(np.int64)]
    return {
        f"candidate_precision@{k}": _mean(precision),
        f"candidate_recall@{k}": _mean(recall),
        f"candidate_ndcg@{k}": _mean(ndcg),
    }


def candidate_metrics(
    model: RatingModel, test: pd.DataFrame, k: int = 10, threshold: float = 3.5
) -> dict[str, float]:
    """Top-K metrics under the candidate protocol (each user's own held-out items).

    For each test user ``u`` the items ``u`` rated in test are ranked by
    ``model.predict`` (descending, ties in test-row order). ``Rel_u`` = items with
    true rating ``>= threshold``; ``Rec_u`` = items in the top ``K`` whose
    *predicted* rating is ``>= threshold``. Then:

    * ``candidate_precision@K = |Rec_u ∩ Rel_u| / |Rec_u|``, 0 when ``Rec_u`` is
      empty, averaged over all test users;
    * ``candidate_recall@K = |Rec_u ∩ Rel_u| / |Rel_u|``, averaged over users with
      ``|Rel_u| >= 1``;
    * ``candidate_ndcg@K``: binary gains of ``Rel_u`` over the top ``K`` of the
      ranking, ``DCG = sum_i rel_i / log2(i + 1)`` normalised by the DCG of
      ``min(K, |Rel_u|)`` relevant items at the top, averaged over users with
      ``|Rel_u| >= 1``.

    Every metric is NaN when its user set is empty. The default threshold 3.5 is
    the original module's.
    """
    _check_frame(test, "test", ("user_id", "item_id", "rating"))
    predictions = _predict(model, test["user_id"].to_numpy(), test["item_id"].to_numpy())
    return _candidate(test, predictions, k, float(threshold))


# ---------------------------------------------------------------------------
# Everything at once


@dataclass(frozen=True)
class EvaluationReport:
    """All metrics of one model on one train/test split (see the metric functions)."""

    k: int
    n_test: int
    n_ranking_users: int
    threshold: float
    candidate_threshold: float
    rmse: float
    mae: float
    precision: float
    recall: float
    ndcg: float
    map: float
    hit_rate: float
    catalog_coverage: float
    candidate_precision: float
    candidate_recall: float
    candidate_ndcg: float

    def as_dict(self) -> dict[str, float | int]:
        """Flat ``{"rmse", "mae", "n_test", "precision@K", ..., "candidate_ndcg@K"}``."""
        k = self.k
        return {
            "rmse": self.rmse,
            "mae": self.mae,
            "n_test": self.n_test,
            f"precision@{k}": self.precision,
            f"recall@{k}": self.recall,
            f"ndcg@{k}": self.ndcg,
            f"map@{k}": self.map,
            f"hit_rate@{k}": self.hit_rate,
            f"catalog_coverage@{k}": self.catalog_coverage,
            f"candidate_precision@{k}": self.candidate_precision,
            f"candidate_recall@{k}": self.candidate_recall,
            f"candidate_ndcg@{k}": self.candidate_ndcg,
        }


def evaluate(
    model: RatingModel,
    train: pd.DataFrame,
    test: pd.DataFrame,
    k: int = 10,
    *,
    threshold: float | None = None,
    candidate_threshold: float = 3.5,
    batch_size: int = 1024,
    include_unknown_users: bool = False,
) -> EvaluationReport:
    """RMSE and MAE on every test rating, plus both ranking protocols at ``k``.

    A model with ``predicts_ratings = False`` (a ranking-only type) gets NaN for RMSE,
    MAE and the candidate protocol, which rank by predicted rating.

    Predictions are computed once (in bounded chunks) and shared by the error
    metrics and the candidate protocol; unknown users and items are predicted
    by whatever fallback the model has. See :func:`ranking_metrics` and
    :func:`candidate_metrics` for the definitions and the options.
    """
    k = _check_k(k)
    _check_frame(test, "test", ("user_id", "item_id", "rating"))
    if len(test) == 0:
        raise ValueError("the test frame is empty")
    thr = default_threshold(model.rating_scale) if threshold is None else float(threshold)
    ranking = _ranking(model, train, test, k, thr, batch_size, include_unknown_users)
    r = ranking.metrics
    if getattr(model, "predicts_ratings", True):
        y_true = test["rating"].to_numpy(dtype=np.float64)
        y_pred = _predict(model, test["user_id"].to_numpy(), test["item_id"].to_numpy())
        cand = _candidate(test, y_pred, k, float(candidate_threshold))
        errors = rmse(y_true, y_pred), mae(y_true, y_pred)
    else:  # a ranking-only type: the rating protocols do not apply
        cand = {f"candidate_{m}@{k}": float("nan") for m in ("precision", "recall", "ndcg")}
        errors = float("nan"), float("nan")
    return EvaluationReport(
        k=k,
        n_test=len(test),
        n_ranking_users=ranking.n_users,
        threshold=thr,
        candidate_threshold=float(candidate_threshold),
        rmse=errors[0],
        mae=errors[1],
        precision=r[f"precision@{k}"],
        recall=r[f"recall@{k}"],
        ndcg=r[f"ndcg@{k}"],
        map=r[f"map@{k}"],
        hit_rate=r[f"hit_rate@{k}"],
        catalog_coverage=r[f"catalog_coverage@{k}"],
        candidate_precision=cand[f"candidate_precision@{k}"],
        candidate_recall=cand[f"candidate_recall@{k}"],
        candidate_ndcg=cand[f"candidate_ndcg@{k}"],
    )
