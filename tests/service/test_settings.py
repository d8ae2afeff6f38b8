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


@pytest.mark.parametrize("value", ["0 3 * * 0", "*/15 * * * 1-5", "30", "2.5", " 3600 "])
def test_the_retrain_schedule_is_a_cron_expression_or_seconds(monkeypatch, tmp_path, value):
    from celery.schedules import crontab

    from service.core.schedules import retrain_schedule

    monkeypatch.chdir(tmp_path)
    settings = Settings(_env_file=None, retrain_schedule=value)
    schedule = retrain_schedule(settings.retrain_schedule)
    if len(value.split()) == 5:
        minute, hour, day_of_month, month, day_of_week = value.split()  # cron's order, not crontab()'s
        assert schedule == crontab(minute=minute, hour=hour, day_of_month=day_of_month, month_of_year=month,
                                   day_of_week=day_of_week)
    else:
        assert schedule == float(value)


@pytest.mark.parametrize(("value", "says"), [
    ("0 3 * *", "4 fields"),
    ("61 3 * * 0", "not a valid cron expression: Invalid end range: 61 > 59"),
    ("0 3 * * funday", "not a valid cron expression"),
    ("0", "at least 1 s"),
    ("-30", "at least 1 s"),
    ("nan", "at least 1 s"),
    ("weekly", "1 fields"),
])
def test_a_retrain_schedule_beat_cannot_run_is_refused_naming_the_setting(monkeypatch, tmp_path, value, says):
    monkeypatch.chdir(tmp_path)
    with pytest.raises(ValidationError, match="RETRAIN_SCHEDULE") as refused:
        Settings(_env_file=None, retrain_schedule=value)
    assert says in str(refused.value)


def test_the_reaper_interval_is_bounded(monkeypatch, tmp_path):
    monkeypatch.chdir(tmp_path)
    assert Settings(_env_file=None).reaper_interval_seconds == 60
    assert Settings(_env_file=None, reaper_interval_seconds="2").reaper_interval_seconds == 2
    for value in ("0", "0.5", "100000", "soon"):
        with pytest.raises(ValidationError, match="reaper_interval_seconds"):
            Settings(_env_file=None, reaper_interval_seconds=value)


def test_spark_settings_are_checked_at_start(monkeypatch, tmp_path):
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("SPARK_CONF", '{"spark.driver.memory": "8g", "spark.executor.cores": 4}')
    settings = Settings(_env_file=None)
    assert settings.spark_conf == {"spark.driver.memory": "8g", "spark.executor.cores": "4"}
    assert settings.spark_master_url == "local[*]" and settings.spark_snapshot_url == "./var/spark-snapshots"
    monkeypatch.setenv("SPARK_CONF", '{"driver.memory": "8g"}')
    with pytest.raises(ValidationError, match="SPARK_CONF keys must start with 'spark.'"):
        Settings(_env_file=None)
    monkeypatch.setenv("SPARK_CONF", '["spark.driver.memory"]')
    with pytest.raises(ValidationError, match="SPARK_CONF must be a JSON object"):
        Settings(_env_file=None)
    monkeypatch.delenv("SPARK_CONF")
    with pytest.raises(ValidationError, match="spark_master_url"):
        Settings(_env_file=None, spark_master_url="  ")
