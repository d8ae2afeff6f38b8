"""Optuna's RDB storage, in the service's database but apart from its tables.

Optuna creates ``studies``, ``trials``, ``version_info`` and runs its own Alembic with an
``alembic_version`` table: in our schema that table would be ours, and each Alembic would
take the other's revision for its own. So on PostgreSQL Optuna lives in the ``optuna``
schema (migration 0007 creates it; the connection's search_path points there), and on
SQLite in a file of its own next to the database."""

from __future__ import annotations

import warnings
from functools import lru_cache

import optuna
from sqlalchemy import create_engine, text

from service.core.config import Settings

OPTUNA_SCHEMA = "optuna"

# Optuna logs every trial at INFO; the service logs what it decides itself.
optuna.logging.set_verbosity(optuna.logging.WARNING)


def storage_url(settings: Settings) -> str:
    url = settings.sync_database_url
    if settings.is_sqlite:
        base = url.rsplit(".db", 1)[0] if url.endswith(".db") else url
        return f"{base}-optuna.db"
    return url


def _engine_kwargs(sqlite: bool) -> dict[str, object]:
    if sqlite:
        # Trials run in the API process's worker thread, and the API reads them too.
        return {"connect_args": {"timeout": 30}}
    return {"connect_args": {"options": f"-csearch_path={OPTUNA_SCHEMA}"}, "pool_pre_ping": True, "pool_size": 2}


def _ensure_schema(database_url: str) -> None:
    """The migration creates it; a database migrated before 0007 may lack it."""
    engine = create_engine(database_url)
    try:
        with engine.begin() as connection:
            connection.execute(text(f"CREATE SCHEMA IF NOT EXISTS {OPTUNA_SCHEMA}"))
    finally:
        engine.dispose()


@lru_cache
def _storage(database_url: str, url: str, sqlite: bool, heartbeat: int, grace: int) -> optuna.storages.RDBStorage:
    if not sqlite:
        _ensure_schema(database_url)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", optuna.exceptions.ExperimentalWarning)  # the heartbeat, as in runner.py
        return optuna.storages.RDBStorage(
            url, engine_kwargs=_engine_kwargs(sqlite), heartbeat_interval=heartbeat, grace_period=grace,
        )


def get_storage(settings: Settings) -> optuna.storages.RDBStorage:
    """One storage (one small pool) per process and database."""
    return _storage(settings.sync_database_url, storage_url(settings), settings.is_sqlite,
                    settings.tune_heartbeat_seconds, settings.tune_grace_seconds)
