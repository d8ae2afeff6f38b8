from __future__ import annotations

from pydantic import BaseModel, Field


class Health(BaseModel):
    status: str


class ServingStatus(BaseModel):
    """What this process serves from memory, and how it keeps in step with the database."""

    users: int = Field(description="Users whose ratings this process holds in memory.")
    movies: int = Field(description="Movies in this process's catalogue.")
    resyncs: int = Field(description="Full reloads after a gap in the change feed, since the process started.")
    feed_connected: bool | None = Field(description="Whether the change feed is connected (None: one process, no feed).")
    loaded_at: float | None = Field(description="Unix time of the last full load from the database.")


class Readiness(BaseModel):
    ready: bool
    database: bool
    broker: bool | None
    model_version: int | None
    active_version: int | None
    model_loaded: bool
    detail: str | None = None
    serving: ServingStatus | None = None
