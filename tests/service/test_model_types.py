"""Every model type trains, evaluates, versions and serves through the API, learns from
a new rating at once, explains itself additively, and says which version and type served."""

from __future__ import annotations

import pytest

from recsys_core.data import load_movielens
from service.importer import import_dataset
from tests.scenario import ADMIN, CLIENT, rating_scale, wait_for_active, wait_for_job

NEW_USER = 60_000
TYPES = {
    "ease": {},
    "ials": {"epochs": 5},
    "ensemble": {},
    "matrix_factorization": {"n_factors": 8, "epochs": 4},
}


@pytest.fixture
async def imported(client, settings_env, ml100k_dir):
    import_dataset(load_movielens(ml100k_dir))
    return client


async def train_and_activate(client, model_type: str) -> dict:
    accepted = await client.post("/api/ml/train", json={"model_type": model_type, "hyperparams": TYPES[model_type]},
                                 headers=ADMIN)
    assert accepted.status_code == 202, accepted.text
    job = await wait_for_job(client, accepted.json()["job_id"], timeout=300)
    assert job["status"] == "succeeded", job
    activated = await client.post(f"/api/ml/models/activate/{job['model_version']}", headers=ADMIN)
    assert activated.status_code == 200
    await wait_for_active(client, job["model_version"])
    return job


@pytest.mark.parametrize("model_type", list(TYPES))
async def test_each_type_trains_serves_learns_and_explains(imported, model_type):
    client = imported
    job = await train_and_activate(client, model_type)
    version = job["model_version"]
    assert job["model_type"] == model_type and job["history"], job

    model = next(m for m in (await client.get("/api/ml/models")).json() if m["version"] == version)
    assert model["model_type"] == model_type
    assert model["holdout_ndcg"] is not None and model["holdout_ndcg"] > 0.05
    rates = model_type in ("ensemble", "matrix_factorization")
    assert (model["holdout_rmse"] is not None) == rates
    assert (model["metrics"]["rmse"] is not None) == rates

    before = (await client.get(f"/api/ml/recommendations/{NEW_USER}", params={"n": 10})).json()
    assert before["strategy"] == "popularity_fallback" and before["model_type"] is None
    posted = await client.post("/api/ratings", json={"user_id": NEW_USER, "movie_id": 50, "rating": 5.0},
                               headers=CLIENT)
    assert posted.status_code == 201 and posted.json()["fold_in"]["folded_in"]
    assert (posted.json()["fold_in"]["predicted_before"] is not None) == rates
    first = (await client.get(f"/api/ml/recommendations/{NEW_USER}", params={"n": 10})).json()
    assert first["strategy"] == "personalized"
    assert first["model_version"] == version and first["model_type"] == model_type
    assert all((item["predicted_rating"] is not None) == rates for item in first["items"])

    # One more rating changes the very next list.
    await client.post("/api/ratings", json={"user_id": NEW_USER, "movie_id": 1, "rating": 1.0}, headers=CLIENT)
    second = (await client.get(f"/api/ml/recommendations/{NEW_USER}", params={"n": 10})).json()
    assert [i["score"] for i in second["items"]] != [i["score"] for i in first["items"]]

    top = second["items"][0]
    explained = (await client.get(f"/api/ml/explain/{NEW_USER}/{top['movie_id']}")).json()
    assert explained["model_type"] == model_type and explained["model_version"] == version
    assert sum(t["value"] for t in explained["terms"]) == pytest.approx(explained["score"], abs=1e-9)
    # The list shows MF's score clipped to the scale; every other type shows the score as is.
    shown = explained["predicted_rating"] if model_type == "matrix_factorization" else explained["score"]
    assert shown == pytest.approx(top["score"], abs=1e-9)
    assert {c["movie_id"] for c in explained["because_you_rated"]} <= {50, 1}

    similar = (await client.get("/api/ml/similar/50", params={"n": 5})).json()
    assert similar["strategy"] == "model" and similar["model_type"] == model_type and len(similar["items"]) == 5

    predicted = await client.post("/api/ml/predict", json={"user_id": NEW_USER, "movie_id": 172})
    if rates:
        assert predicted.status_code == 200 and predicted.json()["model_type"] == model_type
        lo, hi = await rating_scale(client)
        assert lo <= predicted.json()["predicted_rating"] <= hi
    else:
        assert predicted.status_code == 409 and predicted.json()["error"]["field"] == "model_type"


async def test_the_gate_keeps_an_ensemble_over_a_later_mf_and_lets_an_ensemble_replace_mf(imported):
    client = imported
    mf = await train_and_activate(client, "matrix_factorization")
    accepted = await client.post("/api/ml/train", json={"model_type": "ensemble"}, headers=ADMIN)
    ensemble = await wait_for_job(client, accepted.json()["job_id"], timeout=300)
    assert ensemble["status"] == "succeeded" and ensemble["model_version"] != mf["model_version"]
    await wait_for_active(client, ensemble["model_version"])  # better lists, the same MF ratings

    accepted = await client.post("/api/ml/train", json={"model_type": "matrix_factorization",
                                                        "hyperparams": TYPES["matrix_factorization"]}, headers=ADMIN)
    again = await wait_for_job(client, accepted.json()["job_id"], timeout=300)
    assert again["status"] == "succeeded"
    versions = {m["version"]: m for m in (await client.get("/api/ml/models")).json()}
    assert versions[ensemble["model_version"]]["is_active"]  # an MF version does not replace the ensemble
    assert not versions[again["model_version"]]["is_active"]


async def test_model_types_are_described_with_their_ranges(client):
    types = {t["model_type"]: t for t in (await client.get("/api/ml/model-types")).json()}
    assert set(types) == set(TYPES)
    assert types["ensemble"]["is_default"] and not types["ease"]["is_default"]
    assert not types["ease"]["predicts_ratings"] and types["ensemble"]["predicts_ratings"]
    assert types["matrix_factorization"]["gate_metric"] == "rmse" and types["ease"]["gate_metric"] == "ndcg"
    assert types["ease"]["defaults"]["regularization"] == 200.0
    assert "in (0, 1e7]" in types["ease"]["hyperparams_schema"]["properties"]["regularization"]["description"]
