"""Metrics on hand-computed cases, and the vectorized code against a slow per-user reference.

The model here is a test double over fixed score tables: the metrics are under test.
"""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest

from recsys_core.evaluation import (
    EvaluationReport,
    candidate_metrics,
    default_threshold,
    evaluate,
    mae,
    ranking_metrics,
    rmse,
)

L3 = 1.0 / math.log2(3)  # discount of rank 2
L4 = 1.0 / math.log2(4)  # discount of rank 3 (= 0.5)


class TableModel:
    """Scores from a ``{user: {item: score}}`` table; ``recommend_batch`` ranks unseen items.

    Ties go to the item listed first in ``item_ids``. Unknown pairs predict ``default``.
    """

    def __init__(self, scores, seen, item_ids, rating_scale=(1.0, 5.0), default=3.0):
        self.scores = scores
        self.seen = seen
        self.item_ids = list(item_ids)
        self.user_ids = list(scores)
        self.rating_scale = rating_scale
        self.default = default
        self.calls: list[int] = []

    def predict(self, user_ids, item_ids):
        return np.array(
            [self.scores.get(u, {}).get(i, self.default) for u, i in zip(user_ids, item_ids)],
            dtype=np.float64,
        )

    def recommend_batch(self, user_ids, n=10, exclude_seen=True):
        self.calls.append(len(user_ids))
        ids = np.full((len(user_ids), n), None, dtype=object)
        out = np.full((len(user_ids), n), np.nan)
        for row, u in enumerate(user_ids):
            table = self.scores[u]
            cand = [i for i in self.item_ids if i in table]
            if exclude_seen:
                cand = [i for i in cand if i not in self.seen.get(u, set())]
            cand.sort(key=lambda i: -table[i])  # stable: catalogue order on ties
            for j, item in enumerate(cand[:n]):
                ids[row, j] = item
                out[row, j] = table[item]
        return ids, out


def frame(rows):
    return pd.DataFrame(rows, columns=["user_id", "item_id", "rating"]).assign(timestamp=0)


# --------------------------------------------------------------------- rmse / mae


def test_rmse_and_mae_by_hand():
    # errors 1, 0, 2: rmse = sqrt((1 + 0 + 4) / 3), mae = (1 + 0 + 2) / 3 = 1
    assert rmse([1, 2, 3], [2, 2, 5]) == pytest.approx(math.sqrt(5 / 3))
    assert mae([1, 2, 3], [2, 2, 5]) == pytest.approx(1.0)


def test_rmse_empty_is_nan_and_mismatch_raises():
    assert math.isnan(rmse([], []))
    assert math.isnan(mae([], []))
    with pytest.raises(ValueError, match="y_pred has 1"):
        rmse([1, 2], [1])
    with pytest.raises(ValueError, match="finite"):
        mae([1.0], [float("nan")])


def test_default_threshold_scales_with_the_rating_scale():
    assert default_threshold((1.0, 5.0)) == 4.0
    assert default_threshold((0.5, 5.0)) == pytest.approx(3.875)
    assert default_threshold((0.0, 10.0)) == 7.5


# --------------------------------------------------------------------- full catalogue


def ranking_case():
    items = ["a", "b", "c", "d", "e", "f"]
    scores = {
        "u1": {"a": 1.0, "b": 0.9, "c": 0.8, "d": 0.7, "e": 0.6, "f": 0.5},
        "u2": {"a": 0.1, "b": 1.0, "c": 0.2, "d": 0.9, "e": 0.8, "f": 0.7},
        "u3": {"a": 1.0, "b": 0.5, "c": 0.4, "d": 0.3, "e": 0.2, "f": 0.1},
    }
    train = frame([("u1", "a", 3), ("u2", "b", 3), ("u3", "a", 3)])
    seen = {"u1": {"a"}, "u2": {"b"}, "u3": {"a"}}
    test = frame(
        [
            ("u1", "c", 5),
            ("u1", "e", 4),
            ("u1", "f", 2),
            ("u2", "d", 4),
            ("u2", "e", 5),
            ("u2", "a", 4.5),
            ("u2", "f", 3),
            ("u3", "b", 2),
        ]
    )
    return TableModel(scores, seen, items), train, test


def test_ranking_metrics_by_hand():
    model, train, test = ranking_case()
    m = ranking_metrics(model, train, test, k=3)
    # u1: top-3 = b, c, d; relevant (>= 4.0) = {c, e}; hits = [0, 1, 0]
    #   P = 1/3, R = 1/2, DCG = L3, IDCG(min(3, 2) = 2) = 1 + L3, AP = (1/2) / 2 = 1/4, hit = 1
    # u2: top-3 = d, e, f; relevant = {d, e, a}; hits = [1, 1, 0]
    #   P = 2/3, R = 2/3, DCG = 1 + L3, IDCG(3) = 1 + L3 + 1/2, AP = (1/1 + 2/2) / 3 = 2/3, hit = 1
    # u3: no relevant item -> not averaged; its list b, c, d still counts for coverage.
    assert m["precision@3"] == pytest.approx((1 / 3 + 2 / 3) / 2)
    assert m["recall@3"] == pytest.approx((1 / 2 + 2 / 3) / 2)
    ndcg_u1 = L3 / (1 + L3)
    ndcg_u2 = (1 + L3) / (1 + L3 + L4)
    assert m["ndcg@3"] == pytest.approx((ndcg_u1 + ndcg_u2) / 2)
    assert m["map@3"] == pytest.approx((1 / 4 + 2 / 3) / 2)
    assert m["hit_rate@3"] == 1.0
    # union of lists {b, c, d} | {d, e, f} | {b, c, d} = 5 of 6 catalogue items
    assert m["catalog_coverage@3"] == pytest.approx(5 / 6)
    assert set(m) == {
        "precision@3",
        "recall@3",
        "ndcg@3",
        "map@3",
        "hit_rate@3",
        "catalog_coverage@3",
    }


def test_ranking_threshold_argument_changes_relevance():
    model, train, test = ranking_case()
    m = ranking_metrics(model, train, test, k=3, threshold=5.0)
    # relevant only: u1 {c}, u2 {e}.  u1 hits [0,1,0]: P=1/3 R=1 AP=(1/2)/1 nDCG=L3/1
    # u2 hits [0,1,0] (d, e, f): same numbers.
    assert m["precision@3"] == pytest.approx(1 / 3)
    assert m["recall@3"] == pytest.approx(1.0)
    assert m["map@3"] == pytest.approx(0.5)
    assert m["ndcg@3"] == pytest.approx(L3)


def test_ranking_k1_and_short_lists_divide_by_k():
    items = ["a", "b", "c"]
    model = TableModel({"u": {"a": 1.0, "b": 0.5, "c": 0.1}}, {"u": {"b", "c"}}, items)
    train = frame([("u", "b", 3), ("u", "c", 3)])
    test = frame([("u", "a", 5)])
    m = ranking_metrics(model, train, test, k=5)
    # only one unseen item, a, and it is relevant: list [a, None, None, None, None]
    # P = 1/5, R = 1, nDCG = 1, AP = 1/min(5, 1) = 1
    assert m["precision@5"] == pytest.approx(0.2)
    assert m["recall@5"] == 1.0
    assert m["ndcg@5"] == 1.0
    assert m["map@5"] == 1.0
    assert m["catalog_coverage@5"] == pytest.approx(1 / 3)


def test_ranking_without_relevant_items_is_nan_not_zero():
    model, train, test = ranking_case()
    low = test.assign(rating=1.0)
    m = ranking_metrics(model, train, low, k=3)
    for key in ("precision@3", "recall@3", "ndcg@3", "map@3", "hit_rate@3"):
        assert math.isnan(m[key]), key
    assert m["catalog_coverage@3"] == pytest.approx(5 / 6)


def test_ranking_skips_unknown_users_and_charges_unknown_items():
    model, train, test = ranking_case()
    extra = frame([("stranger", "c", 5), ("u1", "zz", 5)])
    m = ranking_metrics(model, train, pd.concat([test, extra]), k=3)
    # the stranger is skipped; u1's relevant set becomes {c, e, zz}: hits [0,1,0]
    # P = 1/3, R = 1/3, AP = (1/2)/3 = 1/6, nDCG = L3 / (1 + L3 + 1/2)
    assert m["recall@3"] == pytest.approx((1 / 3 + 2 / 3) / 2)
    assert m["map@3"] == pytest.approx((1 / 6 + 2 / 3) / 2)
    assert m["ndcg@3"] == pytest.approx((L3 / (1 + L3 + L4) + (1 + L3) / (1 + L3 + L4)) / 2)


def test_ranking_ignores_relevant_items_already_in_train():
    model, train, test = ranking_case()
    # u1 rated c in train too: c can never be recommended, so only e is relevant.
    model.seen["u1"] = {"a", "c"}
    train2 = pd.concat([train, frame([("u1", "c", 4)])])
    m = ranking_metrics(model, train2, test, k=3)
    # u1 top-3 = b, d, e; relevant {e}: hits [0,0,1]: P = 1/3, R = 1, AP = (1/3)/1
    assert m["recall@3"] == pytest.approx((1 + 2 / 3) / 2)
    assert m["map@3"] == pytest.approx((1 / 3 + 2 / 3) / 2)


def test_ranking_masks_train_items_a_model_leaks():
    model, train, test = ranking_case()
    model.seen = {}  # this model forgets to exclude its training items
    m = ranking_metrics(model, train, test, k=3)
    # u1 list a, b, c -> a is in train: slot empty; hits [0, 0, 1]: P = 1/3, AP = (1/3)/2
    # u2 list b, d, e -> b masked; hits [0, 1, 1]: AP = (1/2 + 2/3) / 3
    assert m["map@3"] == pytest.approx(((1 / 3) / 2 + (1 / 2 + 2 / 3) / 3) / 2)
    # coverage counts only unmasked slots: {b, c} | {d, e} | {b, c} = 4 / 6
    assert m["catalog_coverage@3"] == pytest.approx(4 / 6)


def test_ranking_calls_recommend_batch_in_bounded_batches():
    model, train, test = ranking_case()
    ranking_metrics(model, train, test, k=3, batch_size=2)
    assert model.calls == [2, 1]


def test_ranking_rejects_bad_k():
    model, train, test = ranking_case()
    with pytest.raises(ValueError, match="k must be a positive integer"):
        ranking_metrics(model, train, test, k=0)


# --------------------------------------------------------------------- candidate protocol


def candidate_case():
    scores = {
        "u1": {"a": 4.5, "b": 4.0, "c": 3.0, "d": 3.8},
        "u2": {"e": 3.0, "f": 2.0},
        "u3": {"g": 3.4, "h": 3.6},
    }
    test = frame(
        [
            ("u1", "a", 5),
            ("u1", "b", 2),
            ("u1", "c", 4),
            ("u1", "d", 4.5),
            ("u2", "e", 3),
            ("u2", "f", 1),
            ("u3", "g", 4),
            ("u3", "h", 5),
        ]
    )
    return TableModel(scores, {}, list("abcdefgh")), test


def test_candidate_metrics_by_hand():
    model, test = candidate_case()
    m = candidate_metrics(model, test, k=2, threshold=3.5)
    # u1: ranked a(4.5) b(4.0) d(3.8) c(3.0); top-2 = a, b; rec = {a, b}; rel = {a, c, d}
    #     P = 1/2, R = 1/3, nDCG = 1 / (1 + L3)
    # u2: predictions 3.0 and 2.0 < 3.5: nothing recommended -> P = 0; no relevant item
    # u3: ranked h(3.6) g(3.4); rec = {h}; rel = {g, h}: P = 1, R = 1/2, nDCG = (1+L3)/(1+L3) = 1
    assert m["candidate_precision@2"] == pytest.approx((0.5 + 0 + 1) / 3)
    assert m["candidate_recall@2"] == pytest.approx((1 / 3 + 1 / 2) / 2)
    assert m["candidate_ndcg@2"] == pytest.approx((1 / (1 + L3) + 1) / 2)


def test_candidate_metrics_nan_without_relevant_items():
    model, test = candidate_case()
    m = candidate_metrics(model, test[test.user_id == "u2"], k=2)
    assert m["candidate_precision@2"] == 0.0  # nothing recommended: precision 0
    assert math.isnan(m["candidate_recall@2"])
    assert math.isnan(m["candidate_ndcg@2"])


def test_candidate_ties_keep_test_order():
    model = TableModel({"u": {"a": 4.0, "b": 4.0}}, {}, ["a", "b"])
    test = frame([("u", "b", 5), ("u", "a", 1)])
    # tie at 4.0: b (first test row) ranks first; k=1 -> rec = {b}, relevant = {b}
    m = candidate_metrics(model, test, k=1)
    assert m["candidate_precision@1"] == 1.0
    assert m["candidate_ndcg@1"] == 1.0


# --------------------------------------------------------------------- evaluate


def test_evaluate_report_has_every_metric():
    model, train, test = ranking_case()
    report = evaluate(model, train, test, k=3)
    assert isinstance(report, EvaluationReport)
    d = report.as_dict()
    assert list(d) == [
        "rmse",
        "mae",
        "n_test",
        "precision@3",
        "recall@3",
        "ndcg@3",
        "map@3",
        "hit_rate@3",
        "catalog_coverage@3",
        "candidate_precision@3",
        "candidate_recall@3",
        "candidate_ndcg@3",
    ]
    assert d["n_test"] == len(test)
    y = test["rating"].to_numpy()
    p = model.predict(test["user_id"], test["item_id"])
    assert d["rmse"] == pytest.approx(rmse(y, p))
    assert d["mae"] == pytest.approx(mae(y, p))
    rank = ranking_metrics(model, train, test, k=3)
    cand = candidate_metrics(model, test, k=3)
    for key, value in {**rank, **cand}.items():
        assert d[key] == pytest.approx(value), key
    assert report.n_ranking_users == 2


# --------------------------------------------------------------------- reference


def reference_ranking(model, train, test, k, threshold):
    """Slow, obvious per-user version of :func:`ranking_metrics`."""
    seen = {}
    for u, i in zip(train.user_id, train.item_id):
        seen.setdefault(u, set()).add(i)
    rel = {}
    users = []
    for u, i, r in zip(test.user_id, test.item_id, test.rating):
        if u not in users:
            users.append(u)
        if r >= threshold and i not in seen.get(u, set()):
            rel.setdefault(u, set()).add(i)
    known = [u for u in users if u in set(model.user_ids)]
    per = {m: [] for m in ("precision", "recall", "ndcg", "map", "hit_rate")}
    covered = set()
    for u in known:
        ids, _ = model.recommend_batch([u], n=k, exclude_seen=True)
        recs = [i if i not in seen.get(u, set()) else None for i in ids[0]]
        covered |= {i for i in recs if i is not None and i in set(model.item_ids)}
        r_u = rel.get(u, set())
        if not r_u:
            continue
        hits = [1 if i is not None and i in r_u else 0 for i in recs]
        n_hits = sum(hits)
        per["precision"].append(n_hits / k)
        per["recall"].append(n_hits / len(r_u))
        dcg = sum(h / math.log2(pos + 2) for pos, h in enumerate(hits))
        idcg = sum(1 / math.log2(pos + 2) for pos in range(min(k, len(r_u))))
        per["ndcg"].append(dcg / idcg)
        ap, running = 0.0, 0
        for pos, h in enumerate(hits):
            running += h
            if h:
                ap += running / (pos + 1)
        per["map"].append(ap / min(k, len(r_u)))
        per["hit_rate"].append(1.0 if n_hits else 0.0)
    out = {f"{m}@{k}": (float(np.mean(v)) if v else float("nan")) for m, v in per.items()}
    out[f"catalog_coverage@{k}"] = len(covered) / len(model.item_ids)
    return out


def reference_candidate(model, test, k, threshold):
    """Slow, obvious per-user version of :func:`candidate_metrics`."""
    by_user = {}
    for u, i, r in zip(test.user_id, test.item_id, test.rating):
        by_user.setdefault(u, []).append((float(model.predict([u], [i])[0]), float(r)))
    precision, recall, ndcg = [], [], []
    for rows in by_user.values():
        rows = sorted(rows, key=lambda x: -x[0])  # stable: test order on ties
        top = rows[:k]
        n_rel = sum(r >= threshold for _, r in rows)
        n_rec = sum(p >= threshold for p, _ in top)
        n_hit = sum(p >= threshold and r >= threshold for p, r in top)
        precision.append(n_hit / n_rec if n_rec else 0.0)
        if n_rel:
            recall.append(n_hit / n_rel)
            dcg = sum((r >= threshold) / math.log2(pos + 2) for pos, (_, r) in enumerate(top))
            idcg = sum(1 / math.log2(pos + 2) for pos in range(min(k, n_rel)))
            ndcg.append(dcg / idcg)
    mean = lambda v: float(np.mean(v)) if v else float("nan")
    return {
        f"candidate_precision@{k}": mean(precision),
        f"candidate_recall@{k}": mean(recall),
        f"candidate_ndcg@{k}": mean(ndcg),
    }


def random_case(seed):
    rng = np.random.default_rng(seed)
    n_users, n_items = 40, 30
    items = list(range(100, 100 + n_items))
    known_users = list(range(n_users))
    # discrete scores make ties common, exercising the tie rules
    scores = {u: {i: float(rng.integers(0, 8)) for i in items} for u in known_users}
    pairs = [(u, i) for u in range(n_users + 5) for i in items + [999]]
    pick = rng.random(len(pairs))
    rating = rng.integers(1, 6, len(pairs)).astype(float)
    train_rows = [
        (u, i, r)
        for (u, i), p, r in zip(pairs, pick, rating)
        if p < 0.25 and u < n_users and i != 999
    ]
    test_rows = [(u, i, r) for (u, i), p, r in zip(pairs, pick, rating) if 0.25 <= p < 0.45]
    rng.shuffle(test_rows)
    train, test = frame(train_rows), frame(test_rows)
    seen = {}
    for u, i in zip(train.user_id, train.item_id):
        seen.setdefault(u, set()).add(i)
    return TableModel(scores, seen, items), train, test


@pytest.mark.parametrize("seed", [0, 1, 2])
@pytest.mark.parametrize("k", [1, 3, 10, 40])
def test_vectorized_ranking_agrees_with_reference(seed, k):
    model, train, test = random_case(seed)
    fast = ranking_metrics(model, train, test, k=k, batch_size=7)
    slow = reference_ranking(model, train, test, k, 4.0)
    assert fast.keys() == slow.keys()
    for key in fast:
        assert fast[key] == pytest.approx(slow[key], nan_ok=True), key
    assert not math.isnan(fast[f"ndcg@{k}"])


@pytest.mark.parametrize("seed", [0, 1, 2])
@pytest.mark.parametrize("k", [1, 3, 10])
def test_vectorized_candidate_agrees_with_reference(seed, k):
    model, _, test = random_case(seed)
    # predictions in 0..7 against ratings 1..5: threshold 3.5 splits both
    fast = candidate_metrics(model, test, k=k)
    slow = reference_candidate(model, test, k, 3.5)
    for key in fast:
        assert fast[key] == pytest.approx(slow[key], nan_ok=True), key
