"""Archive import over HTTP (all or nothing) and request size limits."""

from __future__ import annotations

import hashlib
import io
import zipfile

import pytest
from sqlalchemy import text

from service.db.session import sync_session
from tests.scenario import ADMIN, CLIENT

ZIP = {**ADMIN, "content-type": "application/zip"}


def small_ml100k_zip(ml100k_dir, n_ratings: int = 2000) -> bytes:
    buffer = io.BytesIO()
    lines = (ml100k_dir / "u.data").read_bytes().splitlines(keepends=True)[:n_ratings]
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        archive.writestr("ml-100k/u.data", b"".join(lines))
        for name in ("u.item", "u.genre"):
            archive.write(ml100k_dir / name, f"ml-100k/{name}")
    return buffer.getvalue()


def source_counts(ml100k_dir, n_ratings: int = 2000) -> tuple[int, int]:
    """Read straight from the files: the (movie, genre) flags set in u.item, leaving out
    u.genre's "unknown" (not a genre), and the distinct users of the first ratings."""
    names = [line.split("|")[0] for line in (ml100k_dir / "u.genre").read_text("latin-1").splitlines() if line]
    genre_rows = 0
    for line in (ml100k_dir / "u.item").read_text("latin-1").splitlines():
        flags = line.split("|")[-len(names):]
        genre_rows += sum(flag == "1" and name != "unknown" for name, flag in zip(names, flags, strict=True))
    lines = (ml100k_dir / "u.data").read_text().splitlines()[:n_ratings]
    return genre_rows, len({line.split("\t")[0] for line in lines})


def snapshot() -> str:
    """A digest of every table an import writes."""
    digest = hashlib.sha256()
    with sync_session() as session:
        for query in ("SELECT user_id, movie_id, rating, timestamp FROM ratings ORDER BY 1, 2",
                      "SELECT id, title, year FROM movies ORDER BY 1",
                      "SELECT movie_id, genre FROM movie_genres ORDER BY 1, 2"):
            for row in session.execute(text(query)):
                digest.update(repr(tuple(row)).encode())
    return digest.hexdigest()


async def test_import_then_corrupt_archives_leave_the_database_as_it_was(client, ml100k_dir):
    valid = small_ml100k_zip(ml100k_dir)
    imported = await client.post("/api/import/movielens", content=valid, headers=ZIP)
    assert imported.status_code == 200, imported.text
    genre_rows, users = source_counts(ml100k_dir)
    assert (genre_rows, users) == (2891, 296)  # the archive as the figures below were worked from
    assert imported.json() == {
        "dataset": "ml-100k", "movies": 1682, "existing_movies": 0, "movies_policy": "keep",
        "genres": genre_rows, "ratings": 2000, "users_changed": users, "users_refolded": 0,
    }
    with sync_session() as session:  # the counts say what was written
        assert session.scalar(text("SELECT count(*) FROM movie_genres")) == genre_rows
        assert session.scalar(text("SELECT count(DISTINCT user_id) FROM ratings")) == users
    before = snapshot()

    bigger = small_ml100k_zip(ml100k_dir, 5000)
    truncated = bigger[: len(bigger) // 2]
    corrupted = bytearray(bigger)
    middle = len(corrupted) // 3
    corrupted[middle : middle + 64] = bytes(64)
    bad_rows = io.BytesIO()
    with zipfile.ZipFile(bad_rows, "w") as archive:
        archive.writestr("ml-100k/u.data", b"1\t1\t5\t881250949\n2\tnot-a-movie\t3\t881250949\n")
        archive.write(ml100k_dir / "u.item", "ml-100k/u.item")
    unknown_movie = io.BytesIO()
    with zipfile.ZipFile(unknown_movie, "w") as archive:
        archive.writestr("ml-100k/u.data", b"1\t1\t5\t881250949\n1\t99999\t3\t881250949\n")
        archive.write(ml100k_dir / "u.item", "ml-100k/u.item")

    for name, body, field in [
        ("truncated", truncated, "body"),
        ("corrupted", bytes(corrupted), None),  # where the damage lands decides what is named
        ("bad rows", bad_rows.getvalue(), "u.data:2:movie_id"),
        ("unknown movie", unknown_movie.getvalue(), "u.data:2:movie_id"),
        ("not a zip", b"hello", "body"),
    ]:
        response = await client.post("/api/import/movielens", content=body, headers=ZIP)
        assert response.status_code == 422, (name, response.text)
        if field is not None:
            assert response.json()["error"]["field"] == field, (name, response.text)
        assert snapshot() == before, f"{name} archive changed the database"


async def test_import_needs_the_admin_key(client, ml100k_dir):
    body = small_ml100k_zip(ml100k_dir, 10)
    assert (await client.post("/api/import/movielens", content=body)).status_code == 401
    assert (await client.post("/api/import/movielens", content=body, headers={**CLIENT})).status_code == 403


async def test_oversized_bodies_are_refused_before_parsing(client, app):
    limit = app.state.settings.max_body_bytes
    big = b'{"ratings": [' + b" " * (limit + 1) + b"]}"
    response = await client.post("/api/ratings/batch", content=big, headers={**CLIENT, "content-type": "application/json"})
    assert response.status_code == 413 and response.json()["error"]["code"] == "payload_too_large"

    async def chunks():
        for _ in range(limit // 65536 + 2):
            yield b" " * 65536

    streamed = await client.post("/api/ratings", content=chunks(), headers={**CLIENT, "content-type": "application/json"})
    assert streamed.status_code == 413 and streamed.json()["error"]["code"] == "payload_too_large"


async def test_archive_uploads_have_their_own_larger_limit(settings_env, ml100k_dir, monkeypatch):
    import httpx

    from service.api.main import create_app
    from service.core.config import get_settings

    monkeypatch.setenv("MAX_BODY_BYTES", "20000")
    monkeypatch.setenv("MAX_IMPORT_BYTES", "400000")
    get_settings.cache_clear()
    app = create_app(get_settings())
    body = small_ml100k_zip(ml100k_dir, 3000)
    assert 20000 < len(body) < 400000
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://test") as http:
            accepted = await http.post("/api/import/movielens", content=body, headers=ZIP)
            assert accepted.status_code == 200, accepted.text
            too_big = await http.post("/api/import/movielens", content=body + bytes(400_000), headers=ZIP)
            assert too_big.status_code == 413
            json_too_big = await http.post("/api/ratings/batch", content=b" " * 30000, headers=CLIENT)
            assert json_too_big.status_code == 413


@pytest.mark.parametrize(("path", "field"), [
    ("/api/ml/recommendations/1?n=0", "n"),
    ("/api/ml/recommendations/1?n=101", "n"),
    ("/api/movies?page_size=101", "page_size"),
    ("/api/movies?page=0", "page"),
    ("/api/ml/training-status?limit=1000", "limit"),
    ("/api/ml/recommendations/99999999999999999999", "user_id"),
    ("/api/ml/recommendations/abc", "user_id"),
])
async def test_caps_and_wrong_types_name_the_field(client, path, field):
    response = await client.get(path)
    assert response.status_code == 422, response.text
    assert response.json()["error"]["field"] == field


async def test_reads_can_require_a_key(client, app):
    app.state.settings = app.state.settings.model_copy(update={"require_key_for_reads": True})
    assert (await client.get("/api/movies")).status_code == 401
    assert (await client.get("/api/movies", headers={"X-API-Key": "wrong"})).status_code == 403
    assert (await client.get("/api/movies", headers=CLIENT)).status_code == 200
    assert (await client.get("/health")).status_code == 200
