"""engine "spark" through the API in the embedded mode (SQLite, the in-process worker,
Spark on local[*]): a request's engine is checked per type, and an MF job trained by
Spark becomes a version that serves like any other."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import pytest

from recsys_core.data import load_movielens
from recsys_core.types import load_model
from service.importer import import_dataset
from tests.scenario import ADMIN, wait_for_active, wait_for_job


@pytest.mark.parametrize("body", [
    {"model_type": "ensemble", "engine": "spark"},
    {"model_type": "ease", "engine": "spark"},
    {"engine": "spark"},  # no type: the ensemble
])
async def test_spark_is_refused_for_types_it_cannot_train(client, body):
    response = await client.post("/api/ml/train", json=body, headers=ADMIN)
    assert response.status_code == 422, response.text
    error = response.json()["error"]
    assert error["field"] == "engine", error
    assert "matrix_factorization and ials" in error["message"], error
    assert (await client.get("/api/ml/training-status")).json() == []


async def test_an_unknown_engine_names_the_field(client):
    response = await client.post("/api/ml/train", json={"model_type": "matrix_factorization", "engine": "gpu"},
                                 headers=ADMIN)
    assert response.status_code == 422, response.text
    error = response.json()["error"]
    assert error["field"] == "engine" and "'numpy' or 'spark'" in error["message"], error


async def test_a_job_says_its_engine_and_numpy_is_the_default(client):
    response = await client.post("/api/ml/train", json={"model_type": "ease"}, headers=ADMIN)
    job = (await client.get(response.json()["status_url"])).json()
    assert job["engine"] == "numpy"


async def test_embedded_spark_mf_job_writes_a_version_that_serves(client, settings_env, ml100k_dir, tmp_path,
                                                                   monkeypatch):
    snapshots = tmp_path / "snapshots"
    monkeypatch.setenv("SPARK_SNAPSHOT_URL", str(snapshots))
    monkeypatch.setenv("SPARK_CONF", '{"spark.sql.shuffle.partitions": "4", "spark.ui.enabled": "false"}')
    from service.core.config import get_settings

    get_settings.cache_clear()
    dataset = load_movielens(ml100k_dir)
    import_dataset(dataclasses.replace(dataset, ratings=dataset.ratings[dataset.ratings["user_id"] <= 150]))

    body = {"model_type": "matrix_factorization", "engine": "spark", "hyperparams": {"n_factors": 6, "epochs": 4}}
    accepted = await client.post("/api/ml/train", json=body, headers=ADMIN)
    assert accepted.status_code == 202, accepted.text
    job = await wait_for_job(client, accepted.json()["job_id"], timeout=300)
    assert job["status"] == "succeeded" and job["engine"] == "spark", job
    assert [p["epoch"] for p in job["history"]] == [4], job["history"]  # one point, after the Spark fit
    await wait_for_active(client, job["model_version"])

    (version,) = [m for m in (await client.get("/api/ml/models")).json() if m["version"] == job["model_version"]]
    assert version["engine"] == "spark" and version["is_active"], version
    assert 0.7 < version["holdout_rmse"] < 1.2, version
    recs = (await client.get("/api/ml/recommendations/1")).json()
    assert recs["model_version"] == job["model_version"] and recs["strategy"] == "personalized", recs
    assert list(Path(snapshots).glob("job-*")) == []  # the job's snapshots are gone

    from service.db.models import ModelArtifact
    from service.db.session import sync_session

    with sync_session() as session:
        artifact = session.get(ModelArtifact, job["model_version"]).data
    model = load_model(artifact)
    assert model.model_type == "matrix_factorization" and model.fit_info["engine"] == "spark", model.fit_info


def test_a_retrain_keeps_the_engine_of_the_version_it_retrains():
    from service.db.models import ModelVersion
    from service.training.jobs import retrain_jobs

    (job,) = retrain_jobs(ModelVersion(model_type="ials", hyperparams={}, engine="spark"))
    assert (job.model_type, job.engine, job.kind) == ("ials", "spark", "retrain")
    (job,) = retrain_jobs(None)
    assert job.engine == "numpy"
