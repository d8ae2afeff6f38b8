"""Hostile input at the edge of a live ``recsys serve`` (httptools, the service's own head
limits) in production mode: endless and countless headers, bodies sent without a key, bad
dashboard paths, and reads that need the client key. No data and no training: a freshly
migrated PostgreSQL database is enough."""

from __future__ import annotations

import os
import socket
import threading
from collections.abc import Iterator
from types import SimpleNamespace

import httpx
import pytest

from service.testing.stack import ADMIN_KEY, CLIENT_KEY, REDIS_BASE, REPO, Stack, fresh_database

pytestmark = pytest.mark.integration

REDIS_DB = 10  # 0: private redis-server, 11-13: integration and benches, 14: bench/load.py, 15: browser
CLIENT = {"X-API-Key": CLIENT_KEY}
ADMIN = {"X-API-Key": ADMIN_KEY}
JSON = {"content-type": "application/json"}
FLOOD_BYTES = 50 * 2**20
CHUNK = 64 * 1024


@pytest.fixture(scope="module")
def servers(tmp_path_factory) -> Iterator[SimpleNamespace]:
    """``guarded``: ENVIRONMENT=production with the default read policy, one worker.
    ``opened``: the same with REQUIRE_KEY_FOR_READS=false and ``--workers 2``."""
    log_dir = tmp_path_factory.mktemp("edge")
    with fresh_database() as pg_url:
        env = {
            **os.environ,
            "DATABASE_URL": pg_url,
            "REDIS_URL": f"{REDIS_BASE}/{REDIS_DB}",
            "WORKER_MODE": "celery",
            "ENVIRONMENT": "production",
            "ADMIN_API_KEY": ADMIN_KEY,
            "CLIENT_API_KEY": CLIENT_KEY,
            "PYTHONPATH": str(REPO),
        }
        env.pop("REQUIRE_KEY_FOR_READS", None)
        guarded = Stack(env=env, log_dir=log_dir)
        opened = Stack(env={**env, "REQUIRE_KEY_FOR_READS": "false"}, log_dir=log_dir)
        try:
            migrated = guarded.run("migrate")
            assert migrated.returncode == 0, migrated.stderr
            yield SimpleNamespace(guarded=guarded.start_api(), opened=opened.start_api(workers=2))
        except BaseException:
            print(guarded.logs())
            raise
        finally:
            for process in [*guarded.processes, *opened.processes]:
                guarded.stop(process)


def _address(url: str) -> tuple[str, int]:
    host, port = url.split("://", 1)[1].rsplit(":", 1)
    return host, int(port)


def _flood(attack: socket.socket, outcome: dict[str, object]) -> None:
    """Stream header bytes until FLOOD_BYTES are sent or the server cuts us off, then read
    what it answered and whether it closed the connection."""
    sent, chunk = 0, b"a" * CHUNK
    try:
        while sent < FLOOD_BYTES:
            attack.sendall(chunk)
            sent += CHUNK
    except OSError:  # the server closed: a reset or a broken pipe
        pass
    answer, closed = b"", False
    try:
        while piece := attack.recv(4096):
            answer += piece
        closed = True
    except ConnectionResetError:
        closed = True
    except TimeoutError:
        pass
    outcome.update(sent=sent, answer=answer, closed=closed)


def test_an_endless_header_is_refused_early_while_health_keeps_answering(servers):
    attack = socket.create_connection(_address(servers.guarded), timeout=10)
    # A small send buffer, so what the client counts as sent is close to what the server read.
    attack.setsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF, CHUNK)
    outcome: dict[str, object] = {}
    with attack, httpx.Client(base_url=servers.guarded, timeout=10) as client:
        attack.sendall(b"GET /health HTTP/1.1\r\nHost: edge\r\nX-Flood: " + b"a" * 32 * 1024)
        # Half a head is held open on one connection: everyone else is still answered.
        answers = [client.get("/health").status_code]
        flood = threading.Thread(target=_flood, args=(attack, outcome), daemon=True)
        flood.start()
        while flood.is_alive():  # bounded: the flood ends at FLOOD_BYTES or a 10 s socket timeout
            answers.append(client.get("/health").status_code)
        flood.join()
    assert set(answers) == {200}
    assert outcome["sent"] < FLOOD_BYTES / 5, f"the server read {outcome['sent']} bytes of one header"
    assert outcome["answer"].startswith(b"HTTP/1.1 431 "), outcome["answer"][:200]
    assert b'"headers_too_large"' in outcome["answer"]
    assert outcome["closed"]


def test_too_many_headers_are_refused_and_a_long_path_still_reaches_the_app(servers):
    with httpx.Client(base_url=servers.guarded, timeout=10) as client:
        many = client.get("/health", headers={f"x-h{i}": "1" for i in range(120)})
        assert many.status_code == 431 and many.headers["connection"] == "close"
        assert many.json()["error"]["code"] == "headers_too_large"
        assert client.get("/health", headers={f"x-h{i}": "1" for i in range(80)}).status_code == 200
        # 10 KB is within the head limit: the app answers it.
        assert client.get("/dashboard/static/" + "a" * 10_000).status_code == 404


def _exchange(url: str, request: bytes) -> bytes:
    with socket.create_connection(_address(url), timeout=10) as sock:
        sock.sendall(request)
        return sock.recv(4096)


def test_the_limit_counts_each_head_exactly(servers):
    start, end = b"GET /health HTTP/1.1\r\nHost: edge\r\nX-Pad: ", b"\r\n\r\n"
    limit = 64 * 1024  # MAX_HEADER_BYTES's default
    at_limit = start + b"a" * (limit - len(start) - len(end)) + end
    assert len(at_limit) == limit
    assert _exchange(servers.guarded, at_limit).startswith(b"HTTP/1.1 200 ")
    over = at_limit[:-len(end)] + b"a" + end
    assert _exchange(servers.guarded, over).startswith(b"HTTP/1.1 431 ")
    # The count starts again with each request on a keep-alive connection, and a body is
    # not counted as head.
    with httpx.Client(base_url=servers.guarded, timeout=10) as client:
        for _ in range(200):
            assert client.get("/health", headers={"x-pad": "a" * 1000}).status_code == 200
        big_body = client.post("/api/ratings/batch", content=b"x" * 500_000, headers={**JSON, **CLIENT})
        assert big_body.status_code == 400  # read whole and refused as JSON, not as a head


def test_pipelined_requests_past_the_limit_are_all_answered(servers):
    # About 100 KB of small requests in one send: many heads, each well within the limit.
    count = 1000
    one = b"GET /health HTTP/1.1\r\nHost: edge\r\nX-Pad: " + b"a" * 50 + b"\r\n\r\n"
    last = b"GET /health HTTP/1.1\r\nHost: edge\r\nConnection: close\r\n\r\n"
    answers = b""
    with socket.create_connection(_address(servers.guarded), timeout=10) as sock:
        sock.sendall(one * (count - 1) + last)
        while piece := sock.recv(65536):  # bounded: the server closes after the last answer
            answers += piece
    assert answers.count(b"HTTP/1.1 200 ") == count
    assert b" 431 " not in answers


def test_every_worker_process_limits_the_head(servers):
    # --workers 2 spawns processes that load the protocol class by its import path.
    for _ in range(4):
        with httpx.Client(base_url=servers.opened, timeout=10) as client:
            refused = client.get("/health", headers={"x-big": "a" * 100_000})
            assert refused.status_code == 431
            assert client.get("/health").status_code == 200


def test_bad_dashboard_paths_are_not_found(servers):
    with httpx.Client(base_url=servers.guarded, timeout=10) as client:
        for path in ("%00index.html", "a" * 10_000):
            response = client.get(f"/dashboard/static/{path}")
            assert response.status_code == 404, path[:20]
            assert response.json()["error"]["code"] == "not_found"


def test_the_key_is_checked_before_the_body(servers):
    malformed = b'{"ratings": [{"user_id": 1,'
    large = b'{"ratings": [' + b",".join([b'{"user_id": 1, "movie_id": 1, "rating": 4}'] * 45_000) + b"]}"
    with httpx.Client(base_url=servers.guarded, timeout=30) as client:
        for body in (malformed, large):
            refused = client.post("/api/ratings/batch", content=body, headers=JSON)
            assert refused.status_code == 401 and refused.json()["error"]["code"] == "unauthorized"
        wrong = client.post("/api/ratings/batch", content=malformed, headers={**JSON, "X-API-Key": "wrong"})
        assert wrong.status_code == 403
        right = client.post("/api/ratings/batch", content=malformed, headers={**JSON, **CLIENT})
        assert right.status_code == 400


def test_production_reads_need_the_client_key_unless_opted_out(servers):
    with httpx.Client(base_url=servers.guarded, timeout=10) as client:
        assert client.get("/api/users/1/ratings").status_code == 401
        assert client.get("/api/users/1/ratings", headers={"X-API-Key": "wrong"}).status_code == 403
        assert client.get("/api/users/1/ratings", headers=CLIENT).status_code == 200
        assert client.get("/api/users/1/ratings", headers=ADMIN).status_code == 200
        # What stays open: liveness, readiness, the dashboard's shell and the API docs.
        assert client.get("/health").status_code == 200
        assert client.get("/ready").status_code in (200, 503)  # 503: no model trained here
        for path in ("/dashboard", "/dashboard/static/main.js", "/docs", "/openapi.json"):
            assert client.get(path).status_code == 200, path
    with httpx.Client(base_url=servers.opened, timeout=10) as client:
        assert client.get("/api/users/1/ratings").status_code == 200
