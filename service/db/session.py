"""Engines and session factories: async for the API, sync for workers and the CLI."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from functools import lru_cache
from pathlib import Path

from sqlalchemy import Engine, create_engine, event
from sqlalchemy.ext.asyncio import AsyncEngine, async_sessionmaker, create_async_engine
from sqlalchemy.orm import Session, sessionmaker

from service.core.config import Settings, get_settings


def prepare_sqlite_file(url: str) -> None:
    """SQLite creates the file but not its folder."""
    path = url.split("///", 1)[1] if "///" in url else ""
    if path and path != ":memory:":
        Path(path).parent.mkdir(parents=True, exist_ok=True)


def _sqlite_pragmas(dbapi_connection, _record) -> None:
    # WAL lets the in-process worker write while the API reads; foreign keys are off by
    # default in SQLite and the schema relies on them.
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA busy_timeout=30000")
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.close()


def build_async_engine(settings: Settings) -> AsyncEngine:
    if settings.is_sqlite:
        prepare_sqlite_file(settings.database_url)
        engine = create_async_engine(settings.async_database_url)
        event.listen(engine.sync_engine, "connect", _sqlite_pragmas)
        return engine
    return create_async_engine(
        settings.async_database_url, pool_size=20, max_overflow=10
    )


def build_sync_engine(settings: Settings) -> Engine:
    if settings.is_sqlite:
        prepare_sqlite_file(settings.database_url)
        engine = create_engine(settings.sync_database_url)
        event.listen(engine, "connect", _sqlite_pragmas)
        return engine
    return create_engine(settings.sync_database_url, pool_size=5, pool_pre_ping=True)


@lru_cache
def sync_session_factory() -> sessionmaker[Session]:
    return sessionmaker(build_sync_engine(get_settings()), expire_on_commit=False)


@contextmanager
def sync_session() -> Iterator[Session]:
    """A unit of work for workers and the CLI: commit on success, roll back on error."""
    session = sync_session_factory()()
    try:
        yield session
        session.commit()
    except BaseException:
        session.rollback()
        raise
    finally:
        session.close()


def async_session_factory(engine: AsyncEngine) -> async_sessionmaker:
    return async_sessionmaker(engine, expire_on_commit=False)
