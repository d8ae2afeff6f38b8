"""Real-time learning latency against a live stack (PostgreSQL, Redis, Celery, uvicorn).

    python -m bench.realtime [--ratings 500] [--explains 300] [--out docs/benchmarks.md]

For each sampled user it posts a rating of a movie currently in their top-10, then asks
for their recommendations again and checks the rating is reflected (the movie is gone
and the response came from the version it was folded into). It reports the time from
sending the rating to having the reflecting recommendations (POST + GET), the latency
of explanation requests, and how long a rating posted to one API process takes to
reach another (through the change feed). Data: ml-100k from ../shared/data (or RECSYS_DATA_DIR).
"""

from __future__ import annotations

import argparse
import os
import random
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import httpx
import numpy as np

from bench._machine import machine_info
from bench._markdown import replace_section, table
from service.testing.stack import ADMIN_KEY, CLIENT_KEY, launch_stack, train, wait_for_version

REPO = Path(__file__).resolve().parents[1]
ADMIN = {"X-API-Key": ADMIN_KEY}
CLIENT = {"X-API-Key": CLIENT_KEY}


def data_dir() -> Path:
    return Path(os.environ.get("RECSYS_DATA_DIR", REPO.parent / "shared" / "data"))


def _summary(values_ms: list[float]) -> dict[str, float]:
    values = np.array(values_ms)
    return {
        "n": len(values),
        "median": float(np.median(values)),
        "p95": float(np.percentile(values, 95)),
        "p99": float(np.percentile(values, 99)),
        "max": float(values.max()),
    }


def activation_propagation(first: str, second: str, flips: int = 10) -> dict[str, float]:
    """Activate versions alternately through one API process and time until the other serves it."""
    with httpx.Client(base_url=first, timeout=30) as a, httpx.Client(base_url=second, timeout=30) as b:
        versions = [m["version"] for m in a.get("/api/ml/models").json()][:2]
        if len(versions) < 2:
            train(a, {"seed": 1})
            versions = [m["version"] for m in a.get("/api/ml/models").json()][:2]
        seconds = []
        for flip in range(flips):
            target = versions[flip % 2]
            start = time.perf_counter()
            assert a.post(f"/api/ml/models/activate/{target}", headers=ADMIN).status_code == 200
            deadline = start + 30
            while b.get("/ready").json()["model_version"] != target:
                assert time.perf_counter() < deadline, "the second process never switched"
                time.sleep(0.01)
            seconds.append((time.perf_counter() - start) * 1000)
    return _summary(seconds)


def cross_replica(first: str, second: str, samples: int = 300, seed: int = 1) -> dict[str, dict[str, float]]:
    """Post a rating of a movie in the user's top-10 to one API process, then ask the
    other for the user's list until the movie is gone: the time from sending the rating
    until the other process reflects it, and from its 201 until then (the feed's lag)."""
    rng = random.Random(seed)
    total_ms, lag_ms = [], []
    with httpx.Client(base_url=first, timeout=30) as a, httpx.Client(base_url=second, timeout=30) as b:
        wait_for_version(b, a.get("/ready").json()["model_version"], time.monotonic() + 60)
        for _ in range(samples):
            user = rng.randint(1, 943)
            top = b.get(f"/api/ml/recommendations/{user}").json()["items"]
            movie = top[rng.randrange(len(top))]["movie_id"]
            start = time.perf_counter()
            posted = a.post("/api/ratings", json={"user_id": user, "movie_id": movie, "rating": 3.0}, headers=CLIENT)
            answered = time.perf_counter()
            assert posted.status_code == 201, posted.text
            while movie in [i["movie_id"] for i in b.get(f"/api/ml/recommendations/{user}").json()["items"]]:
                assert time.perf_counter() - start < 30, "the other process never reflected the rating"
            reflected = time.perf_counter()
            total_ms.append((reflected - start) * 1000)
            lag_ms.append((reflected - answered) * 1000)
    return {
        "rating to process A → reflected by process B": _summary(total_ms),
        "A's 201 → reflected by process B": _summary(lag_ms),
    }


def batch_writes(base_url: str, users: int = 10_000, rounds: int = 3, concurrent: int = 4) -> dict[str, dict[str, float]]:
    """POST /api/ratings/batch with ``users`` distinct users, one rating each (each user is
    folded in): alone, then ``concurrent`` such batches at once (each request's time)."""
    next_user = iter(range(3_000_000, 10**9, users))

    def body() -> dict[str, object]:
        first = next(next_user)
        return {"ratings": [{"user_id": first + i, "movie_id": 1 + i % 1682, "rating": 1 + i % 5} for i in range(users)]}

    def post(client: httpx.Client, payload: dict[str, object]) -> float:
        start = time.perf_counter()
        response = client.post("/api/ratings/batch", json=payload, headers=CLIENT)
        assert response.status_code == 201 and response.json()["count"] == users, response.text[:300]
        return (time.perf_counter() - start) * 1000

    def post_alone(payload: dict[str, object]) -> float:
        with httpx.Client(base_url=base_url, timeout=300) as own:
            return post(own, payload)

    alone, together = [], []
    with httpx.Client(base_url=base_url, timeout=300) as client:
        for _ in range(rounds):
            alone.append(post(client, body()))
        for _ in range(rounds):
            payloads = [body() for _ in range(concurrent)]
            with ThreadPoolExecutor(concurrent) as pool:
                together.extend(pool.map(post_alone, payloads))
    return {
        f"POST batch of {users:,} users": _summary(alone),
        f"POST batch of {users:,} users, {concurrent} at once": _summary(together),
    }


def measure(
    base_url: str, n_ratings: int, n_explains: int, seed: int = 0, model_type: str | None = None
) -> dict[str, dict[str, float]]:
    rng = random.Random(seed)
    post_ms, get_ms, total_ms, explain_ms = [], [], [], []
    with httpx.Client(base_url=base_url, timeout=30) as client:
        version = train(client, model_type=model_type)
        for other in client.get("/api/ml/models").json():  # the gate may keep an earlier type active
            if other["version"] == version and not other["is_active"]:
                client.post(f"/api/ml/models/activate/{version}", headers={"X-API-Key": ADMIN_KEY})
        wait_for_version(client, version, time.monotonic() + 60)
        for warm in range(20):
            client.get(f"/api/ml/recommendations/{warm + 1}")
        for _ in range(n_ratings):
            user = rng.randint(1, 943)
            top = client.get(f"/api/ml/recommendations/{user}").json()["items"]
            movie = top[rng.randrange(len(top))]["movie_id"]
            start = time.perf_counter()
            posted = client.post(
                "/api/ratings",
                json={"user_id": user, "movie_id": movie, "rating": float(rng.randint(1, 5))},
                headers=CLIENT,
            )
            middle = time.perf_counter()
            recs = client.get(f"/api/ml/recommendations/{user}").json()
            end = time.perf_counter()
            assert (
                posted.status_code == 201 and posted.json()["fold_in"]["model_version"] == version
            )
            assert recs["model_version"] == version and movie not in [
                i["movie_id"] for i in recs["items"]
            ]
            post_ms.append((middle - start) * 1000)
            get_ms.append((end - middle) * 1000)
            total_ms.append((end - start) * 1000)
        for _ in range(n_explains):
            user = rng.randint(1, 943)
            movie = client.get(f"/api/ml/recommendations/{user}").json()["items"][0]["movie_id"]
            start = time.perf_counter()
            response = client.get(f"/api/ml/explain/{user}/{movie}")
            explain_ms.append((time.perf_counter() - start) * 1000)
            assert response.status_code == 200
    return {
        "POST rating (fold-in included)": _summary(post_ms),
        "GET recommendations after it": _summary(get_ms),
        "rating → reflecting recommendations": _summary(total_ms),
        "GET explanation": _summary(explain_ms),
    }


def report(results: dict[str, dict[str, float]]) -> str:
    rows = [
        [
            name,
            s["n"],
            f"{s['median']:.2f}",
            f"{s['p95']:.2f}",
            f"{s['p99']:.2f}",
            f"{s['max']:.2f}",
        ]
        for name, s in results.items()
    ]
    batch = results["POST batch of 10,000 users"]
    targets = []
    for model_type in dict.fromkeys(name.split(": ")[0] for name in results if ": " in name):
        total = results[f"{model_type}: rating → reflecting recommendations"]
        explain = results[f"{model_type}: GET explanation"]
        targets += [
            [f"{model_type}: rating → reflecting recommendations, median < 20 ms", f"{total['median']:.2f} ms",
             "PASS" if total["median"] < 20 else "FAIL"],
            [f"{model_type}: rating → reflecting recommendations, p99 < 50 ms", f"{total['p99']:.2f} ms",
             "PASS" if total["p99"] < 50 else "FAIL"],
            [f"{model_type}: explanation, median < 15 ms", f"{explain['median']:.2f} ms",
             "PASS" if explain["median"] < 15 else "FAIL"],
        ]
    freshness = results["rating to process A → reflected by process B"]
    targets.append([
        "cross-replica: rating to A → reflected by B, p99 < 1 s",
        f"{freshness['p99']:.2f} ms",
        "PASS" if freshness["p99"] < 1000 else "FAIL",
    ])
    targets.append([
        "batch of 10,000 distinct users, median well under 5 s (< 4 s)",
        f"{batch['median'] / 1000:.2f} s",
        "PASS" if batch["median"] < 4000 else "FAIL",
    ])
    machine = "\n".join(f"- {k}: {v}" for k, v in machine_info(REPO).items())
    return "\n\n".join(
        [
            "## Real-time learning and explanations (live stack)",
            "`python -m bench.realtime`: one uvicorn process, PostgreSQL, Redis and a Celery worker on this "
            "machine, ml-100k, each model type named (default: the ensemble). Each sample posts a rating of a movie in the user's top-10 "
            "and immediately asks for the user's recommendations again over the same keep-alive connection; "
            "every sample is checked to be reflected (movie gone, same model version). The cross-replica rows "
            "post to one process and poll a second one (a tight loop of GETs) until the movie leaves its list. "
            "Milliseconds.",
            table(["request", "n", "median", "p95", "p99", "max"], rows),
            table(["target", "measured", ""], targets, "lrl"),
            "Machine:\n\n" + machine,
        ]
    )


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(
        prog="python -m bench.realtime",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--ratings", type=int, default=500)
    parser.add_argument("--explains", type=int, default=300)
    parser.add_argument("--model-types", default="ensemble",
                        help="comma-separated model types to measure, each on its own version (default: ensemble)")
    parser.add_argument("--out", type=Path, default=REPO / "docs" / "benchmarks.md")
    args = parser.parse_args(argv)
    with (
        tempfile.TemporaryDirectory() as tmp,
        launch_stack(Path(tmp), 13, data_dir() / "ml-100k") as stack,
    ):
        results = {}
        for model_type in args.model_types.split(","):
            for name, figures in measure(stack.api_urls[0], args.ratings, args.explains, model_type=model_type).items():
                results[f"{model_type}: {name}"] = figures
        second = stack.start_api()
        results["activation → served by another process"] = activation_propagation(stack.api_urls[0], second)
        results.update(cross_replica(stack.api_urls[0], second))
        results.update(batch_writes(stack.api_urls[0]))
    body = report(results)
    print(body)
    replace_section(args.out, "realtime", body)


if __name__ == "__main__":
    main()
