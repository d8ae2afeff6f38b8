"""EASE: learns, explains exactly, folds in immediately, survives save/load."""

from __future__ import annotations

import numpy as np
import pydantic
import pytest
import scipy.sparse as sp

from recsys_core.ease import EASE, ease_weights, solve_ease, solve_ease_reference
from recsys_core.evaluation import ranking_metrics
from recsys_core.params import EASEParams
from recsys_core.types import build_model
from tests.core._helpers import ml100k_fold, random_ratings
from tests.core._ranking_checks import (
    check_explanations_sum,
    check_round_trip,
    check_states_match_batch,
    most_popular_ndcg,
    sci_fi_hits,
)


@pytest.fixture(scope="module")
def fold():
    return ml100k_fold(1)


@pytest.fixture(scope="module")
def model(fold):
    return EASE(regularization=500.0).fit(fold[0])


def test_learns_far_above_most_popular(model, fold):
    ndcg = ranking_metrics(model, *fold, k=10)["ndcg@10"]
    baseline = most_popular_ndcg(*fold)
    assert baseline < 0.25
    assert ndcg > 0.41 and ndcg > baseline + 0.15


def test_explanation_terms_sum_to_score(model):
    check_explanations_sum(model, 1, [50, 172, 181, 98], [5.0, 4.0, 2.0, 3.0])


def test_explanation_names_every_rated_movie_with_its_share(model):
    profile = model.profile([50, 172, 181], [5.0, 4.0, 2.0])
    exp = model.explain(profile, 183)
    assert [t.item_id for t in exp.terms] == [50, 172, 181]
    b = model._b
    codes = model._item_codes([50, 172, 181])
    expected = np.array([1.0, 0.85, 0.25]) * b[codes, model._item_codes([183])[0]]
    np.testing.assert_allclose([t.value for t in exp.terms], expected, rtol=1e-6)
    assert all(0.0 <= t.similarity <= 1.0 for t in exp.terms)


def test_user_states_of_own_ratings_give_the_batch_top10(model):
    check_states_match_batch(model, [1, 7, 100, 943])
    assert model.user_states([0, 0], [50, 172], [5.0, 4.0], 1).shape == (1, 0)


def test_a_new_rating_changes_the_next_scores(model):
    before = model.scores(model.profile([50], [5.0]))
    after = model.scores(model.profile([50, 183], [5.0, 5.0]))
    np.testing.assert_allclose(after - before, model._b[model._item_codes([183])[0]], rtol=1e-5, atol=1e-7)


def test_save_load_round_trip(model):
    loaded = check_round_trip(model, 1)
    assert loaded.similar_items(50)[0].tolist() == model.similar_items(50)[0].tolist()


def test_sci_fi_fan_gets_sci_fi(model):
    assert sci_fi_hits(model) >= 3  # 4 measured; MF put the first Sci-Fi film at rank 30


def test_similar_items_follow_b(model):
    ids, sims = model.similar_items(172, n=5)
    assert 172 not in ids and 50 in ids[:3]
    assert np.all(np.diff(sims) <= 0)


def test_empty_profile_gets_most_popular(model):
    ids, _ = model.recommend(model.profile([], []), n=3)
    assert list(ids) == list(model.item_ids[np.argsort(-model.item_popularity, kind="stable")[:3]])
    exp = model.explain(model.profile([999_999], [5.0]), ids[0])
    assert [t.kind for t in exp.terms] == ["item_appeal"] and exp.score == 1.0


def test_vectorized_solve_agrees_with_textbook_formula():
    rng = np.random.default_rng(0)
    x = sp.csr_matrix((rng.random((80, 2500 // 50)) < 0.15).astype(np.float64))
    b, loss = solve_ease(x, 7.0)
    b_ref, loss_ref = solve_ease_reference(x, 7.0)
    assert b.dtype == np.float32 and np.all(np.diag(b) == 0)
    np.testing.assert_allclose(b, b_ref, atol=1e-6)
    assert loss == pytest.approx(loss_ref, rel=1e-9)


def test_block_boundaries_do_not_change_b(monkeypatch):
    from recsys_core import ease

    x = sp.csr_matrix((np.random.default_rng(1).random((60, 45)) < 0.2).astype(np.float64))
    whole, _ = solve_ease(x, 3.0)
    monkeypatch.setattr(ease, "_BLOCK", 7)
    blocked, _ = solve_ease(x, 3.0)
    np.testing.assert_array_equal(whole, blocked)


def test_max_items_keeps_the_most_rated():
    ratings = random_ratings(n_users=40, n_items=30, density=0.4, seed=3)
    model = EASE(max_items=10).fit(ratings)
    counts = ratings["item_id"].value_counts()
    assert set(model.item_ids) == set(counts.sort_values(ascending=False, kind="stable").index[:10]) or (
        sorted(counts[model.item_ids].tolist())[0] >= sorted(counts.tolist(), reverse=True)[9]
    )
    assert model.fit_info["items_dropped"] == 20
    dropped = next(i for i in counts.index if i not in set(model.item_ids))
    assert not model.has_item(dropped)
    user = ratings["user_id"].iloc[0]
    assert set(model.seen_items(user)[0]) <= set(model.item_ids)


def test_weights_follow_the_rating_as_a_fraction_of_the_scale():
    w = ease_weights(np.array([1.0, 2.0, 2.5, 3.0, 4.0, 5.0]), (1.0, 5.0), EASEParams())
    np.testing.assert_allclose(w, [0.1, 0.25, 0.4, 0.55, 0.85, 1.0])
    w10 = ease_weights(np.array([5.0, 7.5]), (0.0, 10.0), EASEParams())
    np.testing.assert_allclose(w10, [0.55, 0.85])


def test_fit_reports_one_epoch_to_the_callback():
    reports = []
    model = EASE().fit(random_ratings(seed=2), callback=reports.append)
    assert len(reports) == 1 and reports[0].train_rmse is None and np.isfinite(reports[0].train_loss)
    assert model.history == reports


@pytest.mark.parametrize(
    ("field", "value"),
    [("regularization", 0.0), ("max_items", 1), ("rating_weights", (0.1, 0.2, 0.3, 0.4, 2.0)), ("lambda_", 1)],
)
def test_bad_hyperparameters_name_the_field(field, value):
    with pytest.raises(pydantic.ValidationError, match=field):
        build_model("ease", {field: value})
