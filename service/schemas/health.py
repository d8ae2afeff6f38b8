from __future__ import annotations

from pydantic import BaseModel, Field


class Health(BaseModel):
    status: str = Field(description='Always "ok": an answer at all is the signal.')


class ServingStatus(BaseModel):
    """What this process serves from memory, and how it keeps in step with the database."""

    users: int = Field(description="Users whose ratings this process holds in memory.")
    movies: int = Field(description="Movies in this process's catalogue.")
    resyncs: int = Field(description="Full reloads after a gap in the change feed, since the process started.")
    feed_connected: bool | None = Field(description="Whether the change feed is connected (None: one process, no feed).")
    loaded_at: float | None = Field(description="Unix time of the last full load from the database.")


class Readiness(BaseModel):
    ready: bool = Field(description=(
        "Database up, broker up (if any), and a model loaded here if one is active. A process "
        "still serving the previous version during a switch is ready; `detail` says so."
    ))
    database: bool = Field(description="Whether the database answered within 2 seconds.")
    broker: bool | None = Field(description="Whether the Celery broker answers; null with the in-process worker.")
    model_version: int | None = Field(description="The version this process serves; null before the first model.")
    active_version: int | None = Field(description="The version marked active in the database.")
    model_loaded: bool = Field(description="Whether this process has a model loaded at all.")
    detail: str | None = Field(default=None, description="Why the active version is not (yet) the one served here, when it is not.")
    serving: ServingStatus | None = Field(default=None, description="What this process holds in memory.")
