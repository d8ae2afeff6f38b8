"""The OpenAPI document declares the errors the service really sends (found by the
schemathesis run in tests/integration/test_fuzz.py), and input PostgreSQL cannot store is a 422."""

from __future__ import annotations

import json

import jsonschema_rs  # installed with schemathesis, a dev dependency
import pytest
from fastapi import FastAPI
from fastapi.dependencies.models import Dependant
from pydantic import BaseModel

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


# The document reads like a person wrote it: every operation, parameter and field says
# what it is, and every body has an example that the schema and the route's model accept.

AUTO_SUMMARY = "FastAPI's own summary, from the function's name"


@pytest.fixture(scope="module")
def settings(tmp_path_factory):
    from service.core.config import Settings

    return Settings(database_url=f"sqlite:///{tmp_path_factory.mktemp('openapi')}/unused.db", environment="test")


def _resolve(schema: dict, components: dict) -> dict:
    while "$ref" in schema:
        schema = components["schemas"][schema["$ref"].rsplit("/", 1)[1]]
    return schema


def _examples(media: dict, components: dict) -> list:
    """What a reader sees as examples of a body: on its media type, on its schema, or
    (for a list) on its items' schema."""
    found = [media["example"]] if "example" in media else []
    found += [named["value"] for named in media.get("examples", {}).values()]
    schema = _resolve(media.get("schema", {}), components)
    found += schema.get("examples", [])
    if not found and schema.get("type") == "array":
        found += [[item] for item in _resolve(schema.get("items", {}), components).get("examples", [])]
    return found


def _schema_errors(value, schema: dict, components: dict) -> list[str]:
    validator = jsonschema_rs.validator_for({**schema, "components": components}, validate_formats=True)
    return [f"{e.message} (at /{'/'.join(map(str, e.instance_path))})" for e in validator.iter_errors(value)]


def _model_errors(value, field) -> list[str]:
    _, errors = field.validate(value, {}, loc=("example",))
    return [f"{'.'.join(map(str, e['loc']))}: {e['msg']}" for e in errors or []]


def _param_fields(dependant: Dependant) -> dict[tuple[str, str], object]:
    fields = {}
    for where in ("path", "query", "header", "cookie"):
        fields |= {(where, f.alias): f for f in getattr(dependant, f"{where}_params")}
    for sub in dependant.dependencies:
        fields |= _param_fields(sub)
    return fields


def _api_routes(app: FastAPI) -> list:
    """The documented routes, with the fields they validate bodies and responses with.
    FastAPI 0.16x keeps included routers nested; iter_route_contexts walks them as its
    OpenAPI generator does."""
    try:
        from fastapi.routing import iter_route_contexts
    except ImportError:  # an older FastAPI: the app's routes are flat
        routes = list(app.routes)
    else:
        routes = list(iter_route_contexts(app.routes))
    return [r for r in routes if getattr(r, "include_in_schema", False) and hasattr(r, "body_field")]


def _response_field(route, status: int):
    if status == (route.status_code or 200):
        return route.response_field
    return route.response_fields.get(status) or route.response_fields.get(str(status))


def _operation_problems(route, operation: dict, components: dict) -> list[str]:
    problems = []
    auto = route.name.replace("_", " ").title()
    if not route.summary or operation.get("summary") in (None, "", auto):
        problems.append(f"no summary of its own ({AUTO_SUMMARY} is {auto!r})")
    if not operation.get("description"):
        problems.append("no description (the handler's docstring)")

    fields = _param_fields(route.dependant)
    for param in operation.get("parameters", []):
        where = f"{param['in']} parameter {param['name']}"
        if not param.get("description"):
            problems.append(f"{where}: no description")
        values = [param["example"]] if "example" in param else []
        values += [named["value"] for named in param.get("examples", {}).values()]
        for value in values:
            problems += [f"{where} example {value!r}: {e}" for e in _schema_errors(value, param["schema"], components)]
            problems += [f"{where} example {value!r}: {e}" for e in _model_errors(value, fields[(param["in"], param["name"])])]

    body = operation.get("requestBody")
    for media_type, media in (body or {}).get("content", {}).items():
        if "json" not in media_type:  # an upload: say what to send instead
            if not body.get("description"):
                problems.append(f"{media_type} request body: no description of what to send")
            continue
        found = _examples(media, components)
        if not found:
            problems.append("request body: no example")
        for value in found:
            problems += [f"request example: {e}" for e in _schema_errors(value, media.get("schema", {}), components)]
            problems += [f"request example: {e}" for e in _model_errors(value, route.body_field)]

    for status, response in operation.get("responses", {}).items():
        media = response.get("content", {}).get("application/json")
        if media is None:
            continue
        found = _examples(media, components)
        success = status.startswith("2")
        if success and not found:
            problems.append(f"{status} response: no example")
        field = _response_field(route, int(status))
        for value in found:
            problems += [f"{status} response example: {e}" for e in _schema_errors(value, media.get("schema", {}), components)]
            if field is None:
                continue
            errors = _model_errors(value, field)
            problems += [f"{status} response example: {e}" for e in errors]
            if success and not errors:
                # A success example shows every field, as the service writes it.
                written = field.serialize(field.validate(value, {}, loc=())[0], mode="json")
                if written != value:
                    problems.append(f"{status} response example is not what the service writes: {written}")
    return problems


def _document_problems(app: FastAPI) -> list[str]:
    """Everything in the OpenAPI document a reader would miss, or that an example gets wrong."""
    from service.api.openapi import NULL

    document = app.openapi()
    components = document.get("components", {})
    problems = ["a stand-in for null is left in the document"] if NULL in json.dumps(document) else []
    routes = _api_routes(app)
    assert len(routes) == sum(len(operations) for operations in document["paths"].values())
    for route in routes:
        for method in sorted(route.methods):
            operation = document["paths"][route.path_format][method.lower()]
            problems += [f"{method} {route.path_format}: {p}" for p in _operation_problems(route, operation, components)]
    for name, schema in components.get("schemas", {}).items():
        problems += [
            f"schema {name}.{field}: no description"
            for field, prop in schema.get("properties", {}).items() if not prop.get("description")
        ]
        for example in schema.get("examples", []):
            problems += [f"schema {name} example: {e}" for e in _schema_errors(example, schema, components)]
    return problems


def test_every_operation_parameter_and_field_is_documented_with_true_examples(settings):
    from service.api.main import create_app

    problems = _document_problems(create_app(settings))
    assert not problems, "\n".join(problems)


class Thing(BaseModel):  # at module level: the annotations below are strings
    name: str


def test_a_route_added_without_docs_fails_the_check(settings):
    from service.api.main import create_app
    from service.api.openapi import response_example

    app = create_app(settings)

    @app.post("/api/things/{thing_id}")
    async def make_thing(thing_id: int, body: Thing, size: int = 1) -> Thing:
        return body

    @app.get("/api/things", response_model=list[Thing], summary="List the things",
             responses={200: response_example([{"name": 3}])})
    async def list_things() -> list[Thing]:
        """Every thing."""
        return []

    problems = "\n".join(_document_problems(app))
    for expected in [
        f"POST /api/things/{{thing_id}}: no summary of its own ({AUTO_SUMMARY} is 'Make Thing')",
        "POST /api/things/{thing_id}: no description",
        "POST /api/things/{thing_id}: path parameter thing_id: no description",
        "POST /api/things/{thing_id}: query parameter size: no description",
        "POST /api/things/{thing_id}: request body: no example",
        "POST /api/things/{thing_id}: 200 response: no example",
        "schema Thing.name: no description",
        "GET /api/things: 200 response example: 3 is not of type \"string\"",
    ]:
        assert expected in problems, problems
