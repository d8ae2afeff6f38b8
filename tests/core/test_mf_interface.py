"""Matrix factorization as a Recommender: profiles, scores, explanations, model files."""

from __future__ import annotations

import numpy as np
import pytest

from recsys_core import persistence
from recsys_core.model import MatrixFactorization
from recsys_core.persistence import ModelFileError
from recsys_core.recommender import Recommender, UserProfile
from recsys_core.types import build_model, load_model, model_class

from ._helpers import ml100k_fold


@pytest.fixture(scope="module")
def model():
    train, _ = ml100k_fold(1)
    return MatrixFactorization().fit(train, rating_scale=(1.0, 5.0))


def test_is_the_registered_matrix_factorization_type(model):
    assert isinstance(model, Recommender) and model_class("matrix_factorization") is MatrixFactorization
    assert model.model_type == "matrix_factorization" and model.predicts_ratings
    assert model.state_size == model.params.n_factors + 1
    assert isinstance(build_model("matrix_factorization", {"n_factors": 4}), MatrixFactorization)


@pytest.mark.parametrize("who", ["trained", "new"])
def test_explanation_terms_sum_to_the_score(model, who):
    profile = model.trained_profile(1) if who == "trained" else model.profile([50, 172, 181, 183, 999_999], [5, 5, 4.5, 2, 3])
    scores = model.scores(profile)
    for code in (0, 10, int(np.argmax(scores)), int(np.argmin(scores))):
        item = model.item_ids[code]
        e = model.explain(profile, item)
        assert e.total() == pytest.approx(scores[code], abs=1e-9)
        assert e.score == pytest.approx(scores[code], abs=1e-12)
        assert e.prediction == pytest.approx(np.clip(scores[code], 1, 5))
        assert e.model_type == "matrix_factorization"
        rated = {t.item_id for t in e.rated_items()}
        assert rated == set(np.asarray(profile.item_ids).tolist()) - {999_999}
        assert "residual" not in {t.kind for t in e.terms}  # both states are exact solves


def test_a_stale_state_is_explained_with_a_residual(model):
    profile = model.trained_profile(1)
    stale = UserProfile(profile.item_ids, profile.ratings, profile.state * 1.1)
    e = model.explain(stale, 50)
    assert [t.kind for t in e.terms].count("residual") == 1
    assert e.total() == pytest.approx(model.scores(stale)[model._items.get(50)], abs=1e-9)


def test_recommend_of_a_trained_user_matches_recommend_batch(model):
    users = [1, 13, 405]
    batch_ids, batch_scores = model.recommend_batch(users, n=10)
    for row, user in enumerate(users):
        ids, scores = model.recommend(model.trained_profile(user), n=10)
        assert list(ids) == list(batch_ids[row])
        np.testing.assert_allclose(scores, batch_scores[row])
        assert np.all((scores >= 1) & (scores <= 5))


def test_user_states_of_a_trained_users_ratings_reproduce_the_trained_state(model):
    users = [1, 13, 405]
    rated = [model.seen_items(u) for u in users]
    rows = np.concatenate([np.full(len(items), r) for r, (items, _) in enumerate(rated)])
    states = model.user_states(
        rows, np.concatenate([i for i, _ in rated]), np.concatenate([v for _, v in rated]), len(users)
    )
    for row, user in enumerate(users):
        np.testing.assert_allclose(states[row], model.trained_state(user), atol=1e-9)


def test_model_file_round_trip_keeps_scores_and_tags_the_type(model):
    data = model.to_bytes()
    _, meta = persistence.from_bytes(data)
    assert meta["model_type"] == "matrix_factorization" and meta["model"] == "MatrixFactorization"
    loaded = load_model(data)
    assert isinstance(loaded, MatrixFactorization)
    for profile_of in (lambda m: m.trained_profile(1), lambda m: m.profile([50, 181], [5.0, 2.0])):
        np.testing.assert_array_equal(loaded.scores(profile_of(loaded)), model.scores(profile_of(model)))


def test_a_file_without_a_model_type_loads_as_matrix_factorization(model):
    arrays, meta = persistence.from_bytes(model.to_bytes())
    untagged = {k: v for k, v in meta.items() if k not in ("model_type", "checksum", "format", "format_version")}
    data = persistence.to_bytes(arrays, untagged)
    assert "model_type" not in persistence.from_bytes(data)[1]
    for loaded in (load_model(data), Recommender.from_bytes(data), MatrixFactorization.from_bytes(data)):
        assert isinstance(loaded, MatrixFactorization)
        np.testing.assert_array_equal(loaded.trained_state(1), model.trained_state(1))


def test_loading_a_matrix_factorization_file_as_another_type_is_refused(model):
    class OtherType(MatrixFactorization):
        model_type = "ease"

    with pytest.raises(ModelFileError, match="matrix_factorization"):
        OtherType.from_bytes(model.to_bytes())


def test_unknown_item_and_bad_state_are_refused(model):
    from recsys_core.recommender import UnknownIdError

    with pytest.raises(UnknownIdError):
        model.explain(model.trained_profile(1), 999_999)
    with pytest.raises(ValueError, match="state"):
        model.scores(UserProfile(np.zeros(0), np.zeros(0)))
