"""Regression tests for the integrity defects a hostile probe found, on the real stack:
PostgreSQL, Redis, a Celery worker and uvicorn with two worker processes.

- racing activation and deletion of one version never leaves the service without an
  active model, and never answers 500;
- retention racing an activation never deletes the version being activated;
- deleting a version keeps the real-time learning folded into it;
- out-of-range timestamps and loosely typed ids and ratings are refused;
- batches of 10,000 distinct users hold a bounded number of locks;
- a worker killed during the refit phase leaves nothing half-written.
"""

from __future__ import annotations

import asyncio
import json
import os
import random
import signal
from collections.abc import Iterator

import httpx
import numpy as np
import psycopg
import pytest
from celery import Celery

from recsys_core.model import MatrixFactorization
from service.testing.stack import Stack, launch_stack
from tests.conftest import data_dir
from tests.scenario import ADMIN, CLIENT, FAST, train, wait_for_active, wait_for_job

pytestmark = pytest.mark.integration

REDIS_DB = 9  # 5: imports, 10: edge limits, 11-13: integration and benches, 14: load, 15: browser
RETENTION = 4


@pytest.fixture(scope="module")
def stack(tmp_path_factory) -> Iterator[Stack]:
    env = {"MODEL_RETENTION": str(RETENTION), "JOB_STALE_SECONDS": "10"}
    with launch_stack(tmp_path_factory.mktemp("integrity"), REDIS_DB, data_dir() / "ml-100k", extra_env=env) as live:
        live.start_api(workers=2)  # api_urls[1]: two uvicorn processes behind one port
        yield live


def db(stack: Stack) -> psycopg.Connection:
    return psycopg.connect(stack.env["DATABASE_URL"], autocommit=True)


def clone_version(stack: Stack, source: int) -> int:
    """A new inactive, ready version with the same artifact: cheaper than training one."""
    with db(stack) as conn:
        version = conn.execute(
            """INSERT INTO model_versions (model_type, hyperparams, status, is_active, created_at, trained_at,
                   n_train_ratings, n_users, n_items, data_fingerprint, artifact_checksum, artifact_size,
                   holdout_rmse, job_id)
               SELECT model_type, hyperparams, 'ready', false, now(), trained_at, n_train_ratings, n_users,
                   n_items, data_fingerprint, artifact_checksum, artifact_size, holdout_rmse, job_id
               FROM model_versions WHERE version = %s RETURNING version""",
            (source,),
        ).fetchone()[0]
        conn.execute(
            "INSERT INTO model_artifacts (version, data, checksum, created_at) "
            "SELECT %s, data, checksum, now() FROM model_artifacts WHERE version = %s",
            (version, source),
        )
    return version


def assert_one_servable_active(stack: Stack) -> int:
    with db(stack) as conn:
        active = conn.execute(
            "SELECT v.version, v.status, a.version IS NOT NULL FROM model_versions v "
            "LEFT JOIN model_artifacts a ON a.version = v.version WHERE v.is_active"
        ).fetchall()
    assert len(active) == 1, f"expected exactly one active version, found {active}"
    version, status, has_artifact = active[0]
    assert status == "ready" and has_artifact, active
    return version


async def active_version(client: httpx.AsyncClient) -> int:
    """The active version, once every process behind ``client`` serves it: 30 answers in a
    row from a port that two processes share leave one of them unasked with odds 2**-30."""
    if (await client.get("/ready")).json()["active_version"] is None:
        await train(client)
    in_a_row = 0
    for _ in range(600):
        ready = (await client.get("/ready")).json()
        in_a_row = in_a_row + 1 if ready["model_version"] == ready["active_version"] is not None else 0
        if in_a_row == 30:
            return ready["active_version"]
        await asyncio.sleep(0.02)
    raise AssertionError(f"the processes never all served the active version: {ready}")


async def test_racing_activation_and_deletion_always_leave_an_active_version(stack):
    async with httpx.AsyncClient(base_url=stack.api_urls[1], timeout=30) as client:
        base = await active_version(client)
        rng = random.Random(7)
        pairs = []
        for _ in range(40):
            target = clone_version(stack, base)

            async def delete_after(delay: float, version: int = target) -> httpx.Response:
                await asyncio.sleep(delay)
                return await client.delete(f"/api/ml/models/{version}", headers=ADMIN)

            activated, deleted = await asyncio.gather(
                client.post(f"/api/ml/models/activate/{target}", headers=ADMIN),
                delete_after(rng.uniform(0, 0.03)),
            )
            pair = (activated.status_code, deleted.status_code)
            pairs.append(pair)
            # They take one lock: the first wins, and the second is refused because of it
            # (the version is active, or deleted). Never both, and never neither.
            assert pair in {(200, 409), (409, 204)}, (pair, activated.text, deleted.text)
            now_active = assert_one_servable_active(stack)
            assert now_active == (target if activated.status_code == 200 else base), (pair, now_active)
            base = now_active
        # The deletion leaves up to 30 ms after the activation: the activation wins most
        # rounds, so a service that refuses every activation is caught too.
        assert pairs.count((200, 409)) >= 1, pairs
        for _ in range(100):
            ready = (await client.get("/ready")).json()
            if ready["model_version"] == base:
                break
            await asyncio.sleep(0.1)
        assert ready["ready"] and ready["active_version"] == base
        recs = (await client.get("/api/ml/recommendations/1")).json()
        assert recs["strategy"] == "personalized" and recs["model_version"] == base


async def test_retention_racing_an_activation_never_deletes_the_active_version(stack):
    async with httpx.AsyncClient(base_url=stack.api_urls[1], timeout=30) as client:
        base = await active_version(client)
        celery = Celery(broker=stack.env["REDIS_URL"])
        rng = random.Random(11)
        outcomes = []
        for _ in range(12):
            clones = [clone_version(stack, base) for _ in range(RETENTION + 2)]
            doomed = clones[0]  # beyond the newest RETENTION kept versions

            async def activate_after(delay: float, version: int = doomed) -> httpx.Response:
                await asyncio.sleep(delay)
                return await client.post(f"/api/ml/models/activate/{version}", headers=ADMIN)

            async def retention_after(delay: float) -> None:
                await asyncio.sleep(delay)
                celery.send_task("recsys.apply_retention", queue="training", ignore_result=True)

            # The activation's delay after the retention task (below 0: it leaves first). Sent
            # together, retention reaches the lock first; a few ms ahead, the activation does.
            delay = rng.uniform(-0.03, 0.02)
            activated, _ = await asyncio.gather(activate_after(max(delay, 0)), retention_after(max(-delay, 0)))
            outcomes.append(activated.status_code)
            # Refused only because retention deleted the version first (checked below).
            assert activated.status_code in (200, 409), activated.text
            for _ in range(600):  # until the worker has applied retention
                with db(stack) as conn:
                    kept = conn.execute("SELECT count(*) FROM model_versions WHERE status <> 'deleted'").fetchone()[0]
                if kept <= RETENTION:  # the active one, whatever its age, counts among them
                    break
                await asyncio.sleep(0.1)
            else:
                raise AssertionError(f"retention never ran: {kept} versions kept")
            now_active = assert_one_servable_active(stack)
            with db(stack) as conn:
                doomed_status = conn.execute("SELECT status FROM model_versions WHERE version = %s",
                                             (doomed,)).fetchone()[0]
            if activated.status_code == 200:  # activated first: retention kept it, as the active one
                assert now_active == doomed and doomed_status == "ready"
            else:  # retention deleted it first: the activation was refused for that, and nothing changed
                assert doomed_status == "deleted", activated.text
                assert "deleted" in activated.json()["error"]["message"], activated.text
                assert now_active == base
            base = now_active
            with db(stack) as conn:
                orphans = conn.execute(
                    "SELECT count(*) FROM model_versions v JOIN model_artifacts a USING (version) "
                    "WHERE v.status = 'deleted'"
                ).fetchone()[0]
            assert orphans == 0
        # The case the test is named for happened: an activation won, and retention kept it.
        assert 200 in outcomes, outcomes


async def test_deleting_a_version_keeps_what_users_taught_it(stack):
    url = stack.start_api()  # one process, so the switch below reaches every request at once
    async with httpx.AsyncClient(base_url=url, timeout=30) as client:
        previous = await active_version(client)
        candidate = clone_version(stack, previous)
        assert (await client.post(f"/api/ml/models/activate/{candidate}", headers=ADMIN)).status_code == 200
        await wait_for_active(client, candidate)

        user, rated = 900_001, {50: 5.0, 172: 5.0, 181: 4.5, 1: 2.0, 98: 4.0}
        for movie, stars in rated.items():
            posted = await client.post("/api/ratings", json={"user_id": user, "movie_id": movie, "rating": stars},
                                       headers=CLIENT)
            assert posted.status_code == 201 and posted.json()["fold_in"]["model_version"] == candidate

        assert (await client.post(f"/api/ml/models/activate/{previous}", headers=ADMIN)).status_code == 200
        await wait_for_active(client, previous)
        assert (await client.delete(f"/api/ml/models/{candidate}", headers=ADMIN)).status_code == 204

        recs = (await client.get(f"/api/ml/recommendations/{user}")).json()
        assert recs["strategy"] == "personalized" and not {i["movie_id"] for i in recs["items"]} & set(rated)
        predicted = (await client.post("/api/ml/predict", json={"user_id": user, "movie_id": 127})).json()
        assert predicted["known_user"]
        with db(stack) as conn:
            artifact = conn.execute("SELECT data FROM model_artifacts WHERE version = %s", (previous,)).fetchone()[0]
        model = MatrixFactorization.from_bytes(bytes(artifact))
        expected = model.predict_profiles([model.profile(list(rated), list(rated.values()))], [0], [127])[0]
        assert predicted["predicted_rating"] == pytest.approx(float(expected), abs=1e-6)


async def test_out_of_range_timestamps_are_refused_and_stats_keep_answering(stack):
    async with httpx.AsyncClient(base_url=stack.api_urls[0], timeout=30) as client:
        with db(stack) as conn:
            before = conn.execute("SELECT count(*) FROM ratings").fetchone()[0]
        for timestamp in (2**53, 32_503_680_000, -1):  # past year 9999, the year 3000, before 1970
            response = await client.post(
                "/api/ratings", json={"user_id": 7, "movie_id": 50, "rating": 4, "timestamp": timestamp}, headers=CLIENT
            )
            assert response.status_code == 422, response.text
            assert response.json()["error"]["field"] == "timestamp"
        batch = [{"user_id": 8, "movie_id": m, "rating": 3} for m in (1, 2, 3)]
        batch.append({"user_id": 8, "movie_id": 4, "rating": 3, "timestamp": 32_503_680_000})
        refused = await client.post("/api/ratings/batch", json={"ratings": batch}, headers=CLIENT)
        assert refused.status_code == 422 and refused.json()["error"]["field"] == "ratings[3].timestamp"
        with db(stack) as conn:
            assert conn.execute("SELECT count(*) FROM ratings").fetchone()[0] == before
        stats = await client.get("/api/stats")
        assert stats.status_code == 200, stats.text
        accepted = await client.post(
            "/api/ratings", json={"user_id": 7, "movie_id": 50, "rating": 4, "timestamp": 1_700_000_000}, headers=CLIENT
        )
        assert accepted.status_code == 201


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"user_id": True, "movie_id": 50, "rating": 4}, "user_id"),
        ({"user_id": 7, "movie_id": "50", "rating": 4}, "movie_id"),
        ({"user_id": 7, "movie_id": 50, "rating": "4"}, "rating"),
        ({"user_id": 7, "movie_id": 50, "rating": True}, "rating"),
        ({"user_id": 7.0, "movie_id": 50, "rating": 4}, "user_id"),
    ],
)
async def test_ids_and_ratings_are_strictly_typed(stack, body, field):
    async with httpx.AsyncClient(base_url=stack.api_urls[0], timeout=30) as client:
        with db(stack) as conn:
            before = conn.execute("SELECT count(*), sum(rating) FROM ratings").fetchone()
        response = await client.post("/api/ratings", json=body, headers=CLIENT)
        assert response.status_code == 422 and response.json()["error"]["field"] == field, response.text
        with db(stack) as conn:
            assert conn.execute("SELECT count(*), sum(rating) FROM ratings").fetchone() == before


def test_the_cli_queues_training_through_the_same_dispatcher(stack):
    trained = stack.run("train", "--wait", "--model-type", "matrix_factorization", "--hyperparams",
                        json.dumps({**FAST, "seed": 5}), timeout=300)
    assert trained.returncode == 0, trained.stdout + trained.stderr
    version = int(trained.stdout.rsplit("model version", 1)[1].split()[0])
    with db(stack) as conn:
        job = conn.execute("SELECT status, attempts FROM training_jobs WHERE model_version = %s", (version,)).fetchone()
    assert job == ("succeeded", 1)


async def test_concurrent_batches_of_ten_thousand_users_hold_bounded_locks(stack):
    first_user, per_batch, batches = 2_000_000, 10_000, 4
    async with httpx.AsyncClient(base_url=stack.api_urls[1], timeout=120) as client:
        await active_version(client)
        with db(stack) as conn:
            before = conn.execute("SELECT count(*) FROM ratings").fetchone()[0]

        async def post_batch(index: int) -> httpx.Response:
            start = first_user + index * per_batch
            ratings = [{"user_id": start + i, "movie_id": 1 + i % 1682, "rating": 1 + i % 5} for i in range(per_batch)]
            return await client.post("/api/ratings/batch", json={"ratings": ratings}, headers=CLIENT)

        responses = await asyncio.gather(*(post_batch(i) for i in range(batches)))
        assert [r.status_code for r in responses] == [201] * batches, [r.text[:300] for r in responses]
        assert all(r.json()["count"] == per_batch for r in responses)
        with db(stack) as conn:
            assert conn.execute("SELECT count(*) FROM ratings").fetchone()[0] == before + batches * per_batch
            folded = conn.execute(
                "SELECT count(*), min(n_ratings), max(n_ratings) FROM user_states WHERE user_id >= %s",
                (first_user,),
            ).fetchone()
        assert folded == (batches * per_batch, 1, 1)


async def test_a_worker_killed_during_the_refit_leaves_nothing_half_written(stack):
    async with httpx.AsyncClient(base_url=stack.api_urls[0], timeout=30) as client:
        before = await active_version(client)
        with db(stack) as conn:
            versions_before = conn.execute("SELECT count(*) FROM model_versions").fetchone()[0]
        slow = {"n_factors": 16, "epochs": 60, "early_stopping_patience": None}
        job_id = (await client.post("/api/ml/train", json={"model_type": "matrix_factorization", "hyperparams": slow}, headers=ADMIN)).json()["job_id"]
        for _ in range(2400):
            job = (await client.get(f"/api/ml/training-status/{job_id}")).json()
            if job["progress"] > 0.72:  # the refit on all ratings runs from 0.7 to 1.0
                break
            assert job["status"] in ("queued", "running"), (job["status"], job["error"], job["progress"])
            await asyncio.sleep(0.05)
        else:
            raise AssertionError(f"training never reached the refit phase: {job}")
        os.killpg(stack.worker.pid, signal.SIGKILL)
        stack.worker.wait(10)

        job = await wait_for_job(client, job_id, timeout=90)
        assert job["status"] == "failed" and job["model_version"] is None, job
        with db(stack) as conn:
            assert conn.execute("SELECT count(*) FROM model_versions").fetchone()[0] == versions_before
            assert conn.execute(
                "SELECT count(*) FROM model_artifacts a LEFT JOIN model_versions v USING (version) "
                "WHERE v.version IS NULL OR v.status = 'deleted'"
            ).fetchone()[0] == 0
        assert assert_one_servable_active(stack) == before

        stack.start_worker()
        later = await train(client, {**FAST, "seed": 3})
        assert later["status"] == "succeeded" and later["model_version"] > before
        assert np.isfinite((await client.get("/api/ml/metrics")).json()["values"]["rmse"])
