"""Jobs the queue failed, on the embedded stack: a queued job nobody claimed is re-sent,
then failed with a reason; a job left queued by a dead process runs after a restart; and
what a failed job tells clients never carries a host, a port or a repr."""

from __future__ import annotations

from datetime import timedelta

import httpx
import pytest
from sqlalchemy import update

from recsys_core.data import load_movielens
from service.core.config import get_settings
from service.db.models import TrainingJob, utcnow
from service.db.session import async_session_factory, build_async_engine, sync_session
from service.importer import import_dataset
from service.training.dispatch import QueueUnavailable
from service.training.reaper import QUEUE_UNAVAILABLE_RESENDING, resend_unclaimed_jobs
from tests.scenario import ADMIN, FAST, wait_for_job


def queued_job(age_seconds: float, **values: object) -> str:
    with sync_session() as session:
        job = TrainingJob.new(kind="train", model_type="matrix_factorization", hyperparams=dict(FAST))
        job.created_at = utcnow() - timedelta(seconds=age_seconds)
        for name, value in values.items():
            setattr(job, name, value)
        session.add(job)
        return job.id


def job_row(job_id: str) -> TrainingJob:
    with sync_session() as session:
        job = session.get(TrainingJob, job_id)
        assert job is not None
        return job


class LosingQueue:
    """A broker that accepts every message and delivers none (Redis restarted empty)."""

    def __init__(self, *, down: bool = False) -> None:
        self.sent: list[str] = []
        self.down = down

    def __call__(self, job_id: str) -> None:
        if self.down:
            raise QueueUnavailable("the job queue is unavailable")
        self.sent.append(job_id)


@pytest.fixture
def queue_settings(settings_env, monkeypatch):
    monkeypatch.setenv("JOB_QUEUE_TIMEOUT_SECONDS", "10")
    monkeypatch.setenv("JOB_QUEUE_RESENDS", "1")
    get_settings.cache_clear()
    return get_settings()


@pytest.fixture
async def sessions(queue_settings):
    """Sessions without the app, whose own housekeeping would race these tests."""
    engine = build_async_engine(queue_settings)
    yield async_session_factory(engine)
    await engine.dispose()


async def test_an_unclaimed_job_is_resent_once_per_timeout_then_failed_with_the_reason(sessions, queue_settings):
    lost = LosingQueue()
    fresh = queued_job(age_seconds=2)
    job_id = queued_job(age_seconds=15)  # past one timeout (10 s), within the window (20 s)

    assert await resend_unclaimed_jobs(sessions, lost, queue_settings) == 1
    assert lost.sent == [job_id]
    assert await resend_unclaimed_jobs(sessions, lost, queue_settings) == 0  # sent just now
    assert lost.sent == [job_id] and job_row(job_id).status == "queued"

    with sync_session() as session:  # the window has passed, and no worker took the re-send
        session.execute(update(TrainingJob).where(TrainingJob.id == job_id).values(
            created_at=utcnow() - timedelta(seconds=25), heartbeat_at=utcnow() - timedelta(seconds=11)))
    assert await resend_unclaimed_jobs(sessions, lost, queue_settings) == 0
    failed = job_row(job_id)
    assert failed.status == "failed" and failed.finished_at is not None
    assert failed.error.startswith("no worker picked the job up within 20 s, though it was re-sent")
    assert job_row(fresh).status == "queued" and lost.sent == [job_id]


async def test_an_old_queued_job_waits_while_a_worker_is_busy(sessions, queue_settings):
    waiting = queued_job(age_seconds=60, heartbeat_at=utcnow() - timedelta(seconds=30))  # re-sent, unclaimed
    busy = queued_job(age_seconds=70, status="running", started_at=utcnow(), heartbeat_at=utcnow())
    await resend_unclaimed_jobs(sessions, LosingQueue(), queue_settings)
    assert job_row(waiting).status == "queued"

    with sync_session() as session:  # that worker died long ago
        session.execute(update(TrainingJob).where(TrainingJob.id == busy)
                        .values(heartbeat_at=utcnow() - timedelta(hours=1)))
    await resend_unclaimed_jobs(sessions, LosingQueue(), queue_settings)
    assert job_row(waiting).status == "failed"


async def test_a_resend_the_queue_refuses_says_so_and_is_tried_again(sessions, queue_settings):
    job_id = queued_job(age_seconds=15)
    down = LosingQueue(down=True)
    assert await resend_unclaimed_jobs(sessions, down, queue_settings) == 0
    job = job_row(job_id)
    assert job.status == "queued" and job.error == QUEUE_UNAVAILABLE_RESENDING

    down.down = False  # the queue is back: the job goes out at the next tick, not a timeout later
    assert await resend_unclaimed_jobs(sessions, down, queue_settings) == 1
    assert down.sent == [job_id]


@pytest.fixture
def ml100k_imported(settings_env, ml100k_dir):
    return import_dataset(load_movielens(ml100k_dir))


async def test_a_job_left_queued_by_a_dead_process_runs_after_a_restart(settings_env, ml100k_imported, monkeypatch):
    monkeypatch.setenv("JOB_QUEUE_TIMEOUT_SECONDS", "1")
    get_settings.cache_clear()
    job_id = queued_job(age_seconds=3600)  # its in-process queue died with the old process

    from service.api.main import create_app

    application = create_app(get_settings())
    async with application.router.lifespan_context(application):
        transport = httpx.ASGITransport(app=application)
        async with httpx.AsyncClient(transport=transport, base_url="http://test") as client:
            job = await wait_for_job(client, job_id, timeout=120)
    assert job["status"] == "succeeded" and job["model_version"] is not None and job["attempts"] == 1


async def test_a_failed_job_says_why_without_internals(client, monkeypatch):
    refused = await client.post("/api/ml/train", json={"model_type": "matrix_factorization", "hyperparams": FAST}, headers=ADMIN)
    job = await wait_for_job(client, refused.json()["job_id"])
    assert job["status"] == "failed"
    assert job["error"] == "training failed: need at least 10 ratings to train, found 0"

    from service.training import pipeline

    def broken(job_id: str):
        raise ConnectionError("Error 111 connecting to 127.0.0.1:6379. Connection refused.")

    monkeypatch.setattr(pipeline, "_train", broken)
    crashed = await client.post("/api/ml/train", json={"model_type": "matrix_factorization", "hyperparams": FAST}, headers=ADMIN)
    job_id = crashed.json()["job_id"]
    job = await wait_for_job(client, job_id)
    assert job["status"] == "failed"
    assert job["error"] == f"training failed unexpectedly; see the worker log (job {job_id})"
    listing = (await client.get("/api/ml/training-status")).text
    assert "127.0.0.1" not in listing and "6379" not in listing and "Error" not in listing


async def test_the_api_refuses_a_job_it_cannot_queue_with_a_clean_503(app, client, monkeypatch):
    def down(job_id: str) -> None:
        raise QueueUnavailable("the job queue is unavailable")

    monkeypatch.setattr(app.state.dispatcher, "dispatch", down)
    refused = await client.post("/api/ml/retrain", headers=ADMIN)
    assert refused.status_code == 503 and refused.json()["error"]["code"] == "unavailable"
    assert refused.json()["error"]["message"].startswith("the job queue is unavailable; job ")
    job = (await client.get("/api/ml/training-status", params={"limit": 1})).json()[0]
    assert job["status"] == "failed" and job["error"] == "could not queue the job: the job queue is unavailable"
