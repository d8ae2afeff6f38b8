"""Regression tests for the MovieLens archive import on the real stack (PostgreSQL,
Redis, a Celery worker, uvicorn):

- rows the ratings API refuses (out-of-scale or infinite ratings, absurd timestamps,
  ids out of range, NUL or over-long titles and genres) are one clean 422 naming
  file, line and field, and nothing is written; the CLI says the same and fails;
- a zip bomb is refused from the sizes it declares, and no upload folder outlives
  its request, not even when the API is killed mid-upload;
- concurrent imports of the same movies in different orders queue instead of
  deadlocking (never a 503), and leave one archive's data, not a mix;
- an import refolds the users whose ratings it changed, and keeps existing movie
  titles unless asked to overwrite them.

Archives are built here from synthetic rows; no MovieLens data is committed.
"""

from __future__ import annotations

import asyncio
import hashlib
import io
import os
import random
import signal
import socket
import struct
import zipfile
from collections.abc import Iterator
from pathlib import Path

import httpx
import numpy as np
import psycopg
import pytest

from recsys_core.model import MatrixFactorization
from service.testing.stack import Stack, launch_stack, wait_until
from tests.conftest import data_dir
from tests.scenario import ADMIN, CLIENT, train, wait_for_active

pytestmark = pytest.mark.integration

REDIS_DB = 5  # 0: private redis-server, 10-13: other integration modules and benches, 14: bench/load.py, 15: browser
ZIP = {**ADMIN, "content-type": "application/zip"}
N_GENRES = 19  # ml-100k's u.genre, which the reader falls back to


@pytest.fixture(scope="module")
def uploads(tmp_path_factory) -> Path:
    return tmp_path_factory.mktemp("uploads")


@pytest.fixture(scope="module")
def stack(tmp_path_factory, uploads) -> Iterator[Stack]:
    env = {"IMPORT_TEMP_DIR": str(uploads)}
    with launch_stack(tmp_path_factory.mktemp("import-stack"), REDIS_DB, data_dir() / "ml-100k", extra_env=env) as live:
        yield live


@pytest.fixture
async def client(stack) -> httpx.AsyncClient:
    async with httpx.AsyncClient(base_url=stack.api_urls[0], timeout=120) as http:
        yield http


def db(stack: Stack) -> psycopg.Connection:
    return psycopg.connect(stack.env["DATABASE_URL"], autocommit=True)


def digest(stack: Stack) -> str:
    """Every table an import writes (or could refold into)."""
    sha = hashlib.sha256()
    with db(stack) as conn:
        for query in ("SELECT user_id, movie_id, rating, timestamp FROM ratings ORDER BY 1, 2",
                      "SELECT id, title, year FROM movies ORDER BY 1",
                      "SELECT movie_id, genre FROM movie_genres ORDER BY 1, 2",
                      "SELECT user_id, model_version, state FROM user_states ORDER BY 1"):
            for row in conn.execute(query):
                sha.update(repr(tuple(row)).encode())
    return sha.hexdigest()


# --------------------------------------------------------------------------- archives


def u_item(movies: dict[int, str], genre: int = 8) -> bytes:
    """Synthetic u.item lines: id|title|release|video|url|19 genre flags (Drama by default)."""
    flags = ["0"] * N_GENRES
    flags[genre] = "1"
    return b"".join(
        f"{movie_id}|{title}|01-Jan-1995||http://example.org/{movie_id}|{'|'.join(flags)}\n".encode("latin-1")
        for movie_id, title in movies.items()
    )


def ml100k_zip(
    ratings: list[str], movies: dict[int, str] | None = None, *, items: bytes | None = None, genres: bytes | None = None
) -> bytes:
    movies = movies or {1: "Film one (1995)", 2: "Film two (1996)", 3: "Film three (1997)"}
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        archive.writestr("ml-100k/u.data", "".join(line + "\n" for line in ratings))
        archive.writestr("ml-100k/u.item", items or u_item(movies))
        if genres is not None:
            archive.writestr("ml-100k/u.genre", genres)
    return buffer.getvalue()


def csv_zip(ratings_csv: str, movies_csv: str) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        archive.writestr("ml-latest-small/ratings.csv", ratings_csv)
        archive.writestr("ml-latest-small/movies.csv", movies_csv)
    return buffer.getvalue()


GOOD = "1\t1\t4\t881250949"
CSV_MOVIES = "movieId,title,genres\n1,Film one (1995),Drama\n2,Film two (1996),Comedy\n"
LONG_GENRE = "G" * 101


def rated(rating: str, line: int = 3) -> list[str]:
    """u.data whose line ``line`` rates ``rating``, after good lines."""
    return [GOOD, "2\t2\t3\t881250949"][: line - 1] + [f"3\t3\t{rating}\t881250949"]


BAD_ARCHIVES = [
    ("rating 99", ml100k_zip(rated("99")), "u.data:3:rating",
     "u.data line 3: rating must be between 0.5 and 5.0, got 99.0"),
    ("rating -5", ml100k_zip(rated("-5")), "u.data:3:rating",
     "u.data line 3: rating must be between 0.5 and 5.0, got -5.0"),
    ("rating 0", ml100k_zip(rated("0", 2)), "u.data:2:rating",
     "u.data line 2: rating must be between 0.5 and 5.0, got 0.0"),
    ("rating 1e308", ml100k_zip(rated("1e308")), "u.data:3:rating",
     "u.data line 3: rating must be between 0.5 and 5.0, got 1e+308"),
    ("rating inf", ml100k_zip(rated("inf")), "u.data:3:rating", "u.data line 3: rating must be a finite number, got inf"),
    ("rating nan", ml100k_zip(rated("nan")), "u.data:3:rating", "u.data line 3: rating is missing or not a number"),
    ("timestamp", ml100k_zip([GOOD, "2\t2\t3\t-99999999999"]), "u.data:2:timestamp",
     "u.data line 2: timestamp must be Unix seconds from 0 (1970) to "),
    ("user 0", ml100k_zip([GOOD, "0\t2\t3\t881250949"]), "u.data:2:user_id",
     "u.data line 2: user_id must be an integer from 1 to 9223372036854775807, got 0"),
    ("movie 2**63", ml100k_zip([GOOD, f"2\t{2**63}\t3\t881250949"]), "u.data:2:movie_id",
     "u.data line 2: movie_id must fit in 64 bits (at most 9223372036854775807), got '9223372036854775808'"),
    ("unknown movie", ml100k_zip([GOOD, "2\t99999\t3\t881250949"]), "u.data:2:movie_id",
     "u.data line 2: movie 99999 is not in u.item"),
    ("five fields", ml100k_zip([GOOD, "2\t2\t3\t881250949\t7"]), "u.data:2",
     "u.data line 2: has more fields than the format"),
    ("NUL title", ml100k_zip([GOOD], {1: "Film one (1995)", 2: "Film\x00two (1996)"}), "u.item:2:title",
     "u.item line 2: title must not contain a NUL character"),
    ("long title", ml100k_zip([GOOD], {1: "Film one (1995)", 2: "T" * 501}), "u.item:2:title",
     "u.item line 2: title must be at most 500 characters, got 501"),
    ("NUL genre", ml100k_zip([GOOD], items=b"1|Film one (1995)|x||u|0|1\n", genres=b"unknown|0\nAct\x00ion|1\n"),
     "u.item:1:genres", "u.item line 1: genre must not contain a NUL character"),
    ("csv rating line", csv_zip("userId,movieId,rating,timestamp\n1,1,4.0,964982703\n1,2,7.0,964982703\n", CSV_MOVIES),
     "ratings.csv:3:rating", "ratings.csv line 3: rating must be between 0.5 and 5.0, got 7.0"),
    ("csv long genre", csv_zip("userId,movieId,rating,timestamp\n1,1,4.0,964982703\n",
                               f"movieId,title,genres\n1,Film one (1995),Drama\n2,Film two (1996),Comedy|{LONG_GENRE}\n"),
     "movies.csv:3:genres", "movies.csv line 3: genre must be at most 100 characters, got 101"),
    ("csv NUL genre", csv_zip("userId,movieId,rating,timestamp\n1,1,4.0,964982703\n",
                              "movieId,title,genres\n1,Film one (1995),Dra\x00ma\n"),
     "movies.csv:2:genres", "movies.csv line 2: genre must not contain a NUL character"),
    ("csv word", csv_zip("userId,movieId,rating,timestamp\n1,1,four,964982703\n", CSV_MOVIES),
     "ratings.csv:2:rating", "ratings.csv line 2: rating must be a number, got 'four'"),
]


@pytest.mark.parametrize(("name", "body", "field", "message"), BAD_ARCHIVES, ids=[case[0] for case in BAD_ARCHIVES])
async def test_a_bad_row_is_one_clean_422_naming_file_line_and_field_and_nothing_is_written(
    stack, client, uploads, name, body, field, message
):
    before = digest(stack)
    response = await client.post("/api/import/movielens", content=body, headers=ZIP)
    assert response.status_code == 422, response.text
    error = response.json()["error"]
    assert error["field"] == field
    assert error["message"].startswith(message), error["message"]
    # Clean for clients: no server path, no Python or numpy repr.
    assert str(uploads) not in error["message"] and "/tmp" not in error["message"]
    assert not any(word in error["message"] for word in ("np.", "Error", "Traceback", "upload.zip"))
    assert digest(stack) == before
    assert list(uploads.iterdir()) == []
    for path in ("/api/stats", "/api/users/3/ratings", "/api/ml/recommendations/3"):
        assert (await client.get(path)).status_code == 200, path


def test_the_cli_refuses_the_same_archive_with_the_same_message(stack, tmp_path):
    archive = tmp_path / "bad.zip"
    archive.write_bytes(ml100k_zip(rated("99")))
    before = digest(stack)
    result = stack.run("import-movielens", str(archive))
    assert result.returncode != 0
    assert "u.data line 3: rating must be between 0.5 and 5.0, got 99.0 (field u.data:3:rating)" in result.stderr
    assert digest(stack) == before


# --------------------------------------------------------------------------- zip bombs and upload folders


def with_declared_size(body: bytes, member: str, size: int) -> bytes:
    """Rewrite the uncompressed size a member declares, in its local and central headers."""
    data = bytearray(body)
    with zipfile.ZipFile(io.BytesIO(body)) as archive:
        struct.pack_into("<I", data, archive.getinfo(member).header_offset + 22, size)
    position = 0
    while (position := data.find(b"PK\x01\x02", position)) != -1:
        name_length = struct.unpack_from("<H", data, position + 28)[0]
        if data[position + 46 : position + 46 + name_length].decode() == member:
            struct.pack_into("<I", data, position + 24, size)
        position += 4
    return bytes(data)


def vm_hwm_kib(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1])
    raise AssertionError("no VmHWM")


async def test_zip_bombs_are_refused_before_they_inflate(stack, client, uploads):
    api_pid = stack.processes[1].pid  # launch_stack starts the worker, then this uvicorn (one process)
    before, peak_before = digest(stack), vm_hwm_kib(api_pid)
    line = "1\t1\t4\t881250949\n"
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        archive.writestr("ml-100k/u.data", line * (64 * 2**20 // len(line)))  # 64 MiB from ~130 KB
        archive.writestr("ml-100k/u.item", u_item({1: "Film one (1995)"}))
    bomb = buffer.getvalue()
    assert len(bomb) < 200_000
    response = await client.post("/api/import/movielens", content=bomb, headers=ZIP)
    assert response.status_code == 413, response.text
    error = response.json()["error"]
    assert error["code"] == "payload_too_large" and error["field"] == "u.data"
    assert error["message"].startswith("u.data: declares 67108864 bytes from ")
    assert "over the compression ratio limit of 50:1" in error["message"]

    # A header declaring more than MAX_IMPORT_UNCOMPRESSED_BYTES (2 GiB) is refused unread.
    liar = with_declared_size(ml100k_zip([GOOD]), "ml-100k/u.data", 3 * 2**30)
    response = await client.post("/api/import/movielens", content=liar, headers=ZIP)
    assert response.status_code == 413, response.text
    assert response.json()["error"]["message"] == (
        "u.data: declares 3221225472 bytes uncompressed, over the limit of 2147483648"
    )

    assert digest(stack) == before
    assert list(uploads.iterdir()) == []
    assert vm_hwm_kib(api_pid) - peak_before < 100 * 1024  # nothing was inflated into memory


async def test_an_upload_folder_left_by_a_killed_api_is_removed_when_an_api_starts(stack, uploads):
    url = stack.start_api()
    api = stack.processes[-1]
    mine = uploads / f"upload-{os.getpid()}-live"  # a live process's upload: must be kept
    mine.mkdir()
    port = int(url.rsplit(":", 1)[1])
    with socket.create_connection(("127.0.0.1", port)) as upload:
        upload.sendall(
            b"POST /api/import/movielens HTTP/1.1\r\nHost: test\r\n"
            + f"X-API-Key: {ADMIN['X-API-Key']}\r\n".encode()
            + b"Content-Type: application/zip\r\nContent-Length: 200000000\r\n\r\n"
        )
        chunk = bytes(64 * 1024)
        for _ in range(32):
            upload.sendall(chunk)

        def receiving() -> list[Path]:
            return [p for p in uploads.glob(f"upload-{api.pid}-*/upload.zip") if p.stat().st_size > 0]

        wait_until(lambda: bool(receiving()), 30, "the upload to reach its folder")
        left = receiving()[0].parent
        os.killpg(api.pid, signal.SIGKILL)
        api.wait(10)
    assert left.exists()  # nobody cleaned it: the process died mid-request

    stack.start_api()
    assert not left.exists()
    assert mine.exists()
    mine.rmdir()


# --------------------------------------------------------------------------- concurrent imports


def racing_archive(k: int, movie_ids: list[int], users: list[int]) -> bytes:
    order = movie_ids[:]
    random.Random(k).shuffle(order)
    items = b"".join(
        f"{m}|Film {m} from archive {k} (2001)|01-Jan-2001||http://example.org/{m}|{'|'.join('1' if g == 1 + k else '0' for g in range(N_GENRES))}\n".encode()
        for m in order
    )
    lines = [f"{u}\t{m}\t{1 + (k + u + m) % 5}\t{1_000_000_000 + k}" for m in order for u in users]
    random.Random(100 + k).shuffle(lines)
    return ml100k_zip(lines, items=items)


async def test_concurrent_imports_of_the_same_movies_in_different_orders_queue_instead_of_deadlocking(stack, client):
    movie_ids, users = list(range(90_001, 90_401)), list(range(70_001, 70_031))
    archives = [racing_archive(k, movie_ids, users) for k in range(4)]
    statuses = []
    for _ in range(2):
        responses = await asyncio.gather(*[
            client.post("/api/import/movielens", params={"movies": "overwrite"}, content=body, headers=ZIP)
            for body in archives
        ])
        statuses += [r.status_code for r in responses]
        assert all(r.status_code in (200, 409) for r in responses), [(r.status_code, r.text) for r in responses]
    assert statuses.count(200) >= 4, statuses

    # One archive's data throughout, never a mix: the imports did not interleave.
    with db(stack) as conn:
        titles = dict(conn.execute("SELECT id, title FROM movies WHERE id >= 90001 AND id <= 90400").fetchall())
        genres = conn.execute("SELECT movie_id, genre FROM movie_genres WHERE movie_id BETWEEN 90001 AND 90400").fetchall()
        ratings = conn.execute("SELECT user_id, movie_id, rating, timestamp FROM ratings WHERE movie_id >= 90001").fetchall()
    winners = {int(title.rsplit(" ", 1)[1]) for title in titles.values()}
    assert len(titles) == len(movie_ids) and len(winners) == 1, winners
    k = winners.pop()
    genre_of = ["unknown", "Action", "Adventure", "Animation", "Children's"]
    assert sorted(genres) == sorted((m, genre_of[1 + k]) for m in movie_ids)
    assert len(ratings) == len(movie_ids) * len(users)
    assert all(r == 1 + (k + u + m) % 5 and t == 1_000_000_000 + k for u, m, r, t in ratings)


# --------------------------------------------------------------------------- refold and movie titles


async def test_an_import_refolds_the_users_it_changed(stack, client):
    await wait_for_active(client, (await train(client))["model_version"])
    user, target = 1, 50
    rated = {r["movie_id"] for r in (await client.get(f"/api/users/{user}/ratings")).json()}
    fresh = [m for m in range(1, 1683) if m not in rated and m != target][:25]
    posted = await client.post("/api/ratings", json={"user_id": user, "movie_id": fresh[0], "rating": 5.0}, headers=CLIENT)
    assert posted.status_code == 201 and posted.json()["fold_in"]["folded_in"]
    folded = (await client.post("/api/ml/predict", json={"user_id": user, "movie_id": target})).json()["predicted_rating"]

    movies = {m: f"Film {m}" for m in fresh[1:]}
    body = ml100k_zip([f"{user}\t{m}\t1\t881250949" for m in movies], movies)
    imported = await client.post("/api/import/movielens", content=body, headers=ZIP)
    assert imported.status_code == 200, imported.text
    assert imported.json()["users_changed"] == 1 and imported.json()["users_refolded"] == 1
    after = (await client.post("/api/ml/predict", json={"user_id": user, "movie_id": target})).json()

    with db(stack) as conn:
        data = conn.execute(
            "SELECT a.data FROM model_artifacts a JOIN model_versions v USING (version) WHERE v.is_active"
        ).fetchone()[0]
        stored = conn.execute("SELECT movie_id, rating FROM ratings WHERE user_id = %s", (user,)).fetchall()
    model = MatrixFactorization.from_bytes(bytes(data))
    profile = model.profile([m for m, _ in stored], [r for _, r in stored])
    expected = float(model.predict_profiles([profile], [0], [target])[0])
    assert after["predicted_rating"] == pytest.approx(expected, abs=1e-9)
    assert abs(expected - folded) > 0.05  # the imported 1-star ratings do move the prediction
    assert np.isfinite(after["predicted_rating"])


async def test_existing_movie_titles_are_kept_unless_overwrite_is_asked(stack, client):
    original = (await client.get("/api/movies/1")).json()
    body = ml100k_zip([GOOD], {1: "Renamed by an archive (1999)"})
    kept = await client.post("/api/import/movielens", content=body, headers=ZIP)
    assert kept.status_code == 200 and kept.json()["existing_movies"] == 1 and kept.json()["movies_policy"] == "keep"
    assert (await client.get("/api/movies/1")).json()["title"] == original["title"]

    replaced = await client.post("/api/import/movielens", params={"movies": "overwrite"}, content=body, headers=ZIP)
    assert replaced.status_code == 200, replaced.text
    movie = (await client.get("/api/movies/1")).json()
    assert (movie["title"], movie["year"], movie["genres"]) == ("Renamed by an archive", 1999, ["Drama"])
