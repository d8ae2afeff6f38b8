"""Responses written straight from a model by pydantic's serializer.

FastAPI turns a returned model into a dict, validates that dict against the
``response_model`` again, converts it to JSON-ready values and then encodes it with the
standard ``json`` module. The hot endpoints build their models from trusted values, so
they return the bytes pydantic's (Rust) serializer writes in one step; ``response_model``
stays on the route for the OpenAPI schema.
"""

from __future__ import annotations

from fastapi import Response
from pydantic import BaseModel


def json_response(model: BaseModel, status_code: int = 200) -> Response:
    return Response(model.__pydantic_serializer__.to_json(model), status_code=status_code,
                    media_type="application/json")
