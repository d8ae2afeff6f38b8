"""Experiments on the real stack (PostgreSQL, Redis, a Celery worker, uvicorn processes):
every API process assigns every user to the same arm, an experiment and its metrics
outlive the API process that served it, and a promotion activates the arm everywhere."""

from __future__ import annotations

import time

import httpx
import pytest

from service.serving.assignment import Arm, RunningExperiment
from service.testing.stack import ADMIN_KEY, CLIENT_KEY, train

pytestmark = pytest.mark.integration

ADMIN = {"X-API-Key": ADMIN_KEY}
CLIENT = {"X-API-Key": CLIENT_KEY}
FAST = {"n_factors": 8, "epochs": 4}
WEAK = {"n_factors": 1, "epochs": 1, "regularization": 5.0}
USERS = range(1, 944)


def _serving_experiment(client: httpx.Client, experiment_id: int | None, user: int, timeout: float = 30) -> None:
    deadline = time.monotonic() + timeout
    while client.get(f"/api/ml/recommendations/{user}").json()["experiment_id"] != experiment_id:
        assert time.monotonic() < deadline, f"{client.base_url} never served experiment {experiment_id}"
        time.sleep(0.1)


@pytest.fixture(scope="module")
def experiment(stack):
    with httpx.Client(base_url=stack.api_urls[0], timeout=60) as a:
        good = train(a, FAST, model_type="matrix_factorization")
        weak = train(a, WEAK, model_type="matrix_factorization")
        body = {"name": "good vs weak", "salt": "it-salt", "coverage": 0.8,
                "arms": [{"name": "good", "model_version": good, "share": 0.4},
                         {"name": "weak", "model_version": weak, "share": 0.4}]}
        created = a.post("/api/ml/experiments", json=body, headers=ADMIN)
        assert created.status_code == 201, created.text
        started = created.json()
    arms = (Arm("good", good, None, 0.4), Arm("weak", weak, None, 0.4))
    return started, RunningExperiment(started["id"], "good vs weak", "it-salt", 0.8, arms), good


def test_two_api_processes_agree_on_every_users_arm(stack, experiment):
    started, expected, good = experiment
    second = stack.start_api()
    with httpx.Client(base_url=stack.api_urls[0], timeout=60) as a, httpx.Client(base_url=second, timeout=60) as b:
        in_experiment = next(u for u in USERS if expected.arm_of(u) is not None)
        for client in (a, b):
            _serving_experiment(client, started["id"], in_experiment)
        outside = 0
        for user in USERS:
            from_a = a.get(f"/api/ml/recommendations/{user}", params={"n": 3}).json()
            from_b = b.get(f"/api/ml/recommendations/{user}", params={"n": 3}).json()
            arm = expected.arm_of(user)
            want = (started["id"], arm.name, arm.model_version) if arm else (None, None, good)
            assert (from_a["experiment_id"], from_a["arm"], from_a["model_version"]) == want, user
            assert (from_b["experiment_id"], from_b["arm"], from_b["model_version"]) == want, user
            outside += arm is None
        assert 0 < outside < len(USERS) * 0.35  # 20% outside the experiment


def test_an_experiment_and_its_metrics_survive_an_api_restart(stack, experiment):
    started, expected, _ = experiment
    url = stack.start_api()
    process = stack.processes[-1]
    with httpx.Client(base_url=url, timeout=60) as api:
        _serving_experiment(api, started["id"], next(u for u in USERS if expected.arm_of(u) is not None))
        rated = 0
        for user in [u for u in USERS if expected.arm_of(u) is not None][:20]:
            items = api.get(f"/api/ml/recommendations/{user}", params={"n": 5}).json()["items"]
            posted = api.post("/api/ratings/batch", headers=CLIENT, json={"ratings": [
                {"user_id": user, "movie_id": items[0]["movie_id"], "rating": 5.0},
                {"user_id": user, "movie_id": items[1]["movie_id"], "rating": 2.0},
            ]})
            assert posted.status_code == 201, posted.text
            rated += 2
        before = api.get(f"/api/ml/experiments/{started['id']}/metrics").json()
    assert sum(a["n_ratings"] for a in before["arms"]) >= rated
    assert sum(a["hits"] for a in before["arms"]) >= 20
    stack.stop(process)
    stack.api_urls.remove(url)
    restarted = stack.start_api()
    with httpx.Client(base_url=restarted, timeout=60) as api:
        after = api.get(f"/api/ml/experiments/{started['id']}/metrics").json()
        assert after == before
        assert api.get(f"/api/ml/experiments/{started['id']}").json()["status"] == "running"
        user = next(u for u in USERS if expected.arm_of(u) is not None)
        _serving_experiment(api, started["id"], user)
        assert api.get(f"/api/ml/recommendations/{user}").json()["arm"] == expected.arm_of(user).name


def test_promote_activates_the_arm_everywhere_and_ends_the_experiment(stack, experiment):
    started, expected, _ = experiment
    weak = expected.arms[1].model_version
    promoted = httpx.post(f"{stack.api_urls[0]}/api/ml/experiments/{started['id']}/promote/weak", headers=ADMIN,
                          timeout=60)
    assert promoted.status_code == 200, promoted.text
    assert promoted.json()["activated_version"] == weak
    user = next(u for u in USERS if expected.arm_of(u) is not None and expected.arm_of(u).name == "good")
    for url in stack.api_urls:
        with httpx.Client(base_url=url, timeout=60) as api:
            _serving_experiment(api, None, user)
            deadline = time.monotonic() + 30
            while api.get("/ready").json()["model_version"] != weak:
                assert time.monotonic() < deadline, f"{url} never activated version {weak}"
                time.sleep(0.1)
            answer = api.get(f"/api/ml/recommendations/{user}").json()
            assert (answer["arm"], answer["model_version"]) == (None, weak)
            assert api.get(f"/api/ml/experiments/{started['id']}").json()["status"] == "promoted"
