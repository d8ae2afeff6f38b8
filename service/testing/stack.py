"""A live stack on this machine for integration tests and benchmarks: a fresh PostgreSQL
database built by the migrations, Redis, Celery worker processes and uvicorn processes,
all running the same ``recsys`` commands as docker-compose."""

from __future__ import annotations

import contextlib
import os
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

import httpx
import psycopg
import redis

from service.training.status import JobStatus

REPO = Path(__file__).resolve().parents[2]
ADMIN_KEY = "admin-test-key"
CLIENT_KEY = "client-test-key"
PG_ADMIN_URL = os.environ.get("TEST_PG_ADMIN_URL", "postgresql://postgres@127.0.0.1:5432/postgres")
REDIS_BASE = os.environ.get("TEST_REDIS_URL", "redis://127.0.0.1:6379")
BIN = Path(sys.executable).parent


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@dataclass
class Stack:
    env: dict[str, str]
    log_dir: Path
    processes: list[subprocess.Popen] = field(default_factory=list)
    api_urls: list[str] = field(default_factory=list)
    worker: subprocess.Popen | None = None
    log_files: dict[int, Path] = field(default_factory=dict)  # pid -> its output

    def run(self, *args: str, timeout: float = 300) -> subprocess.CompletedProcess:
        return subprocess.run([str(BIN / "recsys"), *args], env=self.env, cwd=self.log_dir, capture_output=True,
                              text=True, timeout=timeout, check=False)

    def spawn(self, name: str, *args: str, env: dict[str, str] | None = None) -> subprocess.Popen:
        log = open(self.log_dir / f"{name}.log", "ab")
        process = subprocess.Popen([str(BIN / "recsys"), *args], env={**self.env, **(env or {})}, cwd=self.log_dir,
                                   stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
        self.processes.append(process)
        self.log_files[process.pid] = self.log_dir / f"{name}.log"
        return process

    def output(self, process: subprocess.Popen) -> str:
        return self.log_files[process.pid].read_text(errors="replace")

    def start_api(self, workers: int = 1, env: dict[str, str] | None = None) -> str:
        """One more ``recsys serve`` (``env``: settings of its own on top of the stack's)."""
        port = free_port()
        self.spawn(f"api-{port}", "serve", "--host", "127.0.0.1", "--port", str(port), "--workers", str(workers),
                   env=env)
        url = f"http://127.0.0.1:{port}"
        wait_until(lambda: _answers(url + "/health"), 60, f"uvicorn on {port}")
        self.api_urls.append(url)
        return url

    def start_worker(self, env: dict[str, str] | None = None) -> subprocess.Popen:
        self.worker = self.spawn(f"worker-{len(self.processes)}", "worker", env=env)
        return self.worker

    def start_beat(self, env: dict[str, str] | None = None) -> subprocess.Popen:
        """``recsys beat`` with a schedule file of its own: beat keeps there when each entry
        last ran, and a file another beat left would shift this one's first ticks."""
        name = f"beat-{len(self.processes)}"
        return self.spawn(name, "beat", "--schedule-file", str(self.log_dir / name / "celerybeat-schedule"), env=env)

    def stop(self, process: subprocess.Popen, sig: int = signal.SIGTERM) -> None:
        if process.poll() is None:
            os.killpg(process.pid, sig)
            try:
                process.wait(20)
            except subprocess.TimeoutExpired:
                os.killpg(process.pid, signal.SIGKILL)
                process.wait(10)

    def logs(self) -> str:
        return "\n".join(f"--- {p.name}\n{p.read_text(errors='replace')[-4000:]}" for p in self.log_dir.glob("*.log"))


def _answers(url: str) -> bool:
    try:
        return httpx.get(url, timeout=1).status_code == 200
    except httpx.HTTPError:
        return False


def wait_until(predicate, timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return
        time.sleep(0.1)
    raise AssertionError(f"timed out waiting for {what}")


@contextmanager
def fresh_database(admin_url: str = PG_ADMIN_URL) -> Iterator[str]:
    name = f"recsys_it_{os.getpid()}_{secrets.token_hex(3)}"
    with psycopg.connect(admin_url, autocommit=True) as admin:
        admin.execute(f'CREATE DATABASE "{name}"')
    try:
        yield f"{admin_url.rsplit('/', 1)[0]}/{name}"
    finally:
        with psycopg.connect(admin_url, autocommit=True) as admin:
            admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@contextmanager
def launch_stack(
    log_dir: Path,
    redis_db: int,
    dataset: Path,
    *import_args: str,
    extra_env: dict[str, str] | None = None,
    redis_base: str = REDIS_BASE,
    pg_admin_url: str = PG_ADMIN_URL,
) -> Iterator[Stack]:
    """Migrate a fresh database, import MovieLens, start a Celery worker and one uvicorn."""
    redis_url = f"{redis_base}/{redis_db}"
    redis.Redis.from_url(redis_url).flushdb()
    with fresh_database(pg_admin_url) as pg_url:
        env = {
            **os.environ,
            "DATABASE_URL": pg_url,
            "REDIS_URL": redis_url,
            "WORKER_MODE": "celery",
            "ENVIRONMENT": "test",
            "ADMIN_API_KEY": ADMIN_KEY,
            "CLIENT_API_KEY": CLIENT_KEY,
            "MODEL_POLL_SECONDS": "0.5",
            "JOB_STALE_SECONDS": "20",
            "PYTHONPATH": str(REPO),
            **(extra_env or {}),
        }
        stack = Stack(env=env, log_dir=log_dir)
        try:
            migrated = stack.run("migrate")
            assert migrated.returncode == 0, migrated.stderr
            imported = stack.run("import-movielens", str(dataset), *import_args)
            assert imported.returncode == 0, imported.stderr
            stack.start_worker()
            stack.start_api()
            yield stack
        except BaseException:
            print(stack.logs())
            raise
        finally:
            for process in reversed(stack.processes):
                stack.stop(process)




@contextmanager
def private_redis(log_dir: Path) -> Iterator[tuple[str, Callable[[], None], Callable[[], None]]]:
    """A redis-server of the test's own on a free port, so a test can stop and restart it
    without touching the machine's shared instance. Yields (url, stop, start)."""
    port = free_port()
    process: subprocess.Popen | None = None

    def start() -> None:
        nonlocal process
        process = subprocess.Popen(
            ["redis-server", "--port", str(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no",
             "--dir", str(log_dir)],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
        )
        wait_until(lambda: _redis_up(port), 20, f"redis on {port}")

    def stop() -> None:
        if process is not None and process.poll() is None:
            process.terminate()
            process.wait(10)

    start()
    try:
        yield f"redis://127.0.0.1:{port}", stop, start
    finally:
        stop()


@contextmanager
def private_postgres() -> Iterator[tuple[str, Callable[[], None], Callable[[], None]]]:
    """A PostgreSQL server of the test's own (initdb in a temporary folder, a free port),
    so a test can stop and restart it without touching the machine's shared cluster.
    Yields (admin url, stop, start)."""
    bin_dir = sorted(Path("/usr/lib/postgresql").iterdir())[-1] / "bin"
    as_postgres = ["runuser", "-u", "postgres", "--"] if os.geteuid() == 0 else []  # initdb refuses root
    data = Path(tempfile.mkdtemp(prefix="recsys-pg-"))
    if as_postgres:
        shutil.chown(data, "postgres")
    port = free_port()

    def pg_ctl(*args: str) -> None:
        subprocess.run([*as_postgres, str(bin_dir / "pg_ctl"), "-D", str(data), "-w", *args],
                       check=True, timeout=120, capture_output=True)

    def start() -> None:
        pg_ctl("-l", str(data / "server.log"), "-o", f"-p {port} -h 127.0.0.1 -k {data} -c fsync=off", "start")

    def stop() -> None:
        pg_ctl("-m", "fast", "stop")

    subprocess.run([*as_postgres, str(bin_dir / "initdb"), "-D", str(data), "-A", "trust", "-U", "postgres",
                    "--no-sync"], check=True, timeout=120, capture_output=True)
    start()
    try:
        yield f"postgresql://postgres@127.0.0.1:{port}/postgres", stop, start
    finally:
        with contextlib.suppress(subprocess.CalledProcessError):
            stop()
        shutil.rmtree(data, ignore_errors=True)


def _redis_up(port: int) -> bool:
    try:
        return bool(redis.Redis(host="127.0.0.1", port=port, socket_timeout=0.5).ping())
    except redis.RedisError:
        return False


def train(
    client: httpx.Client, hyperparams: dict[str, object] | None = None, timeout: float = 300,
    model_type: str | None = None,
) -> int:
    """Train a model (of the default type unless named) and wait until the API serves it
    (bounded, unlike a bare poll)."""
    deadline = time.monotonic() + timeout
    body: dict[str, object] = {"hyperparams": hyperparams or {}}
    if model_type is not None:
        body["model_type"] = model_type
    job_id = client.post("/api/ml/train", json=body, headers={"X-API-Key": ADMIN_KEY}).json()[
        "job_id"
    ]
    while not JobStatus((job := client.get(f"/api/ml/training-status/{job_id}").json())["status"]).is_terminal:
        assert time.monotonic() < deadline, f"training did not finish in {timeout:.0f} s: {job}"
        time.sleep(0.2)
    assert job["status"] == JobStatus.succeeded, job
    version = job["model_version"]
    active = [m["version"] for m in client.get("/api/ml/models").json() if m["is_active"]]
    if active == [version]:  # the activation rule may keep the previous version
        wait_for_version(client, version, deadline)
    return version


def wait_for_version(client: httpx.Client, version: int, deadline: float) -> None:
    while client.get("/ready").json()["model_version"] != version:
        assert time.monotonic() < deadline, (
            f"the API at {client.base_url} never loaded model {version}"
        )
        time.sleep(0.1)
