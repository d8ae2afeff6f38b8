"""The quality gate and retention, on the real stack (PostgreSQL, Redis, a Celery worker,
uvicorn): a worse version is trained and evaluated but kept out, with its reason in the
API; the tolerance setting lets it in; retention keeps MODEL_RETENTION versions and
never the active one's place.
"""

from __future__ import annotations

import httpx
import psycopg
import pytest

from service.testing.stack import ADMIN_KEY, Stack, train, wait_until

pytestmark = pytest.mark.integration

MF = "matrix_factorization"
GOOD: dict[str, object] = {}  # the type's defaults
RETENTION = 5  # the default MODEL_RETENTION, which the stack leaves alone


def worse(seed: int = 0) -> dict[str, object]:
    """One factor, one epoch, and regularization strong enough to flatten every bias."""
    return {"n_factors": 1, "epochs": 1, "regularization": 1000.0, "bias_regularization": 1000.0, "seed": seed}


@pytest.fixture
def client(stack: Stack):
    with httpx.Client(base_url=stack.api_urls[0], timeout=30) as http:
        yield http


def versions(client: httpx.Client) -> dict[int, dict]:
    return {m["version"]: m for m in client.get("/api/ml/models").json()}


def active(client: httpx.Client) -> int:
    (version,) = [v for v, m in versions(client).items() if m["is_active"]]
    return version


def serves(client: httpx.Client, version: int) -> None:
    ready = client.get("/ready").json()
    assert ready["model_version"] == version, ready
    recs = client.get("/api/ml/recommendations/1").json()
    assert recs["strategy"] == "personalized" and recs["model_version"] == version, recs


def kept_once_retention_ran(client: httpx.Client, expected: set[int]) -> dict[int, dict]:
    """The versions once the last job's retention has run (it runs after the job has
    succeeded), asserted to keep exactly ``expected``."""
    def kept() -> set[int]:
        return {v for v, m in versions(client).items() if m["status"] != "deleted"}

    try:
        wait_until(lambda: kept() == expected, 30, "retention")
    except AssertionError:
        pass  # the assertion below says what was kept instead
    models = versions(client)
    assert kept() == expected, {v: (m["status"], m["is_active"]) for v, m in models.items()}
    return models


def restart_worker(stack: Stack, **env: str) -> None:
    assert stack.worker is not None
    stack.stop(stack.worker)
    stack.worker = stack.spawn(f"worker-{len(stack.processes)}", "worker", env=env)


def test_a_worse_version_is_evaluated_and_kept_out_with_its_reason(stack, client):
    good = train(client, GOOD, model_type=MF)
    serves(client, good)
    bad = train(client, worse(), model_type=MF)

    models = versions(client)
    good_rmse, bad_rmse = models[good]["holdout_rmse"], models[bad]["holdout_rmse"]
    assert bad_rmse > good_rmse + 0.1, (good_rmse, bad_rmse)  # it is worse, and it was evaluated
    assert models[bad]["status"] == "ready" and not models[bad]["is_active"]
    assert models[bad]["gate_activated"] is False
    reason = models[bad]["gate_reason"]
    assert f"v{good} stays active" in reason and f"{bad_rmse:.4f}" in reason and f"{good_rmse:.4f}" in reason
    assert "ACTIVATION_TOLERANCE=0.01" in reason and "more than" in reason, reason
    assert models[good]["is_active"] and models[good]["gate_activated"] is True
    serves(client, good)

    # Another type must keep what the active one serves: EASE predicts no ratings.
    ease = train(client, {}, model_type="ease")
    models = versions(client)
    assert not models[ease]["is_active"] and models[ease]["gate_activated"] is False
    assert "predicts no ratings" in models[ease]["gate_reason"], models[ease]["gate_reason"]
    serves(client, good)


def test_the_tolerance_setting_lets_a_worse_version_in(stack, client):
    good = train(client, GOOD, model_type=MF)  # as good as the active one: the gate lets it in
    serves(client, good)
    good_rmse = versions(client)[good]["holdout_rmse"]
    bad = train(client, worse(), model_type=MF)  # the same fit as above: the same RMSE
    loss = versions(client)[bad]["holdout_rmse"] - good_rmse
    assert not versions(client)[bad]["is_active"]

    # ACTIVATION_TOLERANCE is the RMSE a new version may lose and still activate.
    tolerance = round(loss + 0.01, 4)
    restart_worker(stack, ACTIVATION_TOLERANCE=str(tolerance))
    try:
        let_in = train(client, worse(), model_type=MF)
    finally:
        restart_worker(stack)
    model = versions(client)[let_in]
    assert model["holdout_rmse"] == pytest.approx(good_rmse + loss, abs=1e-9)
    assert model["is_active"] and model["gate_activated"] is True
    assert f"within ACTIVATION_TOLERANCE={tolerance:g}" in model["gate_reason"], model["gate_reason"]
    serves(client, let_in)

    # Back at the default tolerance, that version gates the next one like any other.
    assert client.post(f"/api/ml/models/activate/{good}", headers={"X-API-Key": ADMIN_KEY}).status_code == 200
    wait_until(lambda: client.get("/ready").json()["model_version"] == good, 30, f"v{good} served")


def test_retention_keeps_the_newest_versions_and_the_active_one_however_old(stack, client):
    oldest = train(client, GOOD, model_type=MF)  # no worse than the active one: activates
    serves(client, oldest)
    kept_out = [train(client, worse(seed), model_type=MF) for seed in range(6)]
    models = versions(client)
    assert active(client) == oldest and not any(models[v]["is_active"] for v in kept_out)

    # Seven versions here, and retention 5: the active one however old, and the 4 newest.
    models = kept_once_retention_ran(client, {oldest, *kept_out[-(RETENTION - 1):]})
    assert all(models[v]["status"] == "deleted" for v in kept_out[:2])
    assert all(models[v]["status"] == "deleted" for v in models if v < oldest)  # the earlier tests' versions
    serves(client, oldest)

    # Once a newer version is active, the old one is an old inactive version like any other.
    newest = train(client, GOOD, model_type=MF)
    serves(client, newest)
    kept = {newest, *kept_out[-(RETENTION - 1):]}
    models = kept_once_retention_ran(client, kept)
    assert models[oldest]["status"] == "deleted"

    # Deleted versions lose their artifacts and keep their records and metrics.
    deleted = {v for v, m in models.items() if m["status"] == "deleted"}
    history = [h["model_version"] for h in client.get("/api/ml/metrics/history").json()]
    assert deleted <= set(history) and all(models[v]["metrics"]["ndcg@10"] is not None for v in deleted)
    with psycopg.connect(stack.env["DATABASE_URL"]) as conn:
        with_artifacts = {row[0] for row in conn.execute("SELECT version FROM model_artifacts")}
    assert with_artifacts == kept
