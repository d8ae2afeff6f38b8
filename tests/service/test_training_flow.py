"""The seed scenario on the embedded stack: import, train through the in-process worker,
recommend, predict, metrics, versions, activation and deletion rules."""

from __future__ import annotations

import pytest

from recsys_core.data import load_movielens
from service.importer import import_dataset
from tests.scenario import ADMIN, CLIENT, FAST, seed_scenario, wait_for_job


@pytest.fixture
def ml100k_imported(settings_env, ml100k_dir):
    return import_dataset(load_movielens(ml100k_dir))


async def test_seed_scenario(client, ml100k_imported):
    assert ml100k_imported["ratings"] == 100_000
    await seed_scenario(client)


async def test_bad_hyperparameters_name_the_field(client):
    cases = [  # each type validates its own hyperparameters; the error names field and range
        ({"model_type": "matrix_factorization", "hyperparams": {"n_factors": 0}}, "hyperparams.n_factors", "[1, 1024]"),
        ({"model_type": "ease", "hyperparams": {"regularization": 0}}, "hyperparams.regularization", "(0.0, 10000000.0]"),
        ({"model_type": "ials", "hyperparams": {"alpha": -1}}, "hyperparams.alpha", "[0.0, 10000.0]"),
        ({"model_type": "ensemble", "hyperparams": {"ease": {"regularization": 0}}}, "hyperparams.ease.regularization",
         "(0.0, 10000000.0]"),
        ({"hyperparams": {"n_factors": 8}}, "hyperparams.n_factors", "Extra inputs"),  # no type: the ensemble's fields
        ({"model_type": "ease", "hyperparams": {"n_factors": 8}}, "hyperparams.n_factors", "Extra inputs"),
    ]
    for body, field, words in cases:
        response = await client.post("/api/ml/train", json=body, headers=ADMIN)
        assert response.status_code == 422, body
        error = response.json()["error"]
        assert error["field"] == field and words in error["message"], (body, error)
    unknown = await client.post("/api/ml/train", json={"model_type": "neural"}, headers=ADMIN)
    assert unknown.status_code == 422 and unknown.json()["error"]["field"] == "model_type"
    assert "ensemble, ease, ials, matrix_factorization" in unknown.json()["error"]["message"]
    assert (await client.get("/api/ml/training-status")).json() == []


async def test_training_needs_the_admin_key(client):
    assert (await client.post("/api/ml/train", json={})).status_code == 401
    assert (await client.post("/api/ml/train", json={}, headers=CLIENT)).status_code == 403
    assert (await client.post("/api/ml/models/activate/1", headers=CLIENT)).status_code == 403


async def test_training_without_ratings_fails_with_a_reason(client):
    response = await client.post("/api/ml/train", json={"model_type": "matrix_factorization", "hyperparams": FAST}, headers=ADMIN)
    job = await wait_for_job(client, response.json()["job_id"])
    assert job["status"] == "failed" and "ratings" in job["error"]


async def test_no_model_yet(client):
    missing = await client.get("/api/ml/metrics")
    assert missing.status_code == 404
    predicted = await client.post("/api/ml/predict", json={"user_id": 1, "movie_id": 1})
    assert predicted.status_code == 503 and predicted.json()["error"]["code"] == "unavailable"
    assert (await client.get("/api/ml/training-status/nope")).status_code == 404
    bad_n = await client.get("/api/ml/recommendations/1", params={"n": 101})
    assert bad_n.status_code == 422 and bad_n.json()["error"]["field"] == "n"
