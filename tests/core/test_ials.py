"""iALS: learns, folds in exactly, explains exactly, survives save/load."""

from __future__ import annotations

import numpy as np
import pydantic
import pytest
import scipy.sparse as sp

from recsys_core.evaluation import ranking_metrics
from recsys_core.ials import ImplicitALS, confidence, solve_rows, solve_rows_reference
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
    return ImplicitALS().fit(fold[0])


def test_learns_far_above_most_popular(model, fold):
    ndcg = ranking_metrics(model, *fold, k=10)["ndcg@10"]
    assert ndcg > 0.35 and ndcg > most_popular_ndcg(*fold) + 0.10


def test_trained_state_is_the_fold_in_of_the_training_ratings(model):
    users = model.user_ids[[0, 5, 100, 942]]
    rows, items, values = [], [], []
    for row, user in enumerate(users):
        ids, r = model.seen_items(user)
        rows += [row] * len(ids)
        items += list(ids)
        values += list(r)
    states = model.user_states(rows, items, values, len(users))
    trained = np.stack([model.trained_state(u) for u in users])
    np.testing.assert_allclose(states, trained, rtol=1e-9, atol=1e-12)


def test_user_states_of_own_ratings_give_the_batch_top10(model):
    check_states_match_batch(model, [1, 7, 100, 943])


def test_explanation_terms_sum_to_score(model):
    check_explanations_sum(model, 1, [50, 172, 181, 98], [5.0, 4.0, 2.0, 3.0])


def test_stale_state_is_explained_with_a_residual(model):
    profile = model.trained_profile(1)
    stale = type(profile)(profile.item_ids[:-3], profile.ratings[:-3], profile.state)
    exp = model.explain(stale, 50)
    assert exp.terms[-1].kind == "residual"
    assert exp.total() == pytest.approx(exp.score, abs=1e-12)


def test_save_load_round_trip(model):
    loaded = check_round_trip(model, 1)
    np.testing.assert_allclose(loaded.trained_state(1), model.trained_state(1))


def test_sci_fi_fan_gets_some_sci_fi(model):
    assert sci_fi_hits(model) >= 1  # 1 measured (EASE: 4): iALS's lists lean to popular films


def test_similar_items_are_cosines(model):
    ids, sims = model.similar_items(172, n=5)
    assert 172 not in ids and 174 in ids  # Empire -> Raiders of the Lost Ark
    assert np.all(np.diff(sims) <= 0) and sims[0] <= 1.0 + 1e-12


def test_empty_state_gets_most_popular(model):
    profile = model.profile([999_999], [5.0])
    assert not profile.state.any()
    ids, _ = model.recommend(profile, n=3)
    assert list(ids) == list(model.item_ids[np.argsort(-model.item_popularity, kind="stable")[:3]])


def test_vectorized_solve_agrees_with_the_per_user_loop(monkeypatch):
    from recsys_core import ials

    rng = np.random.default_rng(0)
    conf = sp.random(70, 40, density=0.2, random_state=2, format="csr")
    conf.data = confidence(conf.data * 5, (1.0, 5.0), 3.0)
    other = rng.normal(size=(40, 6))
    gram = other.T @ other + 0.5 * np.eye(6)
    expected = solve_rows_reference(conf, other, gram)
    np.testing.assert_allclose(solve_rows(conf, other, gram), expected, rtol=1e-10, atol=1e-12)
    monkeypatch.setattr(ials, "_CHUNK_FLOATS", 30)  # many small padded batches
    np.testing.assert_allclose(solve_rows(conf, other, gram), expected, rtol=1e-10, atol=1e-12)


def test_numpy_and_reference_fits_agree():
    ratings = random_ratings(n_users=30, n_items=20, seed=4)
    fast = ImplicitALS(n_factors=4, epochs=3, regularization=1.0, solver="numpy").fit(ratings)
    slow = ImplicitALS(n_factors=4, epochs=3, regularization=1.0, solver="reference").fit(ratings)
    np.testing.assert_allclose(fast._item_factors, slow._item_factors, rtol=1e-8, atol=1e-10)
    np.testing.assert_allclose(fast._user_factors, slow._user_factors, rtol=1e-8, atol=1e-10)


def test_numpy_solver_learns_as_well(fold):
    numpy_model = ImplicitALS(solver="numpy").fit(fold[0])
    assert ranking_metrics(numpy_model, *fold, k=10)["ndcg@10"] > 0.35


def test_callback_gets_every_epoch_and_can_stop():
    reports = []
    model = ImplicitALS(epochs=5).fit(random_ratings(seed=5), callback=lambda r: reports.append(r) or len(reports) < 2)
    assert len(reports) == 2 and model.fit_info == {"epochs_run": 2, "stopped": "callback"}
    assert all(r.train_rmse is None and np.isfinite(r.train_loss) for r in reports)


def test_confidence_grows_with_the_rating():
    np.testing.assert_allclose(confidence(np.array([1.0, 5.0]), (1.0, 5.0), 5.0), [2.0, 6.0])


@pytest.mark.parametrize(
    ("field", "value"),
    [("n_factors", 0), ("regularization", -1.0), ("alpha", -0.5), ("epochs", 0), ("solver", "gpu"), ("factors", 8)],
)
def test_bad_hyperparameters_name_the_field(field, value):
    with pytest.raises(pydantic.ValidationError, match=field):
        build_model("ials", {field: value})
