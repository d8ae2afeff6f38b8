"""The OpenAPI document says what the error handlers really send (see core/errors.py)."""

from __future__ import annotations

from typing import Any

from fastapi import FastAPI

from service.core.errors import ErrorResponse, Forbidden, InvalidInput, Unauthorized

ERROR_REF = "#/components/schemas/ErrorResponse"

# FastAPI drops every null from the document it generates, examples included
# (fastapi/fastapi#5559), so a field a response really sends as null would be missing from
# its example. Examples go in with this stand-in for null, which no JSON text the service
# accepts can hold (see NO_NUL), and the document gets its nulls back at the end.
NULL = "\x00null"


def _keep_nulls(value: Any) -> Any:
    if value is None:
        return NULL
    if isinstance(value, dict):
        return {k: _keep_nulls(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_keep_nulls(v) for v in value]
    return value


def _restore_nulls(value: Any) -> Any:
    if value == NULL:
        return None
    if isinstance(value, dict):
        return {k: _restore_nulls(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_restore_nulls(v) for v in value]
    return value


def response_example(value: Any) -> dict[str, Any]:
    """A response's example, on its media type: a schema's own examples would have their
    keys sorted by pydantic, and a response reads best in the order the service writes it."""
    return {"content": {"application/json": {"example": _keep_nulls(value)}}}


def named_examples(**named: tuple[str, Any]) -> dict[str, Any]:
    """Several examples by name, each ``(summary, value)``: Swagger UI offers them in a list,
    for a body (``Body(openapi_examples=...)``) or for a response (``response_examples``)."""
    return {name: {"summary": summary, "value": _keep_nulls(value)} for name, (summary, value) in named.items()}


def response_examples(**named: tuple[str, Any]) -> dict[str, Any]:
    """A response with several named examples (see ``named_examples``)."""
    return {"content": {"application/json": {"examples": named_examples(**named)}}}


def _error_response(description: str) -> dict[str, Any]:
    return {"description": description, "content": {"application/json": {"schema": {"$ref": ERROR_REF}}}}


def document_errors(schema: dict[str, Any]) -> dict[str, Any]:
    """Make the OpenAPI document say what the handlers below send: a 422 is an ErrorResponse
    (not FastAPI's ``{"detail": [...]}``); an operation with a body may answer 400 (a body
    that cannot be decoded) or 413 (too large); one behind the API key may answer 401 (no
    key) or 403 (a key without the right)."""
    components = schema.setdefault("components", {}).setdefault("schemas", {})
    error_schema = ErrorResponse.model_json_schema(ref_template="#/components/schemas/{model}")
    for name, definition in error_schema.pop("$defs", {}).items():
        components.setdefault(name, definition)
    components.setdefault("ErrorResponse", error_schema)
    for operations in schema.get("paths", {}).values():
        for operation in operations.values():
            responses = operation.get("responses", {})
            if "422" in responses:
                responses["422"] = _error_response(responses["422"].get("description") or InvalidInput.__doc__)
            if "requestBody" in operation:
                responses.setdefault("400", _error_response("The body cannot be decoded."))
                responses.setdefault("413", _error_response("The body is larger than the limit."))
            if operation.get("security"):
                responses.setdefault("401", _error_response(Unauthorized.__doc__ or "Unauthorized"))
                responses.setdefault("403", _error_response(Forbidden.__doc__ or "Forbidden"))
    for unused in ("HTTPValidationError", "ValidationError"):
        components.pop(unused, None)
    return schema


def install_error_docs(app: FastAPI) -> None:
    build = app.openapi

    def openapi() -> dict[str, Any]:
        if app.openapi_schema is None:
            app.openapi_schema = _restore_nulls(document_errors(build()))
        return app.openapi_schema

    app.openapi = openapi  # type: ignore[method-assign]
