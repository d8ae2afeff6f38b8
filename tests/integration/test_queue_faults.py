"""The job queue failing under a live stack: Redis loses a queued job's message and the
job is re-sent; training during the outage is refused with a 503; and nothing the API
returns names the broker's host or port."""

from __future__ import annotations

import asyncio
import time

import httpx
import pytest

from service.testing.stack import launch_stack, private_redis
from service.training.reaper import QUEUE_UNAVAILABLE_RESENDING
from tests.conftest import data_dir
from tests.scenario import ADMIN, FAST, wait_for_job

pytestmark = pytest.mark.integration

ML100K = data_dir() / "ml-100k"
QUEUE_ENV = {
    "JOB_QUEUE_TIMEOUT_SECONDS": "2",
    # Generous, so the job is re-sent rather than given up on while the test holds Redis
    # down; the give-up rule has its own tests in tests/service/test_job_queue.py.
    "JOB_QUEUE_RESENDS": "100",
}


async def wait_for_note(client: httpx.AsyncClient, job_id: str, note: str, timeout: float = 60) -> dict:
    for _ in range(int(timeout / 0.2)):
        job = (await client.get(f"/api/ml/training-status/{job_id}")).json()
        if job["error"] == note:
            return job
        await asyncio.sleep(0.2)
    raise AssertionError(f"job {job_id} never said {note!r}: {job}")


def assert_no_broker_address(text: str, redis_url: str) -> None:
    address = redis_url.split("://", 1)[1]  # host:port
    for leak in (address, ":" + address.rsplit(":", 1)[1], "127.0.0.1", "Error 111", "OperationalError", "Traceback"):
        assert leak not in text, f"{leak!r} leaked into {text}"


async def test_a_job_whose_message_redis_lost_is_resent_and_runs(tmp_path):
    with private_redis(tmp_path) as (redis_base, stop_redis, start_redis), \
            launch_stack(tmp_path, 0, ML100K, redis_base=redis_base, extra_env=QUEUE_ENV) as stack:
        async with httpx.AsyncClient(base_url=stack.api_urls[0], timeout=60) as client:
            stack.stop(stack.worker)  # so the message sits in Redis, unclaimed
            accepted = await client.post("/api/ml/train", json={"model_type": "matrix_factorization", "hyperparams": FAST}, headers=ADMIN)
            assert accepted.status_code == 202, accepted.text
            job_id = accepted.json()["job_id"]
            stop_redis()  # and is lost with it: this Redis keeps nothing on disk

            started = time.monotonic()
            refused = await client.post("/api/ml/retrain", headers=ADMIN)
            print(f"POST /api/ml/retrain answered {refused.status_code} in {time.monotonic() - started:.2f} s "
                  "with Redis down")
            assert refused.status_code == 503 and refused.json()["error"]["code"] == "unavailable"
            assert refused.json()["error"]["message"].startswith("the job queue is unavailable")
            ready = await client.get("/ready")
            assert ready.status_code == 503 and ready.json()["broker"] is False

            waiting = await wait_for_note(client, job_id, QUEUE_UNAVAILABLE_RESENDING)
            assert waiting["status"] == "queued"
            jobs = await client.get("/api/ml/training-status")
            retrain = next(j for j in jobs.json() if j["kind"] == "retrain")
            assert retrain["status"] == "failed"
            assert retrain["error"] == "could not queue the job: the job queue is unavailable"
            for text in (refused.text, ready.text, jobs.text):
                assert_no_broker_address(text, redis_base)

            start_redis()  # empty: the message is gone for good
            stack.start_worker()
            job = await wait_for_job(client, job_id, timeout=180)
            assert job["status"] == "succeeded", job
            assert job["error"] is None and job["model_version"] is not None
