"""The API key is checked before the body is read, and bad dashboard paths are 404s, not
500s (regressions from a hostile probe)."""

from __future__ import annotations

import pytest

from service.core.config import Settings
from tests.scenario import ADMIN, CLIENT

JSON = {"content-type": "application/json"}
MALFORMED = b'{"ratings": [{"user_id": 1,'
# Just under MAX_BODY_BYTES: the body the probe could make the service parse unauthenticated.
LARGE = b'{"ratings": [' + b",".join([b'{"user_id": 1, "movie_id": 1, "rating": 4}'] * 45_000) + b"]}"


@pytest.mark.parametrize("body", [MALFORMED, LARGE], ids=["malformed", "large"])
async def test_a_body_without_a_key_is_refused_before_it_is_read(client, body):
    response = await client.post("/api/ratings/batch", content=body, headers=JSON)
    assert response.status_code == 401, response.text
    assert response.json()["error"]["code"] == "unauthorized"


async def test_the_key_decides_before_the_body_is_validated(client):
    wrong = await client.post("/api/ratings/batch", content=MALFORMED, headers={**JSON, "X-API-Key": "wrong"})
    assert wrong.status_code == 403
    right = await client.post("/api/ratings/batch", content=MALFORMED, headers={**JSON, **CLIENT})
    assert right.status_code == 400 and right.json()["error"]["code"] == "invalid_json"
    # The client key does not open admin routes, whatever their body.
    train = await client.post("/api/ml/train", content=MALFORMED, headers={**JSON, **CLIENT})
    assert train.status_code == 403
    assert (await client.post("/api/ml/train", content=MALFORMED, headers={**JSON, **ADMIN})).status_code == 400


async def test_open_reads_with_a_body_still_validate_it(client):
    # /predict is a read: without REQUIRE_KEY_FOR_READS it needs no key, so the body decides.
    response = await client.post("/api/ml/predict", content=MALFORMED, headers=JSON)
    assert response.status_code == 400


async def test_keyed_reads_with_a_body_check_the_key_first(client, app):
    app.state.settings = app.state.settings.model_copy(update={"require_key_for_reads": True})
    assert (await client.post("/api/ml/predict", content=MALFORMED, headers=JSON)).status_code == 401
    assert (await client.post("/api/ml/predict", content=MALFORMED, headers={**JSON, **CLIENT})).status_code == 400


@pytest.mark.parametrize("path", ["%00index.html", "main.js%00", "a" * 10_000, "%2e%2e/" * 2000 + "x.js"])
async def test_hostile_static_paths_are_not_found(client, path):
    response = await client.get(f"/dashboard/static/{path}")
    assert response.status_code == 404
    assert response.json()["error"]["code"] == "not_found"
    assert len(response.content) < 1000  # the path is not echoed back whole


def test_reads_need_a_key_by_default_in_production_only(monkeypatch):
    for name in ("REQUIRE_KEY_FOR_READS", "ENVIRONMENT"):
        monkeypatch.delenv(name, raising=False)
    keys = {"admin_api_key": "a-real-secret", "_env_file": None}
    assert Settings(environment="production", **keys).require_key_for_reads is True
    assert Settings(environment="production", require_key_for_reads=False, **keys).require_key_for_reads is False
    assert Settings(environment="local", _env_file=None).require_key_for_reads is False
    assert Settings(environment="test", require_key_for_reads=True, _env_file=None).require_key_for_reads is True
    monkeypatch.setenv("ENVIRONMENT", "production")
    monkeypatch.setenv("REQUIRE_KEY_FOR_READS", "false")
    assert Settings(**keys).require_key_for_reads is False
