"""How an import answers when PostgreSQL reports a deadlock or a lock wait timeout: one
retry of the whole import, then a clean 409 (never the generic 503 or a 500)."""

from __future__ import annotations

import io
import zipfile

import psycopg
import pytest
from sqlalchemy.exc import OperationalError

import service.importer as importer
from tests.scenario import ADMIN

ZIP = {**ADMIN, "content-type": "application/zip"}


def tiny_archive() -> bytes:
    flags = "|".join(["0"] * 8 + ["1"] + ["0"] * 10)
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        archive.writestr("ml-100k/u.data", "1\t1\t4\t881250949\n")
        archive.writestr("ml-100k/u.item", f"1|Film (1995)|01-Jan-1995||http://x|{flags}\n")
    return buffer.getvalue()


def failing_first(monkeypatch, error: type[psycopg.Error], times: int) -> list[int]:
    """Make the first ``times`` attempts fail as PostgreSQL would with ``error``."""
    calls = []
    real = importer._store

    def store(*args, **kwargs):
        calls.append(1)
        if len(calls) <= times:
            raise OperationalError("INSERT ...", {}, error("simulated"))
        return real(*args, **kwargs)

    monkeypatch.setattr(importer, "_store", store)
    return calls


async def test_a_deadlock_is_retried_once(client, monkeypatch):
    calls = failing_first(monkeypatch, psycopg.errors.DeadlockDetected, 1)
    response = await client.post("/api/import/movielens", content=tiny_archive(), headers=ZIP)
    assert response.status_code == 200, response.text
    assert len(calls) == 2


@pytest.mark.parametrize(
    ("error", "attempts", "message"),
    [
        (psycopg.errors.DeadlockDetected, 2, "the import conflicted with concurrent writes twice; retry"),
        (psycopg.errors.SerializationFailure, 2, "the import conflicted with concurrent writes twice; retry"),
        (psycopg.errors.LockNotAvailable, 1, "another import is running; retry once it has finished"),
    ],
)
async def test_conflicts_that_persist_are_a_409_to_retry(client, monkeypatch, error, attempts, message):
    calls = failing_first(monkeypatch, error, 2)
    response = await client.post("/api/import/movielens", content=tiny_archive(), headers=ZIP)
    assert response.status_code == 409, response.text
    assert response.json()["error"] == {"code": "conflict", "message": message, "field": None}
    assert len(calls) == attempts
