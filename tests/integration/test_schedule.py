"""Celery beat against a real worker: the scheduled retrain (``RETRAIN_SCHEDULE`` as an
interval of seconds) produces a new version, adds nothing while a retrain is pending, and
the beat-driven upkeep on a worker fails a killed worker's job and re-sends a lost one.

The API processes here are given an upkeep that never fires within a test (hour-long
JOB_STALE_SECONDS and JOB_QUEUE_TIMEOUT_SECONDS), so what happens is the worker's doing."""

from __future__ import annotations

import os
import re
import signal
import uuid
from datetime import datetime

import httpx
import psycopg
import pytest

from service.testing.stack import launch_stack, wait_until
from tests.conftest import data_dir
from tests.scenario import ADMIN

pytestmark = pytest.mark.integration

ML100K = data_dir() / "ml-100k"
REDIS_DB = 11
API_NEVER_REAPS = {"JOB_STALE_SECONDS": "3600", "JOB_QUEUE_TIMEOUT_SECONDS": "3600"}
# Slow enough to be seen running on any machine, fast enough for a test (about 3 s of fit).
RETRAINED = {"n_factors": 32, "epochs": 60, "seed": 3}
FAST = {"n_factors": 8, "epochs": 4}


def task_succeeded(name: str, returned: str = r".*") -> re.Pattern[str]:
    """Celery's worker log line for one run of a task (its INFO "succeeded in" line)."""
    return re.compile(rf"Task {re.escape(name)}\[[0-9a-f-]+\] succeeded in [0-9.e-]+s: {returned}$", re.MULTILINE)


def jobs(client: httpx.Client) -> list[dict]:
    return client.get("/api/ml/training-status", params={"limit": 100}).json()


def job(client: httpx.Client, job_id: str) -> dict:
    return client.get(f"/api/ml/training-status/{job_id}").json()


def trained(client: httpx.Client, hyperparams: dict) -> dict:
    posted = client.post("/api/ml/train", json={"model_type": "matrix_factorization", "hyperparams": hyperparams},
                         headers=ADMIN)
    assert posted.status_code == 202, posted.text
    job_id = posted.json()["job_id"]
    wait_until(lambda: job(client, job_id)["status"] in ("succeeded", "failed"), 180, f"job {job_id}")
    done = job(client, job_id)
    assert done["status"] == "succeeded", done
    return done


def retrains(client: httpx.Client) -> list[dict]:
    return sorted((j for j in jobs(client) if j["kind"] == "retrain"), key=lambda j: datetime.fromisoformat(j["created_at"]))


def test_beat_retrains_on_an_interval_and_adds_no_retrain_while_one_is_pending(tmp_path):
    with launch_stack(tmp_path, REDIS_DB, ML100K, extra_env=API_NEVER_REAPS) as stack, \
            httpx.Client(base_url=stack.api_urls[0], timeout=30) as client:
        first = trained(client, RETRAINED)["model_version"]
        assert retrains(client) == []
        slow_worker = stack.worker
        beat = stack.start_beat(env={"RETRAIN_SCHEDULE": "2", "REAPER_INTERVAL_SECONDS": "3600"})

        # The schedule's first tick: one retrain job of the active version's type and
        # hyperparameters, picked up by the only worker.
        wait_until(lambda: any(j["status"] == "running" for j in retrains(client)), 120, "a scheduled retrain running")
        (pending,) = retrains(client)
        assert pending["model_type"] == "matrix_factorization"
        assert {k: pending["hyperparams"][k] for k in RETRAINED} == RETRAINED

        # Hold that retrain running (its worker stopped, not killed) while a second worker
        # takes the next ticks: each finds the retrain pending and adds nothing.
        os.killpg(slow_worker.pid, signal.SIGSTOP)
        try:
            second_worker = stack.start_worker()
            ran = task_succeeded("recsys.retrain_all", r"(?P<added>.*)")
            wait_until(lambda: ran.search(stack.output(second_worker)), 120, "a scheduled retrain on the second worker")
            assert ran.search(stack.output(second_worker))["added"] == "[]"
            assert [j["id"] for j in retrains(client)] == [pending["id"]]
        finally:
            os.killpg(slow_worker.pid, signal.SIGCONT)

        wait_until(lambda: job(client, pending["id"])["status"] in ("succeeded", "failed"), 180, "the retrain's end")
        finished = job(client, pending["id"])
        assert finished["status"] == "succeeded" and finished["attempts"] == 1, finished
        models = {m["version"]: m for m in client.get("/api/ml/models").json()}
        version = finished["model_version"]
        assert version > first and models[version]["status"] == "ready"
        assert models[version]["job_id"] == pending["id"] and models[version]["model_type"] == "matrix_factorization"

        # Once it is done, the schedule retrains again, and never two at once.
        wait_until(lambda: len(retrains(client)) >= 2, 120, "the next scheduled retrain")
        stack.stop(beat)
        later = retrains(client)
        assert later[0]["id"] == pending["id"]
        assert datetime.fromisoformat(later[1]["created_at"]) >= datetime.fromisoformat(finished["finished_at"])
        with psycopg.connect(stack.env["DATABASE_URL"]) as conn:
            pending_at_once = conn.execute(
                "SELECT count(*) FROM training_jobs a JOIN training_jobs b ON a.id < b.id"
                " WHERE a.kind = 'retrain' AND b.kind = 'retrain'"
                " AND a.created_at < coalesce(b.finished_at, now()) AND b.created_at < coalesce(a.finished_at, now())"
            ).fetchone()[0]
        assert pending_at_once == 0


def test_the_beat_driven_upkeep_on_a_worker_fails_a_killed_workers_job_and_resends_a_lost_one(tmp_path):
    with launch_stack(tmp_path, REDIS_DB, ML100K, extra_env=API_NEVER_REAPS) as stack, \
            httpx.Client(base_url=stack.api_urls[0], timeout=30) as client:
        seed = trained(client, FAST)
        doomed_worker = stack.worker
        posted = client.post("/api/ml/train", headers=ADMIN, json={
            "model_type": "matrix_factorization", "hyperparams": {"n_factors": 96, "epochs": 400}})
        doomed = posted.json()["job_id"]
        wait_until(lambda: job(client, doomed)["current_epoch"] >= 1, 120, "the doomed job training")

        # A second worker with a short upkeep, driven by beat every second. Once it has run
        # a scheduled upkeep, its start-up upkeep is behind it: what follows is beat's.
        upkeep_worker = stack.start_worker(env={"JOB_STALE_SECONDS": "4", "JOB_QUEUE_TIMEOUT_SECONDS": "3"})
        stack.start_beat(env={"RETRAIN_SCHEDULE": "86400", "REAPER_INTERVAL_SECONDS": "1"})
        wait_until(lambda: task_succeeded("recsys.reap_stale_jobs", "0").search(stack.output(upkeep_worker)),
                   120, "a scheduled upkeep on the second worker")
        assert job(client, doomed)["status"] == "running"

        os.killpg(doomed_worker.pid, signal.SIGKILL)
        doomed_worker.wait(10)
        wait_until(lambda: job(client, doomed)["status"] != "running", 60, "the killed worker's job reaped")
        reaped = job(client, doomed)
        # "4 s" is the second worker's threshold: the API's (3600 s) did not do this.
        assert reaped["status"] == "failed" and reaped["error"] == "worker lost: no progress reported for more than 4 s"
        assert 1 <= reaped["current_epoch"] < 400 and reaped["model_version"] is None
        assert task_succeeded("recsys.reap_stale_jobs", "1").search(stack.output(upkeep_worker))

        # A queued job whose message never reached Redis (as after Redis restarted empty):
        # the scheduled upkeep re-sends it and the worker trains it to a new version.
        lost = str(uuid.uuid4())
        with psycopg.connect(stack.env["DATABASE_URL"], autocommit=True) as conn:
            conn.execute(
                "INSERT INTO training_jobs (id, kind, model_type, hyperparams, status, progress, current_epoch,"
                " total_epochs, history, cancel_requested, attempts, created_at)"
                " SELECT %s, kind, model_type, hyperparams, 'queued', 0, 0, total_epochs, '[]', false, 0, now()"
                " FROM training_jobs WHERE id = %s", (lost, seed["id"]))
        wait_until(lambda: job(client, lost)["status"] in ("succeeded", "failed"), 120, "the lost job trained")
        resent = job(client, lost)
        assert resent["status"] == "succeeded" and resent["attempts"] == 1, resent
        assert resent["model_version"] > seed["model_version"]
        assert resent["hyperparams"] == seed["hyperparams"]
        assert f"re-sent training job {lost}" in stack.output(upkeep_worker)
        versions = {m["version"]: m for m in client.get("/api/ml/models").json()}
        assert versions[resent["model_version"]]["job_id"] == lost
