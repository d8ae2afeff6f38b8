"""Faults against real processes: a killed worker, Redis stopping, PostgreSQL restarting,
racing activations, concurrent writers, and a tampered model artifact."""

from __future__ import annotations

import asyncio
import os
import random
import signal

import httpx
import psycopg
import pytest

from recsys_core.model import MatrixFactorization
from service.testing.stack import launch_stack, private_postgres, private_redis, wait_until
from tests.conftest import data_dir
from tests.scenario import ADMIN, CLIENT, FAST, train, wait_for_active, wait_for_job

pytestmark = pytest.mark.integration

ML100K = data_dir() / "ml-100k"


def db(stack):
    return psycopg.connect(stack.env["DATABASE_URL"], autocommit=True)


async def ensure_model(client: httpx.AsyncClient) -> int:
    """The version the API serves, once it serves the active one (earlier tests may have
    just switched it)."""
    if (await client.get("/ready")).json()["active_version"] is None:
        await train(client)
    for _ in range(100):
        ready = (await client.get("/ready")).json()
        if ready["model_version"] is not None and ready["model_version"] == ready["active_version"]:
            return ready["model_version"]
        await asyncio.sleep(0.1)
    raise AssertionError(f"the API never served the active version: {ready}")


async def test_a_worker_killed_mid_training_does_not_leave_the_job_running(tmp_path):
    with launch_stack(tmp_path, 11, ML100K, extra_env={"JOB_STALE_SECONDS": "4"}) as stack:
        async with httpx.AsyncClient(base_url=stack.api_urls[0], timeout=30) as client:
            slow = await client.post("/api/ml/train", json={"model_type": "matrix_factorization", "hyperparams": {"n_factors": 96, "epochs": 400}},
                                     headers=ADMIN)
            job_id = slow.json()["job_id"]

            async def running() -> bool:
                job = (await client.get(f"/api/ml/training-status/{job_id}")).json()
                return job["status"] == "running" and job["current_epoch"] >= 2

            for _ in range(600):
                if await running():
                    break
                await asyncio.sleep(0.1)
            else:
                raise AssertionError("training never got going")
            seen = (await client.get(f"/api/ml/training-status/{job_id}")).json()["current_epoch"]
            os.killpg(stack.worker.pid, signal.SIGKILL)
            stack.worker.wait(10)
            at_death = (await client.get(f"/api/ml/training-status/{job_id}")).json()

            job = await wait_for_job(client, job_id, timeout=60)
            assert job["status"] == "failed" and "worker lost" in job["error"]
            # The job keeps the curve it had when its worker died: not reset by the reaper,
            # not advanced by anyone since, and well short of the 400 epochs asked for.
            assert 2 <= seen <= at_death["current_epoch"] == job["current_epoch"] < job["total_epochs"] == 400
            assert [p["epoch"] for p in job["history"]] == list(range(1, job["current_epoch"] + 1))
            assert job["history"] == at_death["history"] and job["attempts"] == at_death["attempts"] == 1

            stack.start_worker()
            later = await train(client)
            assert later["status"] == "succeeded" and later["model_version"] is not None


async def test_without_redis_the_api_serves_and_keeps_every_rating(tmp_path):
    with private_redis(tmp_path) as (redis_base, stop_redis, start_redis), \
            launch_stack(tmp_path, 0, ML100K, redis_base=redis_base) as stack:
        async with httpx.AsyncClient(base_url=stack.api_urls[0], timeout=30) as client:
            version = await ensure_model(client)
            stop_redis()
            ready = await client.get("/ready")
            assert ready.status_code == 503 and ready.json()["broker"] is False and ready.json()["database"]

            accepted = []
            for k in range(20):
                movie = 1 + k
                response = await client.post("/api/ratings", json={"user_id": 3, "movie_id": movie, "rating": 1.0 + k % 5},
                                             headers=CLIENT)
                assert response.status_code == 201, response.text
                assert response.json()["fold_in"]["folded_in"] and response.json()["fold_in"]["model_version"] == version
                accepted.append((movie, 1.0 + k % 5))
            recs = await client.get("/api/ml/recommendations/3")
            assert recs.status_code == 200 and recs.json()["strategy"] == "personalized"
            assert not {m for m, _ in accepted} & {i["movie_id"] for i in recs.json()["items"]}

            refused = await client.post("/api/ml/train", json={"model_type": "matrix_factorization", "hyperparams": FAST}, headers=ADMIN)
            assert refused.status_code == 503 and refused.json()["error"]["code"] == "unavailable"
            failed = (await client.get("/api/ml/training-status", params={"limit": 1})).json()[0]
            assert failed["status"] == "failed" and "could not queue" in failed["error"]

            start_redis()
            for _ in range(100):
                if (await client.get("/ready")).status_code == 200:
                    break
                await asyncio.sleep(0.2)
            else:
                raise AssertionError("never ready again after Redis came back")
            after = await client.post("/api/ratings", json={"user_id": 3, "movie_id": 200, "rating": 5.0}, headers=CLIENT)
            assert after.status_code == 201 and after.json()["fold_in"]["folded_in"]
            accepted.append((200, 5.0))
            with db(stack) as conn:
                stored = dict(conn.execute("SELECT movie_id, rating FROM ratings WHERE user_id = 3").fetchall())
            assert all(stored[m] == r for m, r in accepted)
            job = await train(client)
            assert job["status"] == "succeeded"


async def test_the_api_recovers_from_a_postgresql_restart(tmp_path):
    # A PostgreSQL server of the test's own: restarting the machine's shared one would
    # pull the database from under everything else that uses it.
    with private_postgres() as (pg_admin_url, stop_postgres, start_postgres), \
            launch_stack(tmp_path, 7, ML100K, pg_admin_url=pg_admin_url) as stack:
        async with httpx.AsyncClient(base_url=stack.api_urls[0], timeout=30) as client:
            version = await ensure_model(client)
            before = (await client.get("/api/ml/recommendations/5")).json()
            assert before["strategy"] == "personalized" and before["model_version"] == version and before["items"]
            stop_postgres()
            # Reads are served from memory: the same list while the database is away.
            down = await client.get("/api/ml/recommendations/5")
            assert down.status_code == 200 and down.json()["items"] == before["items"]
            # A write cannot be made durable, so it is refused, never half-accepted.
            refused = await client.post("/api/ratings", json={"user_id": 5, "movie_id": 10, "rating": 2.0},
                                        headers=CLIENT)
            assert refused.status_code == 503 and refused.json()["error"]["code"] == "unavailable"
            start_postgres()
            wait_until(lambda: httpx.get(stack.api_urls[0] + "/ready", timeout=5).status_code == 200, 60, "ready again")
            after = (await client.get("/api/ml/recommendations/5")).json()
            # Still the same model and the same list: not a fallback after losing the model.
            assert after["strategy"] == "personalized" and after["model_version"] == version
            assert after["items"] == before["items"]  # the same movies with the same model scores
            posted = await client.post("/api/ratings", json={"user_id": 5, "movie_id": 9, "rating": 4.0},
                                       headers=CLIENT)
            assert posted.status_code == 201 and posted.json()["fold_in"]["model_version"] == version
            with db(stack) as conn:
                stored = dict(conn.execute("SELECT movie_id, rating FROM ratings WHERE user_id = 5").fetchall())
            assert stored[9] == 4.0 and 10 not in stored


async def test_racing_activations_leave_exactly_one_active_version(stack):
    async with httpx.AsyncClient(base_url=stack.api_urls[0], timeout=60) as client:
        serving = await ensure_model(client)
        other = (await train(client, {**FAST, "seed": 7}))["model_version"]
        versions = [serving, other]  # both ready, with intact artifacts
        assert other != serving
        results = await asyncio.gather(*[
            client.post(f"/api/ml/models/activate/{versions[i % 2]}", headers=ADMIN) for i in range(24)
        ])
        # Activations of ready versions queue behind one lock: every one of them wins in
        # its turn, none is refused, and the last to commit is the one left active.
        assert [r.status_code for r in results] == [200] * 24, [(r.status_code, r.text) for r in results]
        assert all(r.json()["is_active"] and r.json()["version"] == versions[i % 2] for i, r in enumerate(results))
        with db(stack) as conn:
            assert conn.execute("SELECT count(*) FROM model_versions WHERE is_active").fetchone()[0] == 1
            last = conn.execute(
                "SELECT version FROM model_versions ORDER BY activated_at DESC NULLS LAST LIMIT 1").fetchone()[0]
            assert conn.execute("SELECT version FROM model_versions WHERE is_active").fetchone()[0] == last
            assert last in versions
            with pytest.raises(psycopg.errors.UniqueViolation):
                conn.execute("UPDATE model_versions SET is_active = true")


async def test_concurrent_writers_for_one_user_end_at_the_last_write_of_each_movie(stack):
    user, movies = 777_777, list(range(1, 17))
    async with httpx.AsyncClient(base_url=stack.api_urls[0], timeout=60,
                                 limits=httpx.Limits(max_connections=32)) as client:
        version = await ensure_model(client)
        last: dict[int, float] = {}

        async def writer(movie: int) -> None:
            rng = random.Random(movie)
            for _ in range(8):
                rating = float(rng.randint(1, 5))
                response = await client.post("/api/ratings", json={"user_id": user, "movie_id": movie, "rating": rating},
                                             headers=CLIENT)
                assert response.status_code == 201, response.text
                last[movie] = rating

        await asyncio.gather(*(writer(m) for m in movies))
        with db(stack) as conn:
            stored = dict(conn.execute("SELECT movie_id, rating FROM ratings WHERE user_id = %s", (user,)).fetchall())
            artifact = conn.execute("SELECT data FROM model_artifacts WHERE version = %s", (version,)).fetchone()[0]
        assert stored == last
        model = MatrixFactorization.from_bytes(bytes(artifact))
        expected = model.profile(list(stored), list(stored.values()))
        for movie in (50, 100, 181):
            got = (await client.post("/api/ml/predict", json={"user_id": user, "movie_id": movie})).json()
            assert got["predicted_rating"] == pytest.approx(model.predict_profiles([expected], [0], [movie])[0], abs=1e-9)


async def test_a_tampered_artifact_is_refused_and_the_active_model_keeps_serving(stack):
    async with httpx.AsyncClient(base_url=stack.api_urls[0], timeout=60) as client:
        serving = await ensure_model(client)
        spare = (await train(client, {**FAST, "seed": 11}))["model_version"]
        assert (await client.post(f"/api/ml/models/activate/{serving}", headers=ADMIN)).status_code == 200
        await wait_for_active(client, serving)
        with db(stack) as conn:
            conn.execute(
                "UPDATE model_artifacts SET data = overlay(data placing '\\x00ff'::bytea from 200) WHERE version = %s",
                (spare,),
            )
        refused = await client.post(f"/api/ml/models/activate/{spare}", headers=ADMIN)
        assert refused.status_code == 409 and "checksum" in refused.json()["error"]["message"]

        with db(stack) as conn, conn.transaction():  # an activation that bypasses the API's check
            conn.execute("UPDATE model_versions SET is_active = false WHERE is_active")
            conn.execute("UPDATE model_versions SET is_active = true WHERE version = %s", (spare,))
        for _ in range(50):  # until the process has tried, and refused, to load it
            ready = (await client.get("/ready")).json()
            if ready["detail"]:
                break
            await asyncio.sleep(0.1)
        assert ready["active_version"] == spare
        # Still ready: every process refuses the bad artifact and keeps serving the good one,
        # rather than all of them leaving the load balancer at once.
        assert ready["model_version"] == serving and ready["ready"]
        assert ready["detail"].startswith(f"serving version {serving}: version {spare} refused: artifact checksum")
        recs = (await client.get("/api/ml/recommendations/1")).json()
        assert recs["model_version"] == serving and recs["items"]

        restored = await client.post(f"/api/ml/models/activate/{serving}", headers=ADMIN)
        assert restored.status_code == 200
        ready = (await client.get("/ready")).json()  # the probe itself catches up with the activation
        assert ready["ready"] and ready["detail"] is None and ready["model_version"] == serving
