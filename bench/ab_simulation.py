"""A/B experiments measured by simulation: held-out ml-100k ratings replayed through the
real API (a live stack: PostgreSQL, Redis, a Celery worker, uvicorn).

    python -m bench.ab_simulation [--seeds 40] [--users-per-seed 150] [--out docs/benchmarks.md]

The stack imports the u1 split's training part (u1.base) and trains two versions: a good
MF and a deliberately weak one (1 factor, 1 epoch, strong regularization). Each replayed
u1.test user first fetches recommendations (which records what their arm showed them),
then posts their held-out ratings in one batch (so each is predicted before any is
learned). Two replays:

1. good against weak, 50/50: the metrics endpoint is read after every 10 users; reported
   is when each comparison first reached significance, and where it ended.
2. the good version against itself, once per seed with a new salt: how many runs show
   any significant difference (at EXPERIMENT_ALPHA, Bonferroni over the comparisons).

Between replays the replayed ratings are deleted in PostgreSQL, those users' real-time
states marked stale (re-solved from their u1.base ratings on the next read) and the data
generation moved on, so every API process reloads: each replay starts from the same
trained models and the same users.
Data: ml-100k from ../shared/data (or RECSYS_DATA_DIR).
"""

from __future__ import annotations

import argparse
import os
import random
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

import httpx
import numpy as np
import psycopg

from bench._machine import load_average, machine_info
from bench._markdown import replace_section, table
from service.testing.stack import ADMIN_KEY, CLIENT_KEY, launch_stack, train

REPO = Path(__file__).resolve().parents[1]
ADMIN = {"X-API-Key": ADMIN_KEY}
CLIENT = {"X-API-Key": CLIENT_KEY}
GOOD = {}  # MF with its defaults
WEAK = {"n_factors": 1, "epochs": 1, "regularization": 1000.0, "bias_regularization": 1000.0}
CHECK_EVERY = 10  # users between reads of the metrics in the good-vs-weak replay


def data_dir() -> Path:
    return Path(os.environ.get("RECSYS_DATA_DIR", REPO.parent / "shared" / "data"))


def held_out() -> dict[int, list[tuple[int, float, int]]]:
    by_user: dict[int, list[tuple[int, float, int]]] = {}
    for line in (data_dir() / "ml-100k" / "u1.test").read_text().splitlines():
        user, movie, rating, stamp = line.split("\t")
        by_user.setdefault(int(user), []).append((int(movie), float(rating), int(stamp)))
    return by_user


@dataclass
class Replay:
    ratings: int
    metrics: dict
    first_significant: dict[str, int | None]  # metric -> ratings replayed when it first was
    stayed_significant: dict[str, int | None]  # metric -> ratings from which every later check was too


def start(api: httpx.Client, name: str, salt: str, first: int, second: int) -> int:
    body = {"name": name, "salt": salt, "arms": [{"name": "a", "model_version": first, "share": 0.5},
                                                 {"name": "b", "model_version": second, "share": 0.5}]}
    created = api.post("/api/ml/experiments", json=body, headers=ADMIN)
    assert created.status_code == 201, created.text
    experiment_id = created.json()["id"]
    deadline = time.monotonic() + 30
    probe = 1
    while api.get(f"/api/ml/recommendations/{probe}").json()["experiment_id"] != experiment_id:
        assert time.monotonic() < deadline, "the API never served the experiment"
        time.sleep(0.05)
    return experiment_id


def replay(api: httpx.Client, experiment_id: int, users: list[int], ratings: dict, check_every: int | None) -> Replay:
    replayed = 0
    first: dict[str, int | None] = {"rmse": None, "hit_rate": None}
    stayed: dict[str, int | None] = {"rmse": None, "hit_rate": None}
    for k, user in enumerate(users, 1):
        assert api.get(f"/api/ml/recommendations/{user}", params={"n": 10}).status_code == 200
        batch = [{"user_id": user, "movie_id": m, "rating": r, "timestamp": t} for m, r, t in ratings[user]]
        posted = api.post("/api/ratings/batch", json={"ratings": batch}, headers=CLIENT)
        assert posted.status_code == 201, posted.text
        replayed += len(batch)
        if check_every and k % check_every == 0:
            metrics = api.get(f"/api/ml/experiments/{experiment_id}/metrics").json()
            for comparison in metrics["comparisons"]:
                metric = comparison["metric"]
                if comparison["significant"]:
                    first[metric] = first[metric] or replayed
                    stayed[metric] = stayed[metric] or replayed
                else:
                    stayed[metric] = None
    metrics = api.get(f"/api/ml/experiments/{experiment_id}/metrics").json()
    for comparison in metrics["comparisons"]:
        if not comparison["significant"]:
            stayed[comparison["metric"]] = None
    assert api.post(f"/api/ml/experiments/{experiment_id}/stop", headers=ADMIN).status_code == 200
    return Replay(replayed, metrics, first, stayed)


def reset(pg_url: str, api: httpx.Client, ratings: dict, users: list[int]) -> None:
    """Undo a replay: its ratings and its users' states go, and every process reloads."""
    pairs = [(u, m) for u in users for m, _, _ in ratings[u]]
    loaded_at = api.get("/ready").json()["serving"]["loaded_at"]
    with psycopg.connect(pg_url, autocommit=False) as db:
        db.execute("DELETE FROM ratings r USING unnest(%s::bigint[], %s::bigint[]) AS t(u, m) "
                   "WHERE r.user_id = t.u AND r.movie_id = t.m", ([u for u, _ in pairs], [m for _, m in pairs]))
        # Not deleted: a process keeps a user it holds at a newer revision than the database's.
        # A state of no version is re-solved from the user's ratings on their next read.
        db.execute("UPDATE user_states SET model_version = NULL, revision = revision + 1 WHERE user_id = ANY(%s)",
                   (users,))
        db.execute("UPDATE data_generation SET generation = generation + 1")
    deadline = time.monotonic() + 60
    while api.get("/ready").json()["serving"]["loaded_at"] == loaded_at:
        assert time.monotonic() < deadline, "the API never reloaded"
        time.sleep(0.1)


def _count(ratings: int | None) -> str:
    return "never" if ratings is None else f"{ratings:,} ratings"


def arm_row(metrics: dict, arm: str) -> list[object]:
    a = next(x for x in metrics["arms"] if x["arm"] == arm)
    return [arm, a["n_users"], a["n_ratings"], f"{a['rmse']:.4f}",
            f"{a['rmse_ci']['low']:.4f}..{a['rmse_ci']['high']:.4f}", f"{a['hits']}/{a['exposures']}",
            f"{a['hit_rate']:.4f}", f"{a['hit_rate_ci']['low']:.4f}..{a['hit_rate_ci']['high']:.4f}"]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", type=int, default=40)
    parser.add_argument("--users-per-seed", type=int, default=150)
    parser.add_argument("--out", type=Path, default=None)
    args = parser.parse_args()
    ratings = held_out()
    all_users = sorted(ratings)
    started = time.time()
    with tempfile.TemporaryDirectory() as tmp, \
            launch_stack(Path(tmp), 13, data_dir() / "ml-100k", "--split", "u1") as stack, \
            httpx.Client(base_url=stack.api_urls[0], timeout=120) as api:
        pg_url = stack.env["DATABASE_URL"]
        good = train(api, GOOD, model_type="matrix_factorization", timeout=900)
        weak = train(api, WEAK, model_type="matrix_factorization", timeout=900)
        models = {m["version"]: m for m in api.get("/api/ml/models").json()}

        order = all_users[:]
        random.Random(0).shuffle(order)
        experiment = start(api, "good vs weak", "good-vs-weak-0", good, weak)
        versus = replay(api, experiment, order, ratings, CHECK_EVERY)
        reset(pg_url, api, ratings, order)
        print("good vs weak:", versus.first_significant, versus.metrics["comparisons"], flush=True)

        same: list[dict] = []
        for seed in range(args.seeds):
            users = random.Random(1000 + seed).sample(all_users, min(args.users_per_seed, len(all_users)))
            experiment = start(api, f"A/A seed {seed}", f"aa-{seed}", good, good)
            run = replay(api, experiment, users, ratings, None)
            reset(pg_url, api, ratings, users)
            same.append(run.metrics | {"ratings": run.ratings})
            print(f"A/A seed {seed}: significant={run.metrics['significant']} "
                  f"p={[round(c['p_value'] or 1, 4) for c in run.metrics['comparisons']]}", flush=True)
        load = load_average()
    elapsed = time.time() - started
    report(args, versus, same, models, good, weak, elapsed, load)


def report(args, versus: Replay, same: list[dict], models: dict, good: int, weak: int, elapsed: float,
           load: str) -> None:
    comparisons = {c["metric"]: c for c in versus.metrics["comparisons"]}
    significant_runs = sum(1 for m in same if m["significant"])
    by_metric = {k: sum(1 for m in same for c in m["comparisons"] if c["metric"] == k and c["significant"])
                 for k in ("rmse", "hit_rate")}
    p_rmse = [c["p_value"] for m in same for c in m["comparisons"] if c["metric"] == "rmse" and c["p_value"] is not None]
    header = ["arm", "users", "ratings", "RMSE", "RMSE CI", "hits/exposures", "hit rate", "hit-rate CI"]
    machine = "\n".join(f"- {k}: {v}" for k, v in machine_info(REPO).items())
    body = f"""## A/B experiments by simulation (`bench.ab_simulation`, live stack)

Held-out ml-100k ratings replayed through the real API: the stack imported u1.base; each
replayed u1.test user fetched 10 recommendations, then posted their held-out ratings in one
batch. Alpha {versus.metrics['alpha']} for the family (Bonferroni: each of the 2 comparisons
at {versus.metrics['alpha'] / 2}); a hit is a recommended movie later rated >= {versus.metrics['threshold']}.
Ran {elapsed / 60:.1f} min; load average at the end {load}. The machine was shared with other
agents' test runs while it ran: the figures here are counts and p-values, not speeds.

### Good (v{good}: MF defaults, holdout RMSE {models[good]['holdout_rmse']:.4f}) against weak (v{weak}: {WEAK}, holdout RMSE {models[weak]['holdout_rmse']:.4f}), 50/50

{table(header, [arm_row(versus.metrics, "a"), arm_row(versus.metrics, "b")])}

| metric | difference (b - a) | p-value at the end | significant | better | ratings when first significant | significant at every check from |
| --- | --- | --- | --- | --- | --- | --- |
""" + "\n".join(
        f"| {k} | {c['difference']:+.4f} | {c['p_value']:.2g} | {c['significant']} | {c['better']} | "
        f"{_count(versus.first_significant[k])} | {_count(versus.stayed_significant[k])} |"
        for k, c in comparisons.items()
    ) + f"""

`a` is the good version, `b` the weak one; {versus.ratings} ratings replayed in all, the
metrics read after every {CHECK_EVERY} users. A decision taken at the first significant
look would be one of many looks, which raises the false-positive rate: read these counts
as how much data a difference of this size needs, and decide on a planned sample size.

### The good version against itself: {args.seeds} seeds (a new salt each), {args.users_per_seed} users each

- runs with any significant difference: **{significant_runs} of {len(same)}**
  ({100 * (1 - significant_runs / len(same)):.1f}% without one; the goal is at least 95%)
- significant by metric: RMSE {by_metric['rmse']}, hit rate {by_metric['hit_rate']}
- ratings per run: median {int(np.median([m['ratings'] for m in same]))}
- RMSE p-values: median {np.median(p_rmse):.2f}, smallest {min(p_rmse):.3f}

### Machine

{machine}
"""
    print(body)
    if args.out:
        replace_section(args.out, "ab-simulation", body)


if __name__ == "__main__":
    main()
