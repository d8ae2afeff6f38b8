"""A version switch seen from a process that did not make it: no 503 while it catches up.

Two API processes share one database; the one that did not train polls for the active
version only once a minute, so any answer from the new version comes from the refusal
path and the readiness probe checking the active version themselves.
"""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator

import httpx
import pytest

from recsys_core.data import load_movielens
from service.core.config import get_settings
from service.importer import import_dataset
from tests.scenario import ADMIN, FAST, train, wait_for_job

pytestmark = pytest.mark.every_database

PAIR = {"user_id": 1, "movie_id": 50}


@contextlib.asynccontextmanager
async def _process() -> AsyncIterator[httpx.AsyncClient]:
    from service.api.main import create_app

    app = create_app(get_settings())
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app, raise_app_exceptions=False)
        async with httpx.AsyncClient(transport=transport, base_url="http://test") as client:
            yield client


@pytest.fixture
async def two_processes(settings_env, monkeypatch, ml100k_dir):
    monkeypatch.setenv("MODEL_POLL_SECONDS", "60")  # the longest allowed: longer than the test
    get_settings.cache_clear()
    import_dataset(load_movielens(ml100k_dir))
    async with _process() as trainer, _process() as other:
        yield trainer, other


async def test_the_other_process_answers_from_a_version_activated_a_moment_ago(two_processes):
    trainer, other = two_processes
    assert (await other.post("/api/ml/predict", json=PAIR)).status_code == 503  # nothing trained yet
    first = (await train(trainer, FAST))["model_version"]

    predicted = await other.post("/api/ml/predict", json=PAIR)
    assert predicted.status_code == 200, predicted.text
    assert predicted.json()["model_version"] == first
    recs = (await other.get("/api/ml/recommendations/1")).json()
    assert (recs["strategy"], recs["model_version"]) == ("personalized", first)

    # A ranking-only version: the other process still serves the first until it checks.
    job = await trainer.post("/api/ml/train", json={"model_type": "ease", "hyperparams": {}}, headers=ADMIN)
    ease = (await wait_for_job(trainer, job.json()["job_id"]))["model_version"]
    assert (await trainer.post(f"/api/ml/models/activate/{ease}", headers=ADMIN)).status_code == 200
    ready = await other.get("/ready")
    assert ready.status_code == 200 and ready.json()["ready"], ready.text
    assert ready.json()["model_version"] == ease  # the probe loaded it
    assert (await other.post("/api/ml/predict", json=PAIR)).status_code == 409  # EASE ranks, it does not predict

    # Back to the rating model: the refusal path finds it instead of answering 409.
    assert (await trainer.post(f"/api/ml/models/activate/{first}", headers=ADMIN)).status_code == 200
    predicted = await other.post("/api/ml/predict", json=PAIR)
    assert predicted.status_code == 200 and predicted.json()["model_version"] == first, predicted.text
    batch = await other.post("/api/ml/predict/batch", json={"pairs": [PAIR]})
    assert batch.status_code == 200 and batch.json()["model_version"] == first


async def test_explanations_catch_up_with_the_first_version(two_processes):
    trainer, other = two_processes
    first = (await train(trainer, FAST))["model_version"]
    explained = await other.get("/api/ml/explain/1/50")
    assert explained.status_code == 200, explained.text
    assert explained.json()["model_version"] == first


async def test_readiness_during_a_switch_is_ready_and_says_what_it_serves(settings_env):
    from service.services.readiness import _switch_detail

    assert _switch_detail(3, 3, None) is None
    assert _switch_detail(3, 4, None) == "serving version 3 while version 4 loads"
    assert _switch_detail(None, 4, None) == "loading version 4"
    assert _switch_detail(3, 4, "version 4 refused: bad") == "serving version 3: version 4 refused: bad"
