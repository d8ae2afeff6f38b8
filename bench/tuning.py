"""Hyperparameter search on the live stack: does a 30-trial study beat the defaults on the
holdout, and do two workers finish a study sooner than one?

On ml-100k (PostgreSQL, Redis, Celery workers, uvicorn, as in production), for the
ensemble (judged on holdout NDCG@10) and MF (holdout RMSE): a version trained with the
type's defaults, then a study of ``--trials`` trials over the type's default space whose
best trial is retrained into a version through the same pipeline. Both versions are
evaluated on the same holdout, which the study never saw (its trials are scored on a
validation split carved from the training part). Then the ensemble's study again with
one worker and with two, timed.

    python -m bench.tuning [--trials 30] [--out docs/benchmarks.md]
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

import httpx

from bench._machine import machine_info
from bench._markdown import replace_section, table
from service.testing.stack import ADMIN_KEY, REPO, Stack, launch_stack, train
from tests.conftest import data_dir

ADMIN = {"X-API-Key": ADMIN_KEY}
METRIC = {"ensemble": ("holdout_ndcg", "NDCG@10", "higher"), "matrix_factorization": ("holdout_rmse", "RMSE", "lower")}


def version(client: httpx.Client, number: int) -> dict:
    return next(v for v in client.get("/api/ml/models").json() if v["version"] == number)


def run_study(client: httpx.Client, model_type: str, trials: int, timeout: float = 7200, folds: int = 1) -> dict:
    """Start a study over the type's default space and wait for it; adds its wall times."""
    started = time.monotonic()
    response = client.post("/api/ml/tune", json={"model_type": model_type, "n_trials": trials,
                                                    "validation_folds": folds}, headers=ADMIN)
    assert response.status_code == 202, response.text
    study_id = response.json()["study_id"]
    trials_done = None
    while True:
        study = client.get(f"/api/ml/tune/{study_id}").json()
        if trials_done is None and study["status"] != "running":
            trials_done = time.monotonic() - started
        if study["status"] in ("succeeded", "failed", "cancelled"):
            break
        assert time.monotonic() - started < timeout, study
        time.sleep(0.5)
    assert study["status"] == "succeeded", study
    study["trials_seconds"] = trials_done
    study["total_seconds"] = time.monotonic() - started
    return study


def compare(client: httpx.Client, model_type: str, study: dict, default_version: int) -> list[object]:
    key, label, better = METRIC[model_type]
    default, tuned = version(client, default_version)[key], study["version"][key]
    beats = tuned > default if better == "higher" else tuned < default
    states = [t["state"] for t in study["trials"]]
    return [
        model_type, f"holdout {label} ({better} is better)", f"{default:.4f}", f"{tuned:.4f}",
        f"{study['best_value']:.4f}", f"{states.count('complete')}/{states.count('pruned')}/{states.count('failed')}",
        "yes" if beats else "NO",
    ]


def measure_mf(stack: Stack, trials: int, folds: int) -> dict[str, object]:
    """MF alone: its default, then one study with two workers."""
    with httpx.Client(base_url=stack.api_urls[0], timeout=60) as client:
        default = train(client, timeout=900, model_type="matrix_factorization")
        stack.start_worker()
        mf = run_study(client, "matrix_factorization", trials, folds=folds)
        return {"quality": [compare(client, "matrix_factorization", mf, default)], "studies": [mf]}


def measure(stack: Stack, trials: int) -> dict[str, object]:
    with httpx.Client(base_url=stack.api_urls[0], timeout=60) as client:
        defaults = {t: train(client, timeout=900, model_type=t) for t in METRIC}
        one_worker = run_study(client, "ensemble", trials)
        stack.start_worker()
        two_workers = run_study(client, "ensemble", trials)
        mf = run_study(client, "matrix_factorization", trials)
        quality = [
            compare(client, "ensemble", one_worker, defaults["ensemble"]),
            compare(client, "ensemble", two_workers, defaults["ensemble"]),
            compare(client, "matrix_factorization", mf, defaults["matrix_factorization"]),
        ]
    timing = [
        [workers, study["trials_seconds"], study["total_seconds"]]
        for workers, study in ((1, one_worker), (2, two_workers))
    ]
    return {"quality": quality, "timing": timing, "studies": [one_worker, two_workers, mf]}


def report(results: dict[str, object], trials: int) -> str:
    timing = results["timing"]
    speedup = timing[0][1] / timing[1][1]
    machine = "\n".join(f"- {k}: {v}" for k, v in machine_info(REPO).items())
    best_params = "\n".join(
        f"- {s['model_type']} (study {i + 1}): `{s['best_params']}`" for i, s in enumerate(results["studies"])
    )
    return "\n\n".join([
        "## Hyperparameter search (`bench.tuning`, live stack)",
        f"`python -m bench.tuning --trials {trials}`: ml-100k on the live stack (PostgreSQL with Optuna in its own "
        "schema, Redis, Celery workers, uvicorn). For each type a version trained with its defaults, then a study of "
        f"{trials} trials over the type's default space (`GET /api/ml/tune/spaces`, TPE + median pruning); its best "
        "trial is retrained on all ratings through the normal pipeline. Both versions are evaluated on the same "
        "holdout, which no trial saw: trials are scored on a validation split carved from the training part. "
        "Objective: full-catalogue NDCG@10 for the ensemble, RMSE for MF (what each is gated on).",
        table(["type", "holdout metric", "default", "tuned", "best validation", "trials complete/pruned/failed",
               "tuned beats default"], results["quality"], "llrrrrl"),
        "The ensemble's two rows are two studies (one worker, then two); TPE is randomized, so they differ.",
        "Best trials:\n\n" + best_params,
        f"Wall time of the ensemble's {trials}-trial study (seconds; trials: until the budget was spent; total: "
        "including the retrain of the best trial and its holdout evaluation):",
        table(["workers", "trials", "total"], [[w, f"{a:.1f}", f"{b:.1f}"] for w, a, b in timing]),
        f"Two workers finished the trials {speedup:.2f}x as fast as one. Each worker runs one trial at a time "
        "(`--concurrency=1`); on this 2-core machine, shared with other jobs while it ran (see the load average), two "
        "workers are all the cores there are, so the speed-up is bounded by 2 and by what else ran.",
        "Machine:\n\n" + machine,
    ])


def report_mf(results: dict[str, object], trials: int, folds: int) -> str:
    machine = "\n".join(f"- {k}: {v}" for k, v in machine_info(REPO).items())
    study = results["studies"][0]
    return "\n\n".join([
        f"### MF alone (`python -m bench.tuning --mf-only --trials {trials} --folds {folds}`)",
        f"The same comparison for MF only, one study on two workers, each trial scored on the mean of {folds} "
        "validation splits carved from the training part (`validation_folds`).",
        table(["type", "holdout metric", "default", "tuned", "best validation", "trials complete/pruned/failed",
               "tuned beats default"], results["quality"], "llrrrrl"),
        f"Best trial: `{study['best_params']}` (trial {study['best_trial']}; trial 0 is the defaults).",
        "Machine:\n\n" + machine,
    ])


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m bench.tuning", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--trials", type=int, default=30)
    parser.add_argument("--mf-only", action="store_true",
                        help="only MF's default against one study (two workers), into its own section")
    parser.add_argument("--folds", type=int, default=3, help="validation_folds of the --mf-only study")
    parser.add_argument("--out", type=Path, default=REPO / "docs" / "benchmarks.md")
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory() as tmp, launch_stack(Path(tmp), 13, data_dir() / "ml-100k") as stack:
        results = measure_mf(stack, args.trials, args.folds) if args.mf_only else measure(stack, args.trials)
    body = report_mf(results, args.trials, args.folds) if args.mf_only else report(results, args.trials)
    print(body)
    replace_section(args.out, "tuning-mf" if args.mf_only else "tuning", body)


if __name__ == "__main__":
    main()
