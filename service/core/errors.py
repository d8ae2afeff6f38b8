"""One error hierarchy, one JSON shape: {"error": {"code", "message", "field", "details"?}}.

``field`` is always present: the request field the error is about, or null when none is.
"""

from __future__ import annotations

import logging
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from pydantic import BaseModel, ConfigDict, Field
from sqlalchemy.exc import OperationalError
from starlette.exceptions import HTTPException as StarletteHTTPException

from recsys_core.types import MODEL_TYPES

log = logging.getLogger(__name__)


class ErrorBody(BaseModel):
    code: str = Field(description="A stable code to branch on: not_found, conflict, validation_error, unauthorized, ...")
    message: str = Field(description="What is wrong and, where it helps, what would be accepted.")
    field: str | None = Field(
        default=None,
        description="The request field the error is about (movie_id, ratings[3].rating, X-API-Key); null when none is.",
    )
    details: list[dict[str, Any]] | None = Field(
        default=None, description="For a request that fails validation: every problem found, each with field, message and type."
    )

    def as_json(self) -> dict[str, Any]:
        body = self.model_dump(exclude={"details"} if self.details is None else set())
        return {"error": body}


class ErrorResponse(BaseModel):
    model_config = ConfigDict(json_schema_extra={"examples": [
        {"error": {"code": "not_found", "message": "movie 99999 not found", "field": "movie_id"}},
        {"error": {
            "code": "validation_error", "message": "page: Input should be greater than or equal to 1", "field": "page",
            "details": [{"field": "page", "message": "Input should be greater than or equal to 1", "type": "greater_than_equal"}],
        }},
    ]})

    error: ErrorBody = Field(description="What went wrong.")


class ServiceError(Exception):
    status_code = 400
    code = "bad_request"

    def __init__(self, message: str, *, field: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.field = field

    @classmethod
    def openapi(cls) -> dict[int | str, dict[str, Any]]:
        return {cls.status_code: {"model": ErrorResponse, "description": cls.__doc__ or cls.code}}


class NotFound(ServiceError):
    """The resource does not exist."""

    status_code = 404
    code = "not_found"


class Conflict(ServiceError):
    """The request conflicts with the current state."""

    status_code = 409
    code = "conflict"


class InvalidInput(ServiceError):
    """The input is well-formed JSON but not acceptable."""

    status_code = 422
    code = "validation_error"


class Unauthorized(ServiceError):
    """No API key was given."""

    status_code = 401
    code = "unauthorized"


class Forbidden(ServiceError):
    """The API key does not grant this action."""

    status_code = 403
    code = "forbidden"


class Unavailable(ServiceError):
    """A dependency (model, database, broker) is not available right now."""

    status_code = 503
    code = "unavailable"


def _json(status: int, body: ErrorBody, headers: dict[str, str] | None = None) -> JSONResponse:
    return JSONResponse(
        status_code=status, content=body.as_json(),
        headers=headers,
    )


def _field_of(loc: tuple[Any, ...] | list[Any]) -> str:
    parts = [str(p) for p in loc if p not in ("body", "query", "path", "header")]
    if len(parts) > 1 and parts[0] in MODEL_TYPES:  # the union tag of a training request
        parts = parts[1:]
    return ".".join(parts) or "body"


async def _where_json_broke(request: Request, error: dict[str, Any]) -> str:
    """"the body is not valid JSON: Expecting value at line 2, column 13", from the decoder's
    own reason and the character position FastAPI reports as the error's location."""
    reason = str((error.get("ctx") or {}).get("error") or "it cannot be decoded")
    position = next((p for p in error.get("loc", ()) if isinstance(p, int)), None)
    if position is None:
        return f"the body is not valid JSON: {reason}"
    text = (await request.body()).decode("utf-8", "replace")[:position]
    line = text.count("\n") + 1
    column = position - (text.rfind("\n") + 1) + 1
    return f"the body is not valid JSON: {reason} at line {line}, column {column}"


def install_error_handlers(app: FastAPI) -> None:
    @app.exception_handler(ServiceError)
    async def _service_error(_: Request, exc: ServiceError) -> JSONResponse:
        return _json(exc.status_code, ErrorBody(code=exc.code, message=exc.message, field=exc.field))

    @app.exception_handler(RequestValidationError)
    async def _validation_error(request: Request, exc: RequestValidationError) -> JSONResponse:
        errors = exc.errors()
        broken = next((e for e in errors if e.get("type") == "json_invalid"), None)
        if broken is not None:
            return _json(400, ErrorBody(
                code="invalid_json", message=await _where_json_broke(request, broken), field="body",
            ))
        details = [
            {
                # A model_type no union member has: the discriminator reports it at the body.
                "field": "model_type" if e.get("type") == "unknown_model_type" else _field_of(e.get("loc", ())),
                "message": e.get("msg", ""),
                "type": e.get("type", ""),
            }
            for e in errors
        ]
        first = details[0] if details else {"field": "body", "message": "invalid input"}
        return _json(
            422,
            ErrorBody(
                code="validation_error",
                message=f"{first['field']}: {first['message']}",
                field=first["field"],
                details=details,
            ),
        )

    @app.exception_handler(StarletteHTTPException)
    async def _http_error(_: Request, exc: StarletteHTTPException) -> JSONResponse:
        code = {
            400: "bad_request", 401: "unauthorized", 403: "forbidden", 404: "not_found",
            405: "method_not_allowed", 413: "payload_too_large",
        }
        return _json(
            exc.status_code,
            ErrorBody(code=code.get(exc.status_code, "http_error"), message=str(exc.detail)),
            headers=getattr(exc, "headers", None),
        )

    @app.exception_handler(OperationalError)
    async def _database_unavailable(_: Request, exc: OperationalError) -> JSONResponse:
        # A lost connection (a restarting database) invalidates the pool, so the next
        # request reconnects; this one is told to retry instead of getting a 500.
        log.warning("database unavailable: %s", exc.orig)
        body = ErrorBody(code="unavailable", message="the database is unavailable right now; retry")
        return _json(503, body, headers={"Retry-After": "1"})

    @app.exception_handler(Exception)
    async def _unexpected(_: Request, exc: Exception) -> JSONResponse:
        log.exception("unhandled error", exc_info=exc)
        return _json(500, ErrorBody(code="internal_error", message="internal server error"))
