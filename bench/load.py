"""Throughput, latency and data integrity under load against a live stack (PostgreSQL,
Redis, a Celery worker, ``recsys serve --workers N``), all on this machine.

    python -m bench.load [--workers 2 1] [--connections 64] [--health-seconds 20]
                         [--recs-seconds 20] [--mixed-seconds 60] [--out docs/benchmarks.md]

After training the default model on ml-100k it drives the API over loopback with 64
keep-alive connections (closed loop: each sends its next request when the last answered):

1. ``GET /health`` (the trivial JSON endpoint of the same app), then
   ``GET /api/ml/recommendations/{user}?n=10`` for random users 1..943.
   Targets: recommendations throughput >= half of /health's, recommendations p99 < 50 ms.
   For the first worker count, recommendations are measured once more on an API started
   with the rendered-list cache off, so the cost of computing every list is visible.
2. A mixed load, 90% those reads and 10% ``POST /api/ratings``, every write a fresh
   (user, movie) pair of users 2,000,000+ that ml-100k does not have. Targets: zero
   errors, and afterwards the ratings table holds exactly the accepted (201) writes:
   same count, same (user, movie, rating) triples, nothing lost, added or duplicated.

Errors are non-2xx answers, timeouts and connection errors, counted separately.

The load generator is bench/_load_client.py: asyncio on uvloop with the httptools parser
(both come with uvicorn[standard]), so the benchmark needs no system package. It shares
the 2 cores with the server. Back to back on /health it reached 85–100% of wrk's
throughput (9,451 vs 11,110 and 7,159 vs 7,324 req/s on a busy machine), so the ratio it
reports is at most slightly flattering. When `wrk` is on the PATH (Debian/Ubuntu:
``apt-get install wrk``; https://github.com/wg/wrk) the same two read endpoints are also
measured with wrk as that cross-check; ``--no-wrk`` skips it. Data: ml-100k from ../shared/data (or RECSYS_DATA_DIR).
"""

from __future__ import annotations

import argparse
import json
import random
import re
import shutil
import subprocess
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

import httpx
import numpy as np
import psutil
import psycopg

from bench._load_client import Request, Run, run_load
from bench._machine import machine_info
from bench._markdown import replace_section, table
from bench.realtime import data_dir
from service.testing.stack import (
    CLIENT_KEY,
    Stack,
    launch_stack,
    train,
    wait_for_version,
)

REPO = Path(__file__).resolve().parents[1]
N_USERS = 943  # ml-100k users 1..943
N_MOVIES = 1682
FRESH_USER = 2_000_000  # first user id of the writes; ml-100k has none this high
FRESH_USERS = 512
REDIS_DB = 14
RATIO_TARGET = 0.5
P99_TARGET_MS = 50.0
MIXED_RATIO_TARGET = 0.4
WRITE_P99_TARGET_MS = 100.0
HEALTH = Request("/health", tag="health")
UNCACHED = "GET recommendations, cache off (RESPONSE_CACHE_ENTRIES=0)"


@dataclass
class Phase:
    """The summary of one load phase (one row of the results table)."""

    name: str
    workers: int
    connections: int
    duration_s: float
    requests: int
    ok: int
    throughput: float  # successful responses per second
    median_ms: float
    p95_ms: float
    p99_ms: float
    max_ms: float
    errors: dict[str, int]

    @property
    def n_errors(self) -> int:
        return sum(self.errors.values())


def summarize(name: str, workers: int, run: Run, tag: str | None = None) -> Phase:
    results = [r for r in run.results if tag is None or r.request.tag == tag]
    latencies = np.array([r.latency_s for r in results]) * 1000 if results else np.array([np.nan])
    errors: dict[str, int] = {}
    for r in results:
        if not 200 <= r.status < 300:
            kind = f"HTTP {r.status}" if r.status else r.error.split(":")[0]
            errors[kind] = errors.get(kind, 0) + 1
    ok = len(results) - sum(errors.values())
    return Phase(
        name=name,
        workers=workers,
        connections=run.connections,
        duration_s=run.elapsed_s,
        requests=len(results),
        ok=ok,
        throughput=ok / run.elapsed_s,
        median_ms=float(np.median(latencies)),
        p95_ms=float(np.percentile(latencies, 95)),
        p99_ms=float(np.percentile(latencies, 99)),
        max_ms=float(latencies.max()),
        errors=errors,
    )


def _recs_request(rng: random.Random) -> Request:
    return Request(f"/api/ml/recommendations/{rng.randint(1, N_USERS)}?n=10", tag="recs")


def write_of(k: int) -> tuple[int, int, float]:
    """The k-th write: users 2,000,000.. 2,000,511 in turn, each rating movie 1, 2, 3, ... on
    successive rounds, so every (user, movie) pair occurs once (for the first 861,184 writes)
    and every accepted write must be exactly one row. Neighbouring writes are different
    users, so they do not queue on the per-user lock of the fold-in."""
    user = FRESH_USER + k % FRESH_USERS
    movie = 1 + k // FRESH_USERS
    return user, movie, float(1 + (k * 7) % 5)


def _mixed_request(i: int, rng: random.Random) -> Request:
    """Exactly one request in ten (i % 10 == 9) is a write, the rest are reads."""
    if i % 10 != 9:
        return _recs_request(rng)
    user, movie, rating = write_of(i // 10)
    body = json.dumps({"user_id": user, "movie_id": movie, "rating": rating}).encode()
    return Request(
        "/api/ratings",
        method="POST",
        body=body,
        headers=(("X-API-Key", CLIENT_KEY),),
        tag="write",
        keep_body=True,
    )


def _busy_elsewhere(own: set[int], seconds: float = 1.0) -> float:
    """CPU % (of one core) used by processes outside this benchmark's stack (PostgreSQL and
    Redis count as the stack's), sampled now."""
    procs = [
        p
        for p in psutil.process_iter(["name"])
        if p.pid not in own and p.info["name"] not in ("postgres", "redis-server")
    ]
    for p in procs:
        try:
            p.cpu_percent(None)
        except psutil.Error:
            pass
    time.sleep(seconds)
    total = 0.0
    for p in procs:
        try:
            total += p.cpu_percent(None)
        except psutil.Error:
            pass
    return total


def _own_pids(stack: Stack) -> set[int]:
    own = {psutil.Process().pid}
    for process in stack.processes:
        try:
            parent = psutil.Process(process.pid)
            own |= {parent.pid} | {c.pid for c in parent.children(recursive=True)}
        except psutil.Error:
            pass
    return own


def check_integrity(database_url: str, run: Run) -> dict[str, object]:
    """Compare the ratings of the fresh users with the writes the API accepted (201)."""
    accepted: set[tuple[int, int, float]] = set()
    uncertain: set[tuple[int, int]] = set()  # no answer: may or may not have been committed
    echo_mismatch = 0
    for r in run.results:
        if r.request.tag != "write":
            continue
        sent = json.loads(r.request.body)
        triple = (sent["user_id"], sent["movie_id"], float(sent["rating"]))
        if r.status == 201:
            echoed = json.loads(r.body)["rating"]
            if (echoed["user_id"], echoed["movie_id"], float(echoed["rating"])) != triple:
                echo_mismatch += 1
            accepted.add(triple)
        elif r.status == 0:
            uncertain.add(triple[:2])
    with psycopg.connect(database_url) as conn:
        rows = conn.execute(
            "SELECT user_id, movie_id, rating FROM ratings WHERE user_id >= %s", (FRESH_USER,)
        ).fetchall()
        states = conn.execute(
            "SELECT count(*) FROM user_states WHERE user_id >= %s", (FRESH_USER,)
        ).fetchone()[0]
    stored = [(u, m, float(x)) for u, m, x in rows]
    stored_set = set(stored)
    lost = accepted - stored_set
    extra = {t for t in stored_set - accepted if t[:2] not in uncertain}
    duplicates = len(stored) - len(stored_set)
    return {
        "accepted writes (201)": len(accepted),
        "rows of the fresh users": len(stored),
        "lost (accepted, not stored)": len(lost),
        "unexpected (stored, not accepted)": len(extra),
        "duplicated rows": duplicates,
        "201 bodies not echoing the write": echo_mismatch,
        "users with a folded vector": f"{states} of {len({u for u, _, _ in accepted})}",
        "ok": not lost
        and not extra
        and not duplicates
        and not echo_mismatch
        and len(stored) == len(accepted),
    }


_WRK_RECS_LUA = f"""
math.randomseed(12345)
request = function()
  return wrk.format("GET", "/api/ml/recommendations/" .. math.random(1, {N_USERS}) .. "?n=10")
end
"""


def run_wrk(
    url: str, path: str, connections: int, seconds: int, lua: Path | None
) -> dict[str, str]:
    """wrk's own figures for one endpoint (2 threads, its default 2 s timeout)."""
    cmd = ["wrk", "-t2", f"-c{connections}", f"-d{seconds}s", "--latency"]
    if lua is not None:
        cmd += ["-s", str(lua)]
    out = subprocess.run(
        cmd + [url + path], capture_output=True, text=True, timeout=seconds + 60, check=True
    ).stdout
    grab = lambda pattern: m.group(1) if (m := re.search(pattern, out, re.MULTILINE)) else "?"
    errors = re.search(r"Socket errors: (.*)", out)
    non2xx = re.search(r"Non-2xx or 3xx responses: (\d+)", out)
    return {
        "requests": grab(r"(\d+) requests in"),
        "throughput": grab(r"Requests/sec:\s+([\d.]+)"),
        # Anchored: a "+/- Stdev" column such as "68.50%" also ends in "50%".
        "median": grab(r"^\s+50%\s+(\S+)"),
        "p99": grab(r"^\s+99%\s+(\S+)"),
        "errors": ", ".join(
            filter(
                None,
                [errors.group(1) if errors else "", f"non-2xx {non2xx.group(1)}" if non2xx else ""],
            )
        )
        or "0",
    }


def _warm(url: str, rng: random.Random) -> None:
    with httpx.Client(base_url=url, timeout=30) as client:
        for _ in range(50):
            client.get("/health")
            client.get(f"/api/ml/recommendations/{rng.randint(1, N_USERS)}?n=10")


def _recs_phase(url: str, rng: random.Random, args: argparse.Namespace) -> Run:
    return run_load(url, lambda i: _recs_request(rng), connections=args.connections, duration=args.recs_seconds,
                    max_requests=args.max_requests)


def measure(stack: Stack, args: argparse.Namespace) -> dict[str, object]:
    with httpx.Client(base_url=stack.api_urls[0], timeout=30) as client:
        version = train(client)
    rng = random.Random(args.seed)
    phases: list[Phase] = []
    mixed: dict[str, object] = {}
    wrk_rows: list[list[object]] = []
    busy: list[float] = []
    use_wrk = not args.no_wrk and shutil.which("wrk") is not None
    for index, workers in enumerate(args.workers):
        url = stack.start_api(workers=workers)
        api = stack.processes[-1]
        with httpx.Client(base_url=url, timeout=30) as client:
            wait_for_version(client, version, time.monotonic() + 60)
        _warm(url, rng)
        own = _own_pids(stack)
        busy.append(_busy_elsewhere(own))
        run = run_load(
            url,
            lambda i: HEALTH,
            connections=args.connections,
            duration=args.health_seconds,
            max_requests=args.max_requests,
        )
        phases.append(summarize("GET /health", workers, run))
        phases.append(summarize("GET /api/ml/recommendations/{user}?n=10", workers, _recs_phase(url, rng, args)))
        if use_wrk:
            with tempfile.NamedTemporaryFile("w", suffix=".lua", delete=False) as lua:
                lua.write(_WRK_RECS_LUA)
            seconds = max(5, int(args.wrk_seconds))
            for name, path, script in (
                ("GET /health", "/health", None),
                ("GET recommendations", "", Path(lua.name)),
            ):
                figures = run_wrk(url, path, args.connections, seconds, script)
                wrk_rows.append(
                    [
                        name,
                        workers,
                        args.connections,
                        f"{seconds} s",
                        figures["requests"],
                        figures["throughput"],
                        figures["median"],
                        figures["p99"],
                        figures["errors"],
                    ]
                )
            Path(lua.name).unlink()
        if index == 0:
            run = run_load(
                url,
                lambda i: _mixed_request(i, rng),
                connections=args.connections,
                duration=args.mixed_seconds,
                max_requests=args.max_requests,
            )
            phases.append(summarize("mixed: all", workers, run))
            phases.append(summarize("mixed: GET recommendations (90%)", workers, run, "recs"))
            phases.append(summarize("mixed: POST /api/ratings (10%)", workers, run, "write"))
            mixed = check_integrity(stack.env["DATABASE_URL"], run)
            mixed["error samples"] = [
                f"{r.request.method} {r.request.path} -> {r.status or r.error}: {r.body[:200]!r}"
                for r in run.results
                if not 200 <= r.status < 300
            ][:5]
        busy.append(_busy_elsewhere(own))
        stack.stop(api)
        if index == 0:  # the same, every list computed: what a request costs when nothing is cached
            url = stack.start_api(workers=workers, env={"RESPONSE_CACHE_ENTRIES": "0"})
            with httpx.Client(base_url=url, timeout=30) as client:
                wait_for_version(client, version, time.monotonic() + 60)
            _warm(url, rng)
            phases.append(summarize(UNCACHED, workers, _recs_phase(url, rng, args)))
            stack.stop(stack.processes[-1])
    return {"phases": phases, "integrity": mixed, "wrk": wrk_rows, "busy_elsewhere": busy}


def _ms(value: float) -> str:
    return f"{value:.1f}"


def report(results: dict[str, object], args: argparse.Namespace) -> str:
    phases: list[Phase] = results["phases"]  # type: ignore[assignment]
    integrity: dict[str, object] = results["integrity"]  # type: ignore[assignment]
    rows = [
        [
            p.name,
            p.workers,
            p.connections,
            f"{p.duration_s:.1f} s",
            p.requests,
            f"{p.throughput:.0f}",
            _ms(p.median_ms),
            _ms(p.p95_ms),
            _ms(p.p99_ms),
            _ms(p.max_ms),
            ", ".join(f"{k}: {v}" for k, v in p.errors.items()) or "0",
        ]
        for p in phases
    ]
    compose = args.workers[0]
    by_name = {(p.name, p.workers): p for p in phases}
    health = by_name[("GET /health", compose)]
    recs = by_name[("GET /api/ml/recommendations/{user}?n=10", compose)]
    mixed = by_name[("mixed: all", compose)]
    writes = by_name[("mixed: POST /api/ratings (10%)", compose)]
    ratio = recs.throughput / health.throughput
    ratios = [
        [
            f"{w} worker{'s' * (w > 1)}",
            f"{by_name[('GET /api/ml/recommendations/{user}?n=10', w)].throughput / by_name[('GET /health', w)].throughput:.3f}",
        ]
        for w in args.workers
    ]
    targets = [
        [
            f"recommendations / health throughput >= {RATIO_TARGET}",
            f"{ratio:.3f} ({recs.throughput:.0f} / {health.throughput:.0f} req/s)",
            "PASS" if ratio >= RATIO_TARGET else "FAIL",
        ],
        [
            f"recommendations p99 < {P99_TARGET_MS:.0f} ms",
            f"{recs.p99_ms:.1f} ms",
            "PASS" if recs.p99_ms < P99_TARGET_MS and recs.n_errors == 0 else "FAIL",
        ],
        [
            f"mixed load: total throughput >= {MIXED_RATIO_TARGET} x health",
            f"{mixed.throughput / health.throughput:.3f} ({mixed.throughput:.0f} / {health.throughput:.0f} req/s)",
            "PASS" if mixed.throughput >= MIXED_RATIO_TARGET * health.throughput else "FAIL",
        ],
        [
            f"mixed load: POST /api/ratings p99 < {WRITE_P99_TARGET_MS:.0f} ms",
            f"{writes.p99_ms:.1f} ms",
            "PASS" if writes.p99_ms < WRITE_P99_TARGET_MS else "FAIL",
        ],
        [
            f"mixed load {args.mixed_seconds:.0f} s: zero errors",
            f"{mixed.n_errors} of {mixed.requests}",
            "PASS" if mixed.n_errors == 0 else "FAIL",
        ],
        [
            "ratings table = accepted writes",
            f"{integrity['rows of the fresh users']} rows, {integrity['accepted writes (201)']} accepted",
            "PASS" if integrity["ok"] else "FAIL",
        ],
    ]
    integrity_rows = [[k, v] for k, v in integrity.items() if k not in ("ok", "error samples")]
    parts = [
        "## Load (live stack, 64 connections)",
        f"`python -m bench.load`: `recsys serve --workers N` (uvicorn), PostgreSQL, Redis and a Celery "
        f"worker on this machine, ml-100k, the default model trained first. The load generator "
        f"(bench/_load_client.py: asyncio, uvloop, httptools; closed loop, {args.connections} keep-alive "
        f"connections, loopback) runs on the same cores. Recommendations are `?n=10` for random users "
        f"1..{N_USERS}; writes are fresh (user, movie) pairs of users {FRESH_USER:,}+. Each process keeps "
        "rendered lists (`RESPONSE_CACHE_ENTRIES`), so after the warm-up most recommendations are cache hits; "
        "the cache-off row computes every list. Throughput counts "
        "2xx answers per second; latencies in milliseconds; errors are non-2xx, timeouts (10 s) and "
        "connection errors.",
        table(
            [
                "endpoint",
                "workers",
                "connections",
                "duration",
                "requests",
                "req/s",
                "median",
                "p95",
                "p99",
                "max",
                "errors",
            ],
            rows,
            "lrrrrrrrrrl",
        ),
        table(["target (compose: " + f"{compose} workers)", "measured", ""], targets, "lrl"),
        "Recommendations / health throughput by uvicorn workers:\n\n"
        + table(["API", "ratio"], ratios),
        "Data integrity after the mixed load (ratings of the fresh users, read from PostgreSQL):\n\n"
        + table(["check", "value"], integrity_rows),
    ]
    samples = integrity.get("error samples") or []
    if samples:
        parts.append("First errors of the mixed load:\n\n" + "\n".join(f"- `{s}`" for s in samples))
    if results["wrk"]:
        parts.append(
            "Cross-check with wrk 2 threads (same connections, its 2 s timeout; latency as wrk prints it):\n\n"
            + table(
                [
                    "endpoint",
                    "workers",
                    "connections",
                    "duration",
                    "requests",
                    "req/s",
                    "median",
                    "p99",
                    "errors",
                ],
                results["wrk"],
                "lrrrrrrrl",
            )
        )
    busy = results["busy_elsewhere"]
    parts.append(
        "Machine:\n\n"
        + "\n".join(f"- {k}: {v}" for k, v in machine_info(REPO).items())
        + f"\n- Other processes' CPU around the phases (% of one core, 1 s samples): {', '.join(f'{b:.0f}' for b in busy)}"
    )
    return "\n\n".join(parts)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(
        prog="python -m bench.load",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument(
        "--workers",
        type=int,
        nargs="+",
        default=[2],
        help="uvicorn worker counts to measure; the first is the compose set-up the targets use "
        "and the only one given the mixed load",
    )
    parser.add_argument("--connections", type=int, default=64)
    parser.add_argument("--health-seconds", type=float, default=20)
    parser.add_argument("--recs-seconds", type=float, default=20)
    parser.add_argument("--mixed-seconds", type=float, default=60)
    parser.add_argument("--wrk-seconds", type=float, default=10)
    parser.add_argument(
        "--max-requests", type=int, default=2_000_000, help="cap on requests per phase"
    )
    parser.add_argument(
        "--no-wrk", action="store_true", help="skip the wrk cross-check even if wrk is installed"
    )
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--out", type=Path, default=REPO / "docs" / "benchmarks.md")
    args = parser.parse_args(argv)
    if args.max_requests // 10 > FRESH_USERS * N_MOVIES:
        parser.error(
            f"--max-requests above {FRESH_USERS * N_MOVIES * 10} would repeat a (user, movie) write"
        )
    with (
        tempfile.TemporaryDirectory() as tmp,
        launch_stack(Path(tmp), REDIS_DB, data_dir() / "ml-100k") as stack,
    ):
        results = measure(stack, args)
    body = report(results, args)
    print(body)
    replace_section(args.out, "load", body)


if __name__ == "__main__":
    main()
