"""The migrations build, tear down and rebuild the schema on PostgreSQL and SQLite, and the
result matches the ORM models."""

from __future__ import annotations

import pytest
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import create_engine, inspect

from service.db.base import Base
from service.db.migrate import downgrade_to_base, upgrade_to_head
from service.testing.stack import fresh_database

pytestmark = pytest.mark.integration


def _round_trip(sync_url: str) -> None:
    upgrade_to_head(sync_url)
    downgrade_to_base(sync_url)
    engine = create_engine(sync_url)
    assert set(inspect(engine).get_table_names()) <= {"alembic_version"}
    upgrade_to_head(sync_url)
    with engine.connect() as connection:
        differences = compare_metadata(MigrationContext.configure(connection), Base.metadata)
    engine.dispose()
    assert differences == []


def test_migrations_round_trip_on_postgresql():
    with fresh_database() as url:
        _round_trip(url.replace("postgresql://", "postgresql+psycopg://"))


def test_migrations_round_trip_on_sqlite(tmp_path):
    _round_trip(f"sqlite+pysqlite:///{tmp_path}/round-trip.db")
