"""The OpenAPI document declares the errors the service really sends (found by the
schemathesis run in tests/integration/test_fuzz.py), and input PostgreSQL cannot store is a 422."""

from __future__ import annotations

import pytest

from tests.scenario import ADMIN, CLIENT

ERROR = {"$ref": "#/components/schemas/ErrorResponse"}


def _operations(schema: dict):
    for path, operations in schema["paths"].items():
        for method, operation in operations.items():
            yield f"{method.upper()} {path}", operation


async def test_every_declared_error_is_the_error_shape_the_handlers_send(client):
    schema = (await client.get("/openapi.json")).json()
    assert "HTTPValidationError" not in schema["components"]["schemas"]
    for name, operation in _operations(schema):
        responses = operation["responses"]
        for status, response in responses.items():
            if status.startswith(("4", "5")) and name != "GET /ready":
                assert response["content"]["application/json"]["schema"] == ERROR, (name, status)
        if operation.get("security"):
            assert {"401", "403"} <= set(responses), name
        if "requestBody" in operation:
            assert {"400", "413"} <= set(responses), name


async def test_a_validation_error_matches_its_declared_shape(client):
    body = (await client.get("/api/movies", params={"page": 0})).json()
    assert body["error"]["code"] == "validation_error" and body["error"]["field"] == "page"


async def test_missing_and_wrong_keys_answer_401_and_403(client):
    assert (await client.post("/api/ml/retrain")).status_code == 401
    assert (await client.post("/api/ml/retrain", headers=CLIENT)).status_code == 403


@pytest.mark.parametrize(
    ("method", "url", "body"),
    [
        ("GET", "/api/movies?search=a%00b", None),
        ("GET", "/api/movies?genre=%00", None),
        ("POST", "/api/movies", {"id": 99_999, "title": "a\x00b"}),
        ("POST", "/api/movies", {"id": 99_999, "title": "ab", "genres": ["x\x00"]}),
        ("GET", "/api/ml/training-status/a%00", None),
        ("POST", "/api/ml/training-status/a%00/cancel", None),
    ],
)
async def test_a_nul_character_is_refused_before_it_reaches_postgresql(client, method, url, body):
    response = await client.request(method, url, json=body, headers=ADMIN)
    assert response.status_code == 422, response.text


@pytest.mark.parametrize("version", [0, 2**31, 7_250_427_789])
async def test_a_model_version_outside_the_integer_column_is_refused(client, version):
    assert (await client.post(f"/api/ml/models/activate/{version}", headers=ADMIN)).status_code == 422
    assert (await client.delete(f"/api/ml/models/{version}", headers=ADMIN)).status_code == 422
