"""Settings a new user gets wrong are refused at start, and the embedded keys are made once."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from service.core.config import Settings


def test_the_celery_mode_on_sqlite_is_refused_at_start(monkeypatch, tmp_path):
    monkeypatch.chdir(tmp_path)  # no stray .env file
    with pytest.raises(ValidationError, match="WORKER_MODE=celery needs a PostgreSQL DATABASE_URL"):
        Settings(_env_file=None, worker_mode="celery", database_url=f"sqlite:///{tmp_path}/x.db")
    assert Settings(_env_file=None, worker_mode="inprocess", database_url=f"sqlite:///{tmp_path}/x.db").is_sqlite


def test_a_postgres_url_is_taken_as_postgresql(monkeypatch, tmp_path):
    monkeypatch.chdir(tmp_path)
    settings = Settings(_env_file=None, database_url="postgres://root@127.0.0.1:5432/test")
    assert settings.sync_database_url == "postgresql+psycopg://root@127.0.0.1:5432/test"
    with pytest.raises(ValidationError, match="DATABASE_URL must be"):
        Settings(_env_file=None, database_url="mysql://root@127.0.0.1/test")


def test_the_embedded_server_makes_each_key_once_and_reuses_it(monkeypatch, tmp_path, capsys):
    from service import cli

    monkeypatch.chdir(tmp_path)
    admin, client = cli._local_key("ADMIN_API_KEY"), cli._local_key("CLIENT_API_KEY")
    out = capsys.readouterr().out
    assert f"Generated admin API key (stored in var/admin-api-key, shown only this once):\n\n    {admin}" in out
    assert f"Generated client API key (stored in var/client-api-key, shown only this once):\n\n    {client}" in out
    assert admin != client and len(client) >= 32
    assert (tmp_path / "var" / "client-api-key").stat().st_mode & 0o777 == 0o600
    assert (cli._local_key("ADMIN_API_KEY"), cli._local_key("CLIENT_API_KEY")) == (admin, client)
    assert capsys.readouterr().out == ""  # shown only once
