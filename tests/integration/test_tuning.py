"""Hyperparameter search on the real stack: PostgreSQL (Optuna in its own schema), Redis,
TWO Celery worker processes and uvicorn. Trials spread over both workers, the best is
retrained into a gated version, a cancel stops the study, and a worker killed mid-trial
loses only that trial."""

from __future__ import annotations

import signal
import time
from collections.abc import Iterator

import httpx
import psutil
import psycopg
import pytest
import redis

from service.db.migrate import head_revision
from service.testing.stack import ADMIN_KEY, Stack, launch_stack, train
from service.training.broker import TRAINING_QUEUE
from tests.conftest import data_dir

pytestmark = pytest.mark.integration

ADMIN = {"X-API-Key": ADMIN_KEY}
# A dead worker's trial is failed GRACE seconds after its last heartbeat.
GRACE = 6
SPACE = {
    "n_factors": {"type": "int", "low": 2, "high": 16, "log": True},
    "regularization": {"type": "float", "low": 0.5, "high": 20.0, "log": True},
}


@pytest.fixture(scope="module")
def stack(tmp_path_factory) -> Iterator[Stack]:
    env = {"TUNE_HEARTBEAT_SECONDS": "1", "TUNE_GRACE_SECONDS": str(GRACE)}
    with launch_stack(tmp_path_factory.mktemp("tune-stack"), 12, data_dir() / "ml-100k", extra_env=env) as live:
        first = live.worker
        second = live.start_worker()
        live.tune_workers = [first, second]  # type: ignore[attr-defined]
        yield live


@pytest.fixture
def client(stack) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=stack.api_urls[0], timeout=30) as http:
        yield http


def _workers(stack) -> list:
    return [w for w in stack.tune_workers if w.poll() is None]


def _pids_of(worker) -> set[int]:
    """The worker's own pid and its pool's: a trial records the pid of the process it ran in."""
    process = psutil.Process(worker.pid)
    return {worker.pid, *(child.pid for child in process.children(recursive=True))}


def _start(client: httpx.Client, **body) -> str:
    response = client.post("/api/ml/tune", json={"model_type": "matrix_factorization", "space": SPACE, **body},
                           headers=ADMIN)
    assert response.status_code == 202, response.text
    return response.json()["study_id"]


def _study(client: httpx.Client, study_id: str) -> dict:
    return client.get(f"/api/ml/tune/{study_id}").json()


def _wait(client: httpx.Client, study_id: str, until, timeout: float, what: str) -> dict:
    deadline = time.monotonic() + timeout
    while not until(study := _study(client, study_id)):
        assert time.monotonic() < deadline, f"timed out waiting for {what}: {study}"
        time.sleep(0.3)
    return study


def _finished(study: dict) -> bool:
    return study["status"] in ("succeeded", "failed", "cancelled")


def test_a_study_spreads_over_two_workers_and_its_best_becomes_a_gated_version(stack, client):
    study_id = _start(client, base_hyperparams={"epochs": 6}, n_trials=6, objective="rmse")
    study = _wait(client, study_id, _finished, 600, "the study")
    assert study["status"] == "succeeded", study
    trials = study["trials"]
    assert len(trials) == 6 and all(t["state"] in ("complete", "pruned") for t in trials), trials
    assert all(t["value"] is not None for t in trials if t["state"] == "complete")

    pids = [_pids_of(w) for w in stack.tune_workers]
    ran_on = [{int(t["worker"].rsplit(":", 1)[1]) for t in trials} & worker_pids for worker_pids in pids]
    assert all(ran_on), f"trials ran on {[t['worker'] for t in trials]}; the workers' pids are {pids}"

    job = client.get(f"/api/ml/training-status/{study['job_id']}").json()
    assert job["kind"] == "tune" and job["status"] == "succeeded"
    assert {k: job["hyperparams"][k] for k in study["best_params"]} == study["best_params"]
    version = next(v for v in client.get("/api/ml/models").json() if v["version"] == study["model_version"])
    assert version["job_id"] == study["job_id"] and version["gate_reason"] == study["version"]["gate_reason"]
    assert version["gate_activated"] is not None and version["holdout_rmse"] == study["version"]["holdout_rmse"]

    # Optuna's tables are in their own schema: ours keep our names and our Alembic revision.
    with psycopg.connect(stack.env["DATABASE_URL"]) as connection:
        tables = {(schema, name) for schema, name in connection.execute(
            "SELECT table_schema, table_name FROM information_schema.tables WHERE table_schema IN ('public', 'optuna')")}
        revision = connection.execute("SELECT version_num FROM public.alembic_version").fetchone()
    assert ("optuna", "trials") in tables and ("optuna", "alembic_version") in tables
    assert ("public", "tuning_studies") in tables and ("public", "trials") not in tables
    assert revision == (head_revision(),)


def test_a_cancelled_study_starts_no_new_trial_and_stops_the_running_ones(stack, client):
    study_id = _start(client, base_hyperparams={"epochs": 200}, n_trials=40, objective="rmse")
    _wait(client, study_id, lambda s: s["trials_running"] >= 1, 120, "a trial to run")
    cancelled = client.post(f"/api/ml/tune/{study_id}/cancel", headers=ADMIN)
    assert cancelled.status_code == 200 and cancelled.json()["status"] == "cancelled"
    started = len(cancelled.json()["trials"])
    study = _wait(client, study_id, lambda s: s["trials_running"] == 0, 120, "the running trials to stop")
    # At most a trial already taken when the cancel landed; 200 epochs each would take minutes.
    assert len(study["trials"]) <= started + len(_workers(stack)), study["trials"]
    stopped = [t for t in study["trials"] if t["note"] == "the study was cancelled"]
    assert stopped and all(t["state"] == "failed" and len(t["intermediate"]) < 200 for t in stopped)
    assert study["status"] == "cancelled" and study["job_id"] is None
    # The other trial tasks drain from the queue and find the study cancelled: none runs.
    queue = redis.Redis.from_url(stack.env["REDIS_URL"])
    deadline = time.monotonic() + 120
    while queue.llen(TRAINING_QUEUE):
        assert time.monotonic() < deadline, "the trial tasks never drained"
        time.sleep(0.3)
    _wait(client, study_id, lambda s: s["trials_running"] == 0, 60, "the last task to end")
    assert len(_study(client, study_id)["trials"]) == len(study["trials"])


def test_a_worker_killed_mid_trial_loses_only_that_trial(stack, client):
    study_id = _start(client, base_hyperparams={"epochs": 25}, n_trials=5, objective="rmse")
    victim = stack.tune_workers[1]
    victim_pids = _pids_of(victim)

    def on_victim(study: dict) -> bool:
        return any(t["state"] == "running" and t["worker"] and int(t["worker"].rsplit(":", 1)[1]) in victim_pids
                   and len(t["intermediate"]) >= 1 for t in study["trials"])

    running = _wait(client, study_id, on_victim, 300, "a trial on the second worker")
    killed = next(t["number"] for t in running["trials"] if t["state"] == "running"
                  and int(t["worker"].rsplit(":", 1)[1]) in victim_pids)
    stack.stop(victim, signal.SIGKILL)

    study = _wait(client, study_id, _finished, 600, "the study to finish on the other worker")
    assert study["status"] == "succeeded", study
    states = {t["number"]: t["state"] for t in study["trials"]}
    assert states[killed] == "failed" and len(states) == 5, states
    assert all(state in ("complete", "pruned") for number, state in states.items() if number != killed), states
    assert study["model_version"] is not None


def test_tune_schedule_starts_one_study_of_the_active_type_at_a_time(stack, client):
    if not any(v["is_active"] for v in client.get("/api/ml/models").json()):  # run on its own
        train(client, {"n_factors": 8, "epochs": 4}, model_type="matrix_factorization")
    active = next(v for v in client.get("/api/ml/models").json() if v["is_active"])
    before = {s["id"] for s in client.get("/api/ml/tune").json()}
    beat = stack.start_beat(env={"TUNE_SCHEDULE": "2", "TUNE_SCHEDULE_TRIALS": "2", "RETRAIN_SCHEDULE": "86400",
                                 "REAPER_INTERVAL_SECONDS": "3600"})
    try:
        deadline = time.monotonic() + 120
        while not (new := [s for s in client.get("/api/ml/tune").json() if s["id"] not in before]):
            assert time.monotonic() < deadline, stack.output(beat)
            time.sleep(0.3)
        study = new[0]
        assert (study["origin"], study["model_type"], study["n_trials"]) == ("schedule", active["model_type"], 2)
        # Ticks every 2 s while it runs add nothing: one study at a time.
        study = _wait(client, study["id"], _finished, 600, "the scheduled study")
        assert study["status"] == "succeeded", study
        assert len([s for s in client.get("/api/ml/tune").json() if s["id"] not in before and s["created_at"]
                    < study["finished_at"]]) == 1
    finally:
        stack.stop(beat)
