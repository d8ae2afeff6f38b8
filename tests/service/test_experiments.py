"""A/B experiments in the embedded mode (SQLite, in-process worker): assignment, the arm
named on every answer, per-arm metrics against a hand-computed case, validation, and
stop/promote. Cross-process agreement and restarts: tests/integration/test_experiments.py."""

from __future__ import annotations

import asyncio
import hashlib
import math
import time

import numpy as np
import pytest
from scipy import stats

from service.services import experiment_stats as st
from service.serving.assignment import Arm, RunningExperiment, user_point
from tests.scenario import ADMIN, CLIENT, train, wait_for_active

WEAK = {"n_factors": 1, "epochs": 1, "regularization": 5.0}


def _experiment(salt: str = "s1", shares=(0.3, 0.2), coverage: float = 0.5) -> RunningExperiment:
    arms = tuple(Arm(f"arm{k}", k + 1, None, share) for k, share in enumerate(shares))
    return RunningExperiment(1, "e", salt, coverage, arms)


def test_a_user_point_is_sha256_of_salt_and_id_not_pythons_hash():
    digest = hashlib.sha256(b"my-salt:196").digest()
    assert user_point("my-salt", 196) == int.from_bytes(digest[:8], "big") / 2**64


def test_shares_are_respected_within_statistical_bounds_and_outside_users_get_none():
    experiment = _experiment()
    users = range(1, 40_001)
    arms = [experiment.arm_of(u) for u in users]
    assert arms == [experiment.arm_of(u) for u in users]  # the same answer every time
    n = len(arms)
    for name, share in (("arm0", 0.3), ("arm1", 0.2), (None, 0.5)):
        count = sum(1 for a in arms if (a.name if a else None) == name)
        sigma = math.sqrt(n * share * (1 - share))
        assert abs(count - n * share) < 5 * sigma, (name, count)
    other_salt = _experiment(salt="s2")
    moved = sum(1 for u in users if other_salt.arm_of(u) != experiment.arm_of(u))
    assert moved > n * 0.3  # a new salt reshuffles users


def test_wilson_welch_and_two_proportion_match_their_textbook_forms():
    # One rating (one exposure) per user: the clustered forms are the textbook ones.
    rng = np.random.default_rng(0)
    a, b = rng.normal(1.0, 0.5, 300) ** 2, rng.normal(1.1, 0.5, 250) ** 2
    ones_a, ones_b = np.ones_like(a), np.ones_like(b)
    p = st.welch_mse(st.ratio(a, ones_a), st.ratio(b, ones_b))
    assert p == pytest.approx(stats.ttest_ind(a, b, equal_var=False).pvalue, rel=1e-9)

    hits_a, hits_b = (rng.random(400) < 0.10).astype(float), (rng.random(500) < 0.15).astype(float)
    ra, rb = st.ratio(hits_a, np.ones(400)), st.ratio(hits_b, np.ones(500))
    pa, pb = hits_a.mean(), hits_b.mean()
    z = (pa - pb) / math.sqrt(pa * (1 - pa) / 399 + pb * (1 - pb) / 499)  # sample variances (ddof=1)
    assert st.two_proportion(ra, rb) == pytest.approx(2 * stats.norm.sf(abs(z)), rel=1e-9)

    ten = st.ratio(np.r_[np.ones(10), np.zeros(90)], np.ones(100))
    low, high = st.wilson_interval(ten, 0.05)
    # 10/100 at 95% (Wilson); the effective n here is 100 * 99/100, hence a hair wider than 0.0552..0.1744
    assert 0.054 < low < 0.0555 and 0.174 < high < 0.176


def test_significance_is_bonferroni_over_the_comparisons():
    assert st.significant(0.02, 0.05, 1) and not st.significant(0.03, 0.05, 2)
    assert not st.significant(None, 0.05, 1)


async def _running(app, experiment_id: int) -> None:
    deadline = time.monotonic() + 10
    while (running := app.state.registry.experiment) is None or running.id != experiment_id:
        assert time.monotonic() < deadline, "the experiment never reached the registry"
        await asyncio.sleep(0.05)


async def _none_running(app) -> None:
    deadline = time.monotonic() + 10
    while app.state.registry.experiment is not None:
        assert time.monotonic() < deadline, "the experiment never left the registry"
        await asyncio.sleep(0.05)


@pytest.fixture
async def two_versions(trained_app):
    app, client = trained_app
    good = app.state.registry.current.version
    weak = (await train(client, WEAK))["model_version"]
    await wait_for_active(client, good)  # the gate keeps the weak one out
    return app, client, good, weak


async def _start(client, good: int, weak: int, **extra) -> dict:
    body = {"name": "good vs weak", "salt": "fixed-salt",
            "arms": [{"name": "good", "model_version": good, "share": 0.5},
                     {"name": "weak", "model_version": weak, "share": 0.5}], **extra}
    response = await client.post("/api/ml/experiments", json=body, headers=ADMIN)
    assert response.status_code == 201, response.text
    return response.json()


async def test_every_answer_names_the_arm_that_served_it_and_the_cache_keeps_arms_apart(two_versions):
    app, client, good, weak = two_versions
    outside = (await client.get("/api/ml/recommendations/1")).json()
    assert outside["experiment_id"] is None and outside["arm"] is None
    experiment = await _start(client, good, weak)
    await _running(app, experiment["id"])
    expected = RunningExperiment(experiment["id"], "e", "fixed-salt", 1.0,
                                 (Arm("good", good, None, 0.5), Arm("weak", weak, None, 0.5)))
    seen = set()
    for user in range(1, 41):
        arm = expected.arm_of(user)
        first = (await client.get(f"/api/ml/recommendations/{user}")).json()
        early = app.state.serving.rendered.served_early
        again = (await client.get(f"/api/ml/recommendations/{user}")).json()
        assert app.state.serving.rendered.served_early == early + 1  # the cached fast path answered
        assert first == again
        assert (first["experiment_id"], first["arm"], first["model_version"]) == (experiment["id"], arm.name,
                                                                                  arm.model_version)
        predicted = (await client.post("/api/ml/predict", json={"user_id": user, "movie_id": 50})).json()
        assert (predicted["arm"], predicted["model_version"]) == (arm.name, arm.model_version)
        seen.add(arm.name)
    assert seen == {"good", "weak"}

    stopped = await client.post(f"/api/ml/experiments/{experiment['id']}/stop", headers=ADMIN)
    assert stopped.status_code == 200 and stopped.json()["status"] == "stopped"
    await _none_running(app)
    user = next(u for u in range(1, 41) if expected.arm_of(u).name == "weak")
    after = (await client.get(f"/api/ml/recommendations/{user}")).json()  # not the weak arm's cached list
    assert (after["arm"], after["model_version"]) == (None, good)


async def test_a_user_of_a_non_active_arm_is_folded_into_that_arm(two_versions):
    app, client, good, weak = two_versions
    experiment = await _start(client, good, weak)
    await _running(app, experiment["id"])
    running = app.state.registry.experiment
    user = next(u for u in range(1, 200) if running.arm_of(u).name == "weak")
    top = (await client.get(f"/api/ml/recommendations/{user}")).json()["items"][0]["movie_id"]
    posted = (await client.post("/api/ratings", json={"user_id": user, "movie_id": top, "rating": 1.0},
                                headers=CLIENT)).json()
    assert posted["fold_in"]["model_version"] == weak and posted["fold_in"]["folded_in"]
    record = app.state.serving.user(user)
    assert record.state_version == weak and top in record.rated()
    after = (await client.get(f"/api/ml/recommendations/{user}")).json()
    assert after["model_version"] == weak and top not in [i["movie_id"] for i in after["items"]]


async def test_metrics_match_a_hand_computed_case_with_pre_rating_predictions(two_versions):
    app, client, good, weak = two_versions
    experiment = await _start(client, good, weak)
    await _running(app, experiment["id"])
    running = app.state.registry.experiment
    users = {arm: [u for u in range(1, 300) if running.arm_of(u).name == arm][:2] for arm in ("good", "weak")}
    threshold = app.state.settings.hit_threshold
    expected = {arm: {"errors": [], "hits": 0, "exposures": 0, "ratings": 0} for arm in users}
    for arm, members in users.items():
        for user in members:
            items = (await client.get(f"/api/ml/recommendations/{user}", params={"n": 5})).json()["items"]
            expected[arm]["exposures"] += len(items)
            liked, disliked = items[0]["movie_id"], items[1]["movie_id"]
            for movie, rating in ((liked, 5.0), (disliked, 1.0), (liked, 4.5)):  # a re-rating counts, hits once
                before = (await client.post("/api/ml/predict", json={"user_id": user, "movie_id": movie})).json()
                posted = await client.post("/api/ratings", json={"user_id": user, "movie_id": movie, "rating": rating},
                                           headers=CLIENT)
                assert posted.status_code == 201
                after = (await client.post("/api/ml/predict", json={"user_id": user, "movie_id": movie})).json()
                assert after["predicted_rating"] != pytest.approx(before["predicted_rating"], abs=1e-6)
                expected[arm]["errors"].append(before["predicted_rating"] - rating)
                expected[arm]["ratings"] += 1
            expected[arm]["hits"] += 1 if 5.0 >= threshold else 0
    metrics = (await client.get(f"/api/ml/experiments/{experiment['id']}/metrics")).json()
    by_arm = {a["arm"]: a for a in metrics["arms"]}
    for arm, want in expected.items():
        got = by_arm[arm]
        assert got["n_ratings"] == want["ratings"] == got["n_predicted"]
        assert got["n_users"] == 2
        assert got["rmse"] == pytest.approx(math.sqrt(np.mean(np.square(want["errors"]))), rel=1e-9)
        assert (got["exposures"], got["hits"]) == (want["exposures"], want["hits"])
        assert got["hit_rate"] == pytest.approx(want["hits"] / want["exposures"])
        assert got["rmse_ci"]["low"] <= got["rmse"] <= got["rmse_ci"]["high"]
    assert [(c["metric"], c["arm"], c["control"]) for c in metrics["comparisons"]] == [
        ("rmse", "weak", "good"), ("hit_rate", "weak", "good")]


async def test_bad_experiments_are_refused_naming_the_field(two_versions):
    _, client, good, weak = two_versions

    async def refused(body: dict, status: int = 422) -> dict:
        response = await client.post("/api/ml/experiments", json=body, headers=ADMIN)
        assert response.status_code == status, response.text
        return response.json()["error"]

    arms = [{"name": "a", "model_version": good, "share": 0.5}, {"name": "b", "model_version": weak, "share": 0.5}]
    assert (await refused({"name": "x", "arms": [arms[0], {**arms[1], "model_version": 999}]}))["field"] \
        == "arms[1].model_version"
    assert (await refused({"name": "x", "arms": [arms[0], {**arms[1], "share": 0.4}]}))["field"] == "arms"
    assert (await refused({"name": "x", "arms": arms, "coverage": 0.5}))["field"] == "arms"
    assert (await refused({"name": "x", "arms": [arms[0], {**arms[1], "name": "a"}]}))["field"] == "arms[1].name"
    assert (await refused({"name": "x", "arms": [arms[0], {"name": "b", "share": 0.5}]}))["field"] \
        == "arms[1].model_version"
    assert (await refused({"name": "x", "arms": [arms[0], {**arms[1], "share": 0}]}))["field"] == "arms.1.share"
    assert (await refused({"name": "x", "arms": [arms[0]]}))["field"] == "arms"

    started = await _start(client, good, weak)
    assert (await refused({"name": "second", "arms": arms}, 409))["code"] == "conflict"
    deleting = await client.delete(f"/api/ml/models/{weak}", headers=ADMIN)
    assert deleting.status_code == 409 and "arm" in deleting.json()["error"]["message"]
    assert (await client.post(f"/api/ml/experiments/{started['id']}/stop", headers=ADMIN)).status_code == 200
    assert (await client.delete(f"/api/ml/models/{weak}", headers=ADMIN)).status_code == 204
    assert (await refused({"name": "x", "arms": arms}))["field"] == "arms[1].model_version"  # deleted now


async def test_promote_ends_the_experiment_and_activates_the_arm(two_versions):
    app, client, good, weak = two_versions
    experiment = await _start(client, good, weak)
    await _running(app, experiment["id"])
    assert (await client.post(f"/api/ml/experiments/{experiment['id']}/promote/weak", headers=CLIENT)).status_code == 403
    assert (await client.post(f"/api/ml/experiments/{experiment['id']}/promote/nope", headers=ADMIN)).json()[
        "error"]["field"] == "arm"
    promoted = await client.post(f"/api/ml/experiments/{experiment['id']}/promote/weak", headers=ADMIN)
    assert promoted.status_code == 200, promoted.text
    body = promoted.json()
    assert body["activated_version"] == weak and body["experiment"]["status"] == "promoted"
    assert body["experiment"]["promoted_arm"] == "weak"
    await wait_for_active(client, weak)
    await _none_running(app)
    listed = (await client.get("/api/ml/experiments")).json()
    assert [e["status"] for e in listed] == ["promoted"]
    again = await client.post(f"/api/ml/experiments/{experiment['id']}/stop", headers=ADMIN)
    assert again.status_code == 409


async def test_a_popularity_arm_serves_and_predicts_the_popularity_list(two_versions):
    app, client, good, _ = two_versions
    body = {"name": "model vs popular", "arms": [{"name": "model", "model_version": good, "share": 0.5},
                                                 {"name": "popular", "fallback": "popularity", "share": 0.5}]}
    created = await client.post("/api/ml/experiments", json=body, headers=ADMIN)
    assert created.status_code == 201, created.text
    await _running(app, created.json()["id"])
    running = app.state.registry.experiment
    user = next(u for u in range(1, 200) if running.arm_of(u).name == "popular")
    recs = (await client.get(f"/api/ml/recommendations/{user}")).json()
    assert (recs["strategy"], recs["arm"], recs["model_version"]) == ("popularity_fallback", "popular", None)
    predicted = (await client.post("/api/ml/predict", json={"user_id": user, "movie_id": 50})).json()
    table = await app.state.serving.popularity()
    assert predicted["model_type"] == "popularity" and predicted["predicted_rating"] == table.predict([50])[0]
    assert (await client.post(f"/api/ml/experiments/{created.json()['id']}/promote/popular",
                              headers=ADMIN)).status_code == 409


async def test_retention_skips_a_version_an_arm_of_the_running_experiment_serves(two_versions):
    from service.training.retention import apply_retention

    _, client, good, weak = two_versions
    started = await _start(client, good, weak)
    assert apply_retention(1) == []  # keep 1: only the active version, but the weak arm serves too
    assert {m["version"]: m["status"] for m in (await client.get("/api/ml/models")).json()}[weak] == "ready"
    assert (await client.post(f"/api/ml/experiments/{started['id']}/stop", headers=ADMIN)).status_code == 200
    assert apply_retention(1) == [weak]
