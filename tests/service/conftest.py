"""Service unit tests: a migrated SQLite database per test, the app in process, the
in-process worker, and httpx talking ASGI.

A module marked ``every_database`` runs each test on SQLite and again on a fresh
PostgreSQL database: the deployment's database, where locking, types and SQL differ."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator

import httpx
import pytest

from recsys_core.data import load_movielens
from service.core.config import get_settings
from service.db.session import sync_session_factory
from service.importer import import_dataset
from service.testing.stack import fresh_database
from tests.scenario import ADMIN, CLIENT, FAST, train, wait_for_active

BACKENDS = ("sqlite", "postgresql")


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    # Only marked modules pay for the second backend; the rest keep their ids and time.
    if "database_url" in metafunc.fixturenames and metafunc.definition.get_closest_marker("every_database"):
        metafunc.parametrize("database_url", BACKENDS, indirect=True)


@pytest.fixture
def database_url(request: pytest.FixtureRequest, tmp_path) -> Iterator[str]:
    """The test's own empty database: SQLite in its tmp folder unless parametrized."""
    if getattr(request, "param", "sqlite") == "sqlite":
        yield f"sqlite:///{tmp_path}/recsys.db"
        return
    with fresh_database() as url:
        yield url


@pytest.fixture
def settings_env(database_url, monkeypatch) -> Iterator[str]:
    monkeypatch.setenv("DATABASE_URL", database_url)
    monkeypatch.setenv("WORKER_MODE", "inprocess")
    monkeypatch.setenv("ENVIRONMENT", "test")
    monkeypatch.setenv("ADMIN_API_KEY", ADMIN["X-API-Key"])
    monkeypatch.setenv("CLIENT_API_KEY", CLIENT["X-API-Key"])
    monkeypatch.setenv("MODEL_POLL_SECONDS", "0.2")
    get_settings.cache_clear()
    sync_session_factory.cache_clear()
    from service.db.migrate import upgrade_to_head

    upgrade_to_head(get_settings().sync_database_url)
    yield database_url
    sync_session_factory().kw["bind"].dispose()
    get_settings.cache_clear()
    sync_session_factory.cache_clear()


@pytest.fixture
async def app(settings_env):
    from service.api.main import create_app

    application = create_app(get_settings())
    async with application.router.lifespan_context(application):
        yield application


@pytest.fixture
async def client(app) -> AsyncIterator[httpx.AsyncClient]:
    transport = httpx.ASGITransport(app=app, raise_app_exceptions=False)
    async with httpx.AsyncClient(transport=transport, base_url="http://test") as http:
        yield http


@pytest.fixture
async def trained_app(app, client, settings_env, ml100k_dir):
    """ml-100k imported behind the API's back (then reloaded), a fast model active."""
    import_dataset(load_movielens(ml100k_dir))
    await app.state.serving.reload()
    job = await train(client, FAST)
    await wait_for_active(client, job["model_version"])
    return app, client
