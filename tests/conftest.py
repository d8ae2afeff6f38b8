"""Shared test helpers: where the MovieLens data lives (never inside the repository)."""

from __future__ import annotations

import atexit
import os
import socket
import subprocess
import tempfile
import time
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]


def _private_redis_for_this_worker() -> None:
    """Under pytest-xdist each worker process gets a redis-server of its own: the live
    stacks empty numbered Redis databases, and two workers sharing one would empty each
    other's queues. Set before any test module imports service.testing.stack, which reads
    TEST_REDIS_URL once."""
    if not os.environ.get("PYTEST_XDIST_WORKER"):
        return
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    folder = tempfile.mkdtemp(prefix="recsys-test-redis-")
    server = subprocess.Popen(["redis-server", "--port", str(port), "--bind", "127.0.0.1", "--save", "",
                               "--appendonly", "no", "--dir", folder],
                              stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    atexit.register(server.terminate)
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:
        with socket.socket() as probe:
            if probe.connect_ex(("127.0.0.1", port)) == 0:
                break
        time.sleep(0.05)
    os.environ["TEST_REDIS_URL"] = f"redis://127.0.0.1:{port}"


_private_redis_for_this_worker()


def data_dir() -> Path:
    return Path(os.environ.get("RECSYS_DATA_DIR", REPO.parent / "shared" / "data"))


@pytest.fixture(scope="session")
def ml100k_dir() -> Path:
    path = data_dir() / "ml-100k"
    assert (path / "u.data").exists(), f"MovieLens ml-100k expected at {path} (set RECSYS_DATA_DIR)"
    return path
