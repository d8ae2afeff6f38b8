from __future__ import annotations

from pydantic import BaseModel


class Health(BaseModel):
    status: str


class Readiness(BaseModel):
    ready: bool
    database: bool
    broker: bool | None
    model_version: int | None
    active_version: int | None
    model_loaded: bool
    detail: str | None = None
