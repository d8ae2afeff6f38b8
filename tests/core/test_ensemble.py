"""The ensemble: weights chosen on validation, MF's ratings kept, additive explanations."""

from __future__ import annotations

import numpy as np
import pytest

from recsys_core.ensemble import CALIBRATION_WEIGHTS, MF_WEIGHTS, Ensemble, ndcg_at_k, standardize
from recsys_core.evaluation import ranking_metrics
from recsys_core._tags import TagProfile
from recsys_core.params import EnsembleParams
from recsys_core.persistence import ModelFileError
from recsys_core.types import build_model, load_model

from ._helpers import ml100k_fold


@pytest.fixture(scope="module")
def fold1():
    return ml100k_fold(1)


@pytest.fixture(scope="module")
def ml100k_genres():
    import pandas as pd

    from ._helpers import data_dir

    names = ["unknown", "Action", "Adventure", "Animation", "Children's", "Comedy", "Crime", "Documentary",
             "Drama", "Fantasy", "Film-Noir", "Horror", "Musical", "Mystery", "Romance", "Sci-Fi", "Thriller",
             "War", "Western"]
    items = pd.read_csv(data_dir() / "ml-100k" / "u.item", sep="|", header=None, encoding="latin-1")
    return {int(row[0]): [g for g, flag in zip(names, row[5:], strict=True) if flag]
            for row in items.itertuples(index=False)}


@pytest.fixture(scope="module")
def ensemble(fold1):
    train, _ = fold1
    return Ensemble().fit(train, rating_scale=(1.0, 5.0))


def test_weights_are_chosen_on_validation_and_recorded(ensemble):
    info = ensemble.fit_info
    assert info["weights_chosen_on_validation"]
    assert 0.0 < info["validation_ndcg"] < 1.0
    assert info["mf_weight"] in MF_WEIGHTS and info["calibration_weight"] in CALIBRATION_WEIGHTS
    # The floor is met on validation when some grid point reaches it (it does on ml-100k).
    assert info["validation_coverage"] >= ensemble.params.coverage_floor


def test_fixed_weights_skip_the_search(fold1):
    train, _ = fold1
    model = Ensemble(calibration_weight=0.3, mf_weight=0.5, popularity_penalty=0.1).fit(train, rating_scale=(1.0, 5.0))
    assert (model.weights.calibration, model.weights.mf, model.weights.popularity) == (0.3, 0.5, 0.1)
    assert not model.fit_info["weights_chosen_on_validation"]


def test_covers_more_of_the_catalogue_than_its_ranker_at_the_same_accuracy(fold1, ensemble):
    train, test = fold1
    blended = ranking_metrics(ensemble, train, test, k=10)
    ranker_alone = ranking_metrics(ensemble.ranker, train, test, k=10)
    mf_alone = ranking_metrics(ensemble.mf, train, test, k=10)
    assert blended["ndcg@10"] > mf_alone["ndcg@10"] + 0.25
    assert blended["ndcg@10"] > ranker_alone["ndcg@10"] - 0.01
    assert blended["catalog_coverage@10"] > ranker_alone["catalog_coverage@10"] + 0.04


def test_predictions_are_mfs(fold1, ensemble):
    _, test = fold1
    users, items = test["user_id"].to_numpy()[:500], test["item_id"].to_numpy()[:500]
    np.testing.assert_array_equal(ensemble.predict(users, items), ensemble.mf.predict(users, items))
    profile = ensemble.trained_profile(int(users[0]))
    mf_profile = ensemble.mf.trained_profile(int(users[0]))
    np.testing.assert_allclose(
        ensemble.predict_profiles([profile], [0, 0], items[:2]),
        ensemble.mf.predict_profiles([mf_profile], [0, 0], items[:2]),
    )


def test_explanation_terms_sum_to_the_score(ensemble):
    new_user = ensemble.profile([50, 172, 181, 183], [5.0, 5.0, 4.5, 2.0])
    for profile in (ensemble.trained_profile(1), new_user):
        scores = ensemble.scores(profile)
        for code in (0, 10, int(np.argmax(scores))):
            item = ensemble.item_ids[code]
            explained = ensemble.explain(profile, item)
            assert explained.score == pytest.approx(scores[code], abs=1e-9)
            assert explained.total() == pytest.approx(explained.score, abs=1e-9)
            rated = {t.item_id for t in explained.terms if t.kind == "rated_item"}
            assert rated <= set(np.asarray(profile.item_ids).tolist())


def test_a_new_users_state_and_recommendations_match_a_trained_users(ensemble):
    items, ratings = ensemble.seen_items(7)
    solved = ensemble.profile(items, ratings)
    np.testing.assert_allclose(solved.state, ensemble.trained_state(7), atol=1e-8)
    ids, _ = ensemble.recommend(solved, 10)
    batch_ids, _ = ensemble.recommend_batch([7], 10)
    assert list(ids) == list(batch_ids[0])


def test_round_trip_keeps_scores_and_type(ensemble, tmp_path):
    loaded = load_model(ensemble.to_bytes())
    assert isinstance(loaded, Ensemble) and loaded.model_type == "ensemble"
    profile = ensemble.trained_profile(3)
    np.testing.assert_allclose(loaded.scores(profile), ensemble.scores(profile))
    with pytest.raises(ModelFileError):
        build_model("matrix_factorization").from_bytes(ensemble.to_bytes())


def test_bad_hyperparameters_name_the_field():
    with pytest.raises(ValueError, match="mf_weight"):
        EnsembleParams(mf_weight=-1)
    with pytest.raises(ValueError, match="ease.regularization"):
        EnsembleParams.model_validate({"ease": {"regularization": 0}})


def test_standardize_and_ndcg_against_a_slow_reference():
    rng = np.random.default_rng(0)
    scores = rng.normal(size=(6, 40))
    z, mean, std = standardize(scores)
    for row in range(6):
        expected = (scores[row] - scores[row].mean()) / scores[row].std()
        np.testing.assert_allclose(z[row], expected)
    relevant = [rng.choice(40, size=k, replace=False) for k in (1, 2, 3, 5, 8, 13)]
    slow = []
    for row, rel in enumerate(relevant):
        order = sorted(range(40), key=lambda i: -scores[row, i])[:10]
        dcg = sum(1 / np.log2(rank + 2) for rank, i in enumerate(order) if i in set(rel))
        ideal = sum(1 / np.log2(rank + 2) for rank in range(min(len(rel), 10)))
        slow.append(dcg / ideal)
    assert ndcg_at_k(scores, relevant, 10) == pytest.approx(np.mean(slow))


def test_tag_scores_agree_with_a_slow_reference():
    rng = np.random.default_rng(1)
    item_ids = np.arange(30)
    tags = {i: [t for t in ("a", "b", "c", "d") if rng.random() < 0.4] for i in range(30) if i % 7}
    profile = TagProfile.of(item_ids, tags)
    codes = [rng.choice(30, size=k, replace=False) for k in (1, 4, 9)]
    weights = [rng.random(len(c)) for c in codes]
    fast = profile.scores(codes, weights)
    for row, (c, w) in enumerate(zip(codes, weights, strict=True)):
        np.testing.assert_allclose(fast[row], profile.scores_reference(c, w), atol=1e-12)
        # one profile alone takes the path a request takes
        np.testing.assert_allclose(profile.scores([c], [w])[0], profile.scores_reference(c, w), atol=1e-12)
    assert not profile.scores([np.zeros(0, np.int64)], [np.zeros(0)]).any()
    restored = TagProfile.from_arrays(profile.to_arrays(), 30)
    np.testing.assert_array_equal(restored.matrix, profile.matrix)


@pytest.fixture(scope="module")
def with_genres(fold1, ml100k_genres):
    train, _ = fold1
    return Ensemble().fit(train, rating_scale=(1.0, 5.0), item_tags=ml100k_genres)


def test_genres_add_an_exact_term_and_new_users_get_cold_start_weights(with_genres, ml100k_genres):
    model = with_genres
    assert model.fit_info["cold_validation_ndcg"] > 0 and model.weights.tags is not None
    sci_fi = [50, 172, 181, 183, 176, 195, 89, 228]
    new_user = model.profile(sci_fi, [5.0] * len(sci_fi))
    assert model.weights_for(new_user) == model.cold_weights
    assert model.weights_for(model.trained_profile(1)) == model.weights  # 270 ratings: warm
    scores = model.scores(new_user)
    for item in (model.item_ids[int(np.argmax(scores))], 1):
        explained = model.explain(new_user, item)
        assert explained.total() == pytest.approx(explained.score, abs=1e-9)
        assert explained.score == pytest.approx(scores[model._item_codes([item])[0]], abs=1e-9)
    if model.cold_weights.tags:  # an unrated Sci-Fi film gets a lift from the fan's taste, a musical does not
        unrated_sci_fi = [i for i in model.item_ids if "Sci-Fi" in ml100k_genres[int(i)] and i not in sci_fi]
        musicals = [i for i in model.item_ids if ml100k_genres[int(i)] == ["Musical"]]
        lift = {item: next(t.value for t in model.explain(new_user, item).terms if t.kind == "tags")
                for item in (unrated_sci_fi[0], musicals[0])}
        assert lift[unrated_sci_fi[0]] > 0 > lift[musicals[0]]
    loaded = load_model(model.to_bytes())
    np.testing.assert_allclose(loaded.scores(new_user), scores)
