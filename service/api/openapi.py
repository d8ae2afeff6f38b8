"""The OpenAPI document says what the error handlers really send (see core/errors.py)."""

from __future__ import annotations

from typing import Any

from fastapi import FastAPI

from service.core.errors import ErrorResponse, Forbidden, InvalidInput, Unauthorized

ERROR_REF = "#/components/schemas/ErrorResponse"


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
            app.openapi_schema = document_errors(build())
        return app.openapi_schema

    app.openapi = openapi  # type: ignore[method-assign]
