"""One error shape everywhere: {"error": {"code", "message", "field"}}, ``field`` null when
nothing in the request is to blame."""

from __future__ import annotations

import pytest

from tests.scenario import ADMIN, CLIENT

JSON = {"content-type": "application/json"}


@pytest.mark.parametrize(
    ("method", "path", "kwargs", "status", "code", "field"),
    [
        ("POST", "/api/ratings", {"json": {"user_id": 1, "movie_id": 1, "rating": 4}}, 401, "unauthorized", "X-API-Key"),
        ("POST", "/api/ratings", {"json": {}, "headers": {"X-API-Key": "wrong"}}, 403, "forbidden", "X-API-Key"),
        ("POST", "/api/ml/train", {"json": {}, "headers": CLIENT}, 403, "forbidden", "X-API-Key"),
        ("GET", "/api/no-such-route", {}, 404, "not_found", None),
        ("DELETE", "/api/movies", {}, 405, "method_not_allowed", None),
        ("GET", "/api/movies/999", {}, 404, "not_found", "movie_id"),
        ("GET", "/api/movies", {"params": {"page": 0}}, 422, "validation_error", "page"),
        ("POST", "/api/ratings", {"content": b"{", "headers": {**JSON, **CLIENT}}, 400, "invalid_json", "body"),
        ("POST", "/api/ml/models/activate/999", {"headers": ADMIN}, 404, "not_found", "version"),
    ],
)
async def test_every_error_has_the_same_shape(client, method, path, kwargs, status, code, field):
    response = await client.request(method, path, **kwargs)
    assert response.status_code == status, response.text
    error = response.json()["error"]
    assert set(error) >= {"code", "message", "field"}, error
    assert (error["code"], error["field"]) == (code, field)
    assert error["message"]
