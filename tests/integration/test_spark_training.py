"""engine "spark" on the real stack (PostgreSQL, Redis, a Celery worker process, uvicorn),
Spark on local[*] inside the worker: a running Spark fit is cancelled by the API, and
the next job trains a version that is activated and served like any other.

The stack imports 150 of ml-100k's users (about 15,000 ratings) to keep Spark's part of
the run short; the cancel test runs first, so the second also shows that the worker's
SparkSession survives a cancelled job group."""

from __future__ import annotations

import time
from pathlib import Path

import httpx
import psycopg
import pytest

from recsys_core.types import load_model
from service.testing.stack import ADMIN_KEY, Stack, launch_stack, wait_until
from service.training.status import JobStatus
from tests.conftest import data_dir

pytestmark = pytest.mark.integration

ADMIN = {"X-API-Key": ADMIN_KEY}
REDIS_DB = 14
USERS = 150


@pytest.fixture(scope="module")
def snapshots(tmp_path_factory) -> Path:
    return tmp_path_factory.mktemp("spark-snapshots")


@pytest.fixture(scope="module")
def stack(tmp_path_factory, snapshots) -> Stack:
    release = tmp_path_factory.mktemp("small") / "ml-100k"
    release.mkdir()
    source = data_dir() / "ml-100k"
    for name in ("u.item", "u.genre"):
        (release / name).write_bytes((source / name).read_bytes())
    lines = (source / "u.data").read_text().splitlines()
    (release / "u.data").write_text("\n".join(line for line in lines if int(line.split("\t")[0]) <= USERS) + "\n")
    env = {
        "SPARK_MASTER_URL": "local[*]",
        "SPARK_SNAPSHOT_URL": str(snapshots),
        "SPARK_CONF": '{"spark.sql.shuffle.partitions": "4", "spark.ui.enabled": "false"}',
    }
    with launch_stack(tmp_path_factory.mktemp("spark-stack"), REDIS_DB, release, extra_env=env) as live:
        yield live


@pytest.fixture
def client(stack: Stack):
    with httpx.Client(base_url=stack.api_urls[0], timeout=30) as http:
        yield http


def start(client: httpx.Client, hyperparams: dict[str, object]) -> str:
    body = {"model_type": "matrix_factorization", "engine": "spark", "hyperparams": hyperparams}
    accepted = client.post("/api/ml/train", json=body, headers=ADMIN)
    assert accepted.status_code == 202, accepted.text
    return accepted.json()["job_id"]


def job(client: httpx.Client, job_id: str) -> dict:
    return client.get(f"/api/ml/training-status/{job_id}").json()


def finished(client: httpx.Client, job_id: str, timeout: float) -> dict:
    wait_until(lambda: JobStatus(job(client, job_id)["status"]).is_terminal, timeout, f"job {job_id} to end")
    return job(client, job_id)


def test_cancelling_a_running_spark_fit_stops_it_and_writes_nothing(stack, client, snapshots):
    job_id = start(client, {"n_factors": 8, "epochs": 1000})  # minutes of Spark ALS if left alone
    # The ALS phase starts at 0.05 + 0.95 * 0.15 of the curve's 60% share (spark_fitting).
    wait_until(lambda: job(client, job_id)["progress"] >= 0.11 or JobStatus(job(client, job_id)["status"]).is_terminal,
               180, "the Spark ALS phase")
    assert job(client, job_id)["status"] == JobStatus.running, job(client, job_id)
    asked = time.monotonic()
    assert client.post(f"/api/ml/training-status/{job_id}/cancel", headers=ADMIN).status_code == 200
    ended = finished(client, job_id, 90)
    assert ended["status"] == JobStatus.cancelled and ended["model_version"] is None, ended
    assert time.monotonic() - asked < 60  # far sooner than 1000 epochs
    assert client.get("/api/ml/models").json() == []
    assert "cancelling Spark job group" in stack.output(stack.worker)
    wait_until(lambda: not list(snapshots.glob("job-*")), 30, "the snapshots to be deleted")


def test_a_spark_job_trains_activates_and_serves_a_version(stack, client, snapshots):
    job_id = start(client, {"n_factors": 8, "epochs": 5})
    done = finished(client, job_id, 300)
    assert done["status"] == JobStatus.succeeded and done["engine"] == "spark", done
    version = done["model_version"]
    (model,) = [m for m in client.get("/api/ml/models").json() if m["version"] == version]
    assert model["engine"] == "spark" and model["is_active"] and model["gate_activated"], model
    assert 0.7 < model["holdout_rmse"] < 1.15, model  # ml-100k's MF is 0.91-0.95 on far more ratings

    wait_until(lambda: client.get("/ready").json()["model_version"] == version, 60, "the API to load it")
    recs = client.get("/api/ml/recommendations/1").json()
    assert recs["model_version"] == version and recs["strategy"] == "personalized", recs
    assert len(recs["items"]) == 10
    loved, other = (client.post("/api/ml/predict", json={"user_id": 1, "movie_id": m}).json() for m in (50, 1))
    assert loved["model_version"] == version and 1.0 <= loved["predicted_rating"] <= 5.0, loved
    assert 1.0 <= other["predicted_rating"] <= 5.0, other

    with psycopg.connect(stack.env["DATABASE_URL"]) as conn:
        (data,) = conn.execute("SELECT data FROM model_artifacts WHERE version = %s", (version,)).fetchone()
    loaded = load_model(bytes(data))
    assert loaded.model_type == "matrix_factorization" and loaded.fit_info["engine"] == "spark", loaded.fit_info
    assert loaded.fit_info["spark_master"].startswith("local")
    assert loaded.predict([1], [50])[0] == pytest.approx(loved["predicted_rating"], abs=1e-3)
    assert not list(snapshots.glob("job-*"))
