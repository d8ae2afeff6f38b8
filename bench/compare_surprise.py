"""Benchmark recsys_core against Surprise's SVD in one run on one machine.

    python -m bench.compare_surprise            # everything, ~5 min on 2 cores
    python -m bench.compare_surprise --quick    # skip the 10M-rating synthetic size

Prints the results as markdown and writes them to the ``compare_surprise``
section of ``docs/benchmarks.md`` (``--out``). MovieLens is read from
``$RECSYS_DATA_DIR`` (default ``../shared/data`` next to the repository).
Needs the ``bench`` extra (scikit-surprise, psutil).

What is measured, and how, is written into the generated section itself
(:func:`_method_notes`), next to the numbers.
"""

from __future__ import annotations

import argparse
import gc
import itertools
import json
import math
import os
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from bench._machine import load_average, machine_info
from bench._markdown import replace_section, table
from recsys_core import (
    EvaluationReport,
    MatrixFactorization,
    MFParams,
    evaluate,
    kfold_splits,
    load_movielens,
    official_movielens_split,
    synthetic_ratings,
)
from recsys_core._als import solver_threads
from recsys_core.evaluation import mae, rmse

REPO = Path(__file__).resolve().parents[1]
SECTION = "compare_surprise"
LIBS = ("recsys_core", "Surprise SVD")
K = 10

# Targets of the issue.
ML100K_RMSE_MAX = 0.910
ML_SMALL_RMSE_MAX = 0.860
SYNTH_FIT_RATIO_MAX = 1 / 3
RMSE_UNCHANGED_MAX = 0.0005  # the compiled solver against the numpy one, per fold
IMPORT_MAX_S = 1.0
GROWTH_PER_10X_MAX = 15.0  # "about linear": exponent log10(ratio) <= 1.18
PEAK_MEMORY_MAX_GB = 3.0
SYNTH_GENERATE_MAX_S = 20.0  # synthetic_ratings alone at 10M (was a wall-clock test)
TOPN_LATENCY_MAX_MS = 1.0
FOLD_IN_LATENCY_MAX_MS = 2.0

# Synthetic sizes: 10M = 70K users x 10K items; smaller sizes scale both sides by
# sqrt(n / 10M), keeping the 7:1 shape and the density (1.43%) of the 10M set.
SYNTH_SIZES = (100_000, 1_000_000, 10_000_000)
SYNTH_HOLDOUT = 0.10
LATENCY_SHAPE = (7_000, 10_000, 1_000_000)  # users, items, ratings of the latency model
LATENCY_TOPN_CALLS = 1_000
LATENCY_FOLD_IN_CALLS = 500
LATENCY_FOLD_IN_RATINGS = 200

Log = Callable[[str], None]


def data_dir() -> Path:
    """MovieLens data folder: ``$RECSYS_DATA_DIR``, else ``../shared/data`` next to the repo."""
    return Path(os.environ.get("RECSYS_DATA_DIR", REPO.parent / "shared" / "data")).resolve()


def _require(path: Path, what: str) -> Path:
    if not path.exists():
        raise SystemExit(f"{what} expected at {path}; set RECSYS_DATA_DIR to the data folder")
    return path


def _timed(fn: Callable[..., Any], *args: Any, **kwargs: Any) -> tuple[float, Any]:
    """``(seconds, fn(*args, **kwargs))``."""
    t0 = time.perf_counter()
    out = fn(*args, **kwargs)
    return time.perf_counter() - t0, out


def _median_seconds(fn: Callable[[], Any], repeats: int) -> float:
    return statistics.median(_timed(fn)[0] for _ in range(repeats))


def _surprise_defaults() -> tuple[int, int]:
    from surprise import SVD

    algo = SVD()
    return int(algo.n_factors), int(algo.n_epochs)


# ---------------------------------------------------------------------------
# ml-100k, official u1..u5


@dataclass
class FoldResult:
    fold: str
    rmse: float
    mae: float
    fit_s: float
    prep_s: float
    predictions_per_s: float
    topn_all_users_s: float
    n_users: int
    report: EvaluationReport
    numpy_solver_rmse: float | None = None  # the same fit on the numpy solver


def _fold_recsys(name: str, train: Any, test: Any) -> FoldResult:
    model = MatrixFactorization()
    fit_s, _ = _timed(model.fit, train, rating_scale=(1.0, 5.0))
    numpy_model = MatrixFactorization(solver="vectorized").fit(train, rating_scale=(1.0, 5.0))
    numpy_rmse = rmse(test["rating"].to_numpy(), numpy_model.predict(test["user_id"].to_numpy(), test["item_id"].to_numpy()))
    users, items = test["user_id"].to_numpy(), test["item_id"].to_numpy()
    pred_s = _median_seconds(lambda: model.predict(users, items), 5)
    all_users = model.user_ids
    topn_s = _median_seconds(lambda: model.recommend_batch(all_users, n=K, exclude_seen=True), 3)
    report = evaluate(model, train, test, k=K)
    return FoldResult(
        name,
        report.rmse,
        report.mae,
        fit_s,
        0.0,
        len(test) / pred_s,
        topn_s,
        len(all_users),
        report,
        numpy_rmse,
    )


def _fold_surprise(name: str, train: Any, test: Any) -> FoldResult:
    from surprise import SVD

    from bench._surprise import SurpriseAdapter, to_trainset

    prep_s, trainset = _timed(to_trainset, train, (1.0, 5.0))
    algo = SVD(random_state=0)
    fit_s, _ = _timed(algo.fit, trainset)
    testset = list(zip(test["user_id"].tolist(), test["item_id"].tolist(), test["rating"].tolist()))
    pred_s = _median_seconds(lambda: algo.test(testset), 3)
    adapter = SurpriseAdapter(algo, trainset)
    # One timed run over every user; evaluate() then reuses these cached lists.
    topn_s, _ = _timed(adapter.recommend_batch, adapter.user_ids, n=K, exclude_seen=True)
    report = evaluate(adapter, train, test, k=K)
    return FoldResult(
        name,
        report.rmse,
        report.mae,
        fit_s,
        prep_s,
        len(test) / pred_s,
        topn_s,
        len(adapter.user_ids),
        report,
    )


def run_ml100k(folder: Path, log: Log) -> dict[str, list[FoldResult]]:
    """Both libraries, default hyperparameters, on the official u1..u5 splits."""
    splits = {f"u{i}": official_movielens_split(folder, f"u{i}") for i in range(1, 6)}
    # Warm-up (imports, BLAS threads, allocator) so fold u1 is not charged for it.
    warm = splits["u1"]
    MatrixFactorization().fit(warm.train, rating_scale=(1.0, 5.0))
    _fold_surprise("warm-up", warm.train, warm.test.head(100))
    out: dict[str, list[FoldResult]] = {lib: [] for lib in LIBS}
    for name, split in splits.items():
        out["recsys_core"].append(_fold_recsys(name, split.train, split.test))
        out["Surprise SVD"].append(_fold_surprise(name, split.train, split.test))
        log(
            f"ml-100k {name}: RMSE {out['recsys_core'][-1].rmse:.4f} vs "
            f"{out['Surprise SVD'][-1].rmse:.4f}"
        )
    return out


# ---------------------------------------------------------------------------
# ml-latest-small, 5-fold


def run_ml_latest_small(folder: Path, log: Log) -> dict[str, list[dict[str, float]]]:
    """Both libraries, default hyperparameters, ``kfold_splits(k=5, seed=0)``."""
    from surprise import SVD

    from bench._surprise import to_trainset

    dataset = load_movielens(folder)
    scale = dataset.rating_scale
    out: dict[str, list[dict[str, float]]] = {lib: [] for lib in LIBS}
    for n, split in enumerate(kfold_splits(dataset.ratings, k=5, seed=0), start=1):
        y = split.test["rating"].to_numpy()
        model = MatrixFactorization()
        fit_s, _ = _timed(model.fit, split.train, rating_scale=scale)
        pred = model.predict(split.test["user_id"].to_numpy(), split.test["item_id"].to_numpy())
        out["recsys_core"].append({"rmse": rmse(y, pred), "mae": mae(y, pred), "fit_s": fit_s})

        trainset = to_trainset(split.train, scale)
        algo = SVD(random_state=0)
        fit_s, _ = _timed(algo.fit, trainset)
        testset = list(zip(split.test["user_id"].tolist(), split.test["item_id"].tolist(), y))
        pred = np.array([p.est for p in algo.test(testset)])
        out["Surprise SVD"].append({"rmse": rmse(y, pred), "mae": mae(y, pred), "fit_s": fit_s})
        log(
            f"ml-latest-small fold {n}: RMSE {out['recsys_core'][-1]['rmse']:.4f} vs "
            f"{out['Surprise SVD'][-1]['rmse']:.4f}"
        )
    return out


# ---------------------------------------------------------------------------
# Synthetic scaling, one fresh subprocess per fit


@dataclass
class SynthRun:
    n_ratings: int
    n_users: int
    n_items: int
    noise_std: float
    oracle_rmse: float
    generate_s: float  # synthetic_ratings alone, without the split and the files
    results: dict[str, dict[str, Any]] = field(default_factory=dict)


def synth_shape(n_ratings: int) -> tuple[int, int]:
    """Users and items for ``n_ratings``: 70K x 10K at 10M, both scaled by sqrt(n / 10M)."""
    s = math.sqrt(n_ratings / 10_000_000)
    return round(70_000 * s), round(10_000 * s)


def _write_split(folder: Path, n_ratings: int) -> SynthRun:
    n_users, n_items = synth_shape(n_ratings)
    generate_s, ds = _timed(synthetic_ratings, n_users, n_items, n_ratings, seed=0)
    r = ds.ratings
    users = r["user_id"].to_numpy()
    items = r["item_id"].to_numpy()
    values = r["rating"].to_numpy()
    order = np.random.default_rng(0).permutation(len(r))
    n_test = round(SYNTH_HOLDOUT * len(r))
    parts = {"test": np.sort(order[:n_test]), "train": np.sort(order[n_test:])}
    for part, idx in parts.items():
        np.save(folder / f"{part}_user.npy", users[idx])
        np.save(folder / f"{part}_item.npy", items[idx])
        np.save(folder / f"{part}_rating.npy", values[idx])
    test = parts["test"]
    oracle = rmse(values[test], ds.expected_rating(users[test], items[test]))
    return SynthRun(n_ratings, n_users, n_items, ds.noise_std, oracle, generate_s)


def _fit_in_subprocess(config: SynthConfig, folder: Path) -> dict:
    cmd = [sys.executable, "-m", "bench._fit_worker", config.library, str(folder)]
    if config.n_factors is not None:
        cmd += ["--n-factors", str(config.n_factors)]
    if config.epochs is not None:
        cmd += ["--epochs", str(config.epochs)]
    if config.solver is not None:
        cmd += ["--solver", config.solver]
    env = {
        **os.environ,
        "PYTHONPATH": os.pathsep.join(filter(None, [str(REPO), os.environ.get("PYTHONPATH")])),
    }
    if config.threads is not None:
        env["RECSYS_THREADS"] = str(config.threads)
    proc = subprocess.run(cmd, cwd=REPO, env=env, capture_output=True, text=True, check=False)
    if proc.returncode != 0:
        raise RuntimeError(f"{' '.join(cmd)} failed ({proc.returncode}):\n{proc.stderr}")
    return json.loads(proc.stdout.strip().splitlines()[-1])


@dataclass(frozen=True)
class SynthConfig:
    """One fit of the synthetic table; None = the library's (or machine's) default."""

    label: str
    library: str  # the worker's library argument
    n_factors: int | None = None
    epochs: int | None = None
    solver: str | None = None
    threads: int | None = None  # RECSYS_THREADS


RC_ALL = "recsys_core"  # compiled solver, every usable thread: what a fit gets by default
RC_ONE = "recsys_core, 1 thread"
RC_NUMPY = "recsys_core, numpy solver"
SURPRISE = "Surprise SVD"


def synth_configs() -> list[SynthConfig]:
    params = MFParams()
    sf, se = _surprise_defaults()
    return [
        SynthConfig(RC_ALL, "recsys_core"),
        SynthConfig(RC_ONE, "recsys_core", threads=1),
        SynthConfig(RC_NUMPY, "recsys_core", solver="vectorized"),
        SynthConfig(SURPRISE, "surprise", params.n_factors, params.epochs),
        SynthConfig(f"Surprise SVD, its defaults ({sf} f, {se} ep)", "surprise"),
    ]


def run_synthetic(sizes: tuple[int, ...], log: Log) -> list[SynthRun]:
    runs = []
    for n in sizes:
        with tempfile.TemporaryDirectory(prefix="recsys-bench-") as tmp:
            folder = Path(tmp)
            gen_s, run = _timed(_write_split, folder, n)
            gc.collect()
            log(
                f"synthetic {n:,}: {run.n_users:,} users x {run.n_items:,} items, drawn in "
                f"{run.generate_s:.1f}s ({gen_s:.1f}s with the split written to disk)"
            )
            for config in synth_configs():
                res = run.results[config.label] = _fit_in_subprocess(config, folder)
                log(
                    f"  {config.label}: fit {res['fit_s']:.2f}s, RMSE {res['rmse']:.4f}, "
                    f"peak {res['peak_process_mb']:.0f} MB"
                )
        runs.append(run)
    return runs


# ---------------------------------------------------------------------------
# Start-up: importing recsys_core, and the compiled kernel's first use

_IMPORT_CODE = "import time; t = time.perf_counter(); import recsys_core; print(time.perf_counter() - t)"
_FIRST_FIT_CODE = """\
import sys, time
from recsys_core import MatrixFactorization, official_movielens_split
train = official_movielens_split(sys.argv[1], "u1").train
for _ in range(2):
    t = time.perf_counter()
    MatrixFactorization().fit(train, rating_scale=(1.0, 5.0))
    print(time.perf_counter() - t)
"""


def _python(code: str, *args: str, env: dict[str, str] | None = None) -> list[float]:
    proc = subprocess.run(
        [sys.executable, "-c", code, *args], cwd=REPO, env={**os.environ, **(env or {})},
        capture_output=True, text=True, check=True,
    )
    return [float(line) for line in proc.stdout.split()]


def run_startup(ml100k_dir: Path, log: Log) -> dict[str, float]:
    """``import recsys_core`` in a new interpreter (median of 5), and a new process's
    first and second ml-100k u1 fit, with an empty numba cache (the kernel compiles)
    and with the cache that run left on disk."""
    imports = [_python(_IMPORT_CODE)[0] for _ in range(5)]
    with tempfile.TemporaryDirectory(prefix="recsys-numba-") as cache:
        env = {"NUMBA_CACHE_DIR": cache}
        compile_first, compile_second = _python(_FIRST_FIT_CODE, str(ml100k_dir), env=env)
        cached_first, cached_second = _python(_FIRST_FIT_CODE, str(ml100k_dir), env=env)
    out = {
        "import_s": statistics.median(imports),
        "first_fit_empty_cache_s": compile_first,
        "first_fit_cached_s": cached_first,
        "warm_fit_s": statistics.median([compile_second, cached_second]),
    }
    log(
        f"start-up: import {out['import_s']:.2f}s; first ml-100k fit {compile_first:.2f}s "
        f"(empty cache), {cached_first:.2f}s (cached), then {out['warm_fit_s']:.2f}s"
    )
    return out


# ---------------------------------------------------------------------------
# Latency of recsys_core


def _latencies_ms(fn: Callable[[int], Any], calls: int, warmup: int = 20) -> dict[str, float]:
    for j in range(warmup):
        fn(j)
    samples = np.empty(calls)
    for j in range(calls):
        t0 = time.perf_counter_ns()
        fn(j)
        samples[j] = (time.perf_counter_ns() - t0) / 1e6
    return {
        "median_ms": float(np.median(samples)),
        "p95_ms": float(np.percentile(samples, 95)),
        "calls": calls,
    }


def run_latency(log: Log) -> dict[str, Any]:
    """Top-10 for one known user, and a new user's state solved from 200 ratings plus
    their top-10 (the real-time path), on a model with 10K items."""
    n_users, n_items, n_ratings = LATENCY_SHAPE
    ds = synthetic_ratings(n_users, n_items, n_ratings, seed=1)
    model = MatrixFactorization().fit(ds.ratings)
    rng = np.random.default_rng(1)
    users = rng.choice(model.user_ids, size=LATENCY_TOPN_CALLS + 20)
    topn = _latencies_ms(lambda j: model.recommend(model.trained_profile(users[j]), n=K), LATENCY_TOPN_CALLS)

    planted_user = 0  # ratings of a plausible user: planted scores of user 0 plus noise
    item_sets = [
        rng.choice(model.item_ids, size=LATENCY_FOLD_IN_RATINGS, replace=False) for _ in range(20)
    ]
    ratings = [
        ds.expected_rating(np.full(len(s), planted_user), s) + rng.normal(0, ds.noise_std, len(s))
        for s in item_sets
    ]
    fold = _latencies_ms(  # user_states of one user, then recommend from the profile
        lambda j: model.recommend(model.profile(item_sets[j % 20], ratings[j % 20]), n=K),
        LATENCY_FOLD_IN_CALLS,
    )
    log(f"latency: top-{K} {topn['median_ms']:.3f} ms, user state + top-{K} {fold['median_ms']:.3f} ms")
    return {"shape": LATENCY_SHAPE, "topn": topn, "fold_in": fold}


# ---------------------------------------------------------------------------
# Targets and report


@dataclass(frozen=True)
class Target:
    name: str
    target: str
    measured: str
    status: str  # PASS, FAIL or SKIP


def _mean(values: list[float]) -> float:
    return float(np.mean(values))


def _check(ok: bool | None) -> str:
    return "SKIP" if ok is None else ("PASS" if ok else "FAIL")


def compute_targets(
    ml100k: dict[str, list[FoldResult]],
    small: dict[str, list[dict[str, float]]],
    synth: list[SynthRun],
    latency: dict[str, Any],
    startup: dict[str, float],
) -> list[Target]:
    rc, sv = ml100k["recsys_core"], ml100k["Surprise SVD"]
    out = []
    r = _mean([f.rmse for f in rc])
    out.append(
        Target(
            "ml-100k mean RMSE (u1..u5)",
            f"<= {ML100K_RMSE_MAX}",
            f"{r:.4f}",
            _check(r <= ML100K_RMSE_MAX),
        )
    )
    ratio = _mean([f.fit_s for f in rc]) / _mean([f.fit_s for f in sv])
    out.append(
        Target(
            "ml-100k fit time vs Surprise (defaults)",
            "ratio <= 1",
            f"{ratio:.2f}x",
            _check(ratio <= 1),
        )
    )
    r = _mean([f["rmse"] for f in small["recsys_core"]])
    out.append(
        Target(
            "ml-latest-small mean RMSE (5-fold)",
            f"<= {ML_SMALL_RMSE_MAX}",
            f"{r:.4f}",
            _check(r <= ML_SMALL_RMSE_MAX),
        )
    )
    diff = max(abs(f.rmse - f.numpy_solver_rmse) for f in rc if f.numpy_solver_rmse is not None)
    out.append(
        Target(
            "ml-100k RMSE unchanged: compiled vs numpy solver, worst fold",
            f"difference <= {RMSE_UNCHANGED_MAX}",
            f"{diff:.5f}",
            _check(diff <= RMSE_UNCHANGED_MAX),
        )
    )
    by_size = {run.n_ratings: run for run in synth}
    for n in (1_000_000, 10_000_000):
        run = by_size.get(n)
        for label, threads in ((RC_ONE, "1 thread"), (RC_ALL, f"all {solver_threads()} threads")):
            name = f"synthetic {_size(n)} fit time vs Surprise (same f, epochs), {threads}"
            if run is None:
                out.append(Target(name, "ratio <= 0.33", "not run (--quick)", "SKIP"))
                continue
            ratio = run.results[label]["fit_s"] / run.results[SURPRISE]["fit_s"]
            out.append(Target(name, "ratio <= 0.33", f"{ratio:.2f}x", _check(ratio <= SYNTH_FIT_RATIO_MAX)))
    growth = _growth(synth, RC_ALL)
    if growth:
        worst = max(g for _, g in growth)
        text = ", ".join(f"{label}: x{g:.1f}" for label, g in growth)
        out.append(
            Target(
                "synthetic fit time grows ~linearly",
                f"<= x{GROWTH_PER_10X_MAX:.0f} per 10x",
                text,
                _check(worst <= GROWTH_PER_10X_MAX),
            )
        )
    run = by_size.get(10_000_000)
    if run is None:
        out.append(
            Target(
                "synthetic 10M peak memory",
                f"<= {PEAK_MEMORY_MAX_GB} GB",
                "not run (--quick)",
                "SKIP",
            )
        )
    else:
        gb = run.results[RC_ALL]["peak_process_mb"] / 1024
        out.append(
            Target(
                "synthetic 10M peak memory",
                f"<= {PEAK_MEMORY_MAX_GB} GB",
                f"{gb:.2f} GB",
                _check(gb <= PEAK_MEMORY_MAX_GB),
            )
        )
    out.append(
        Target(
            "synthetic 10M ratings drawn (synthetic_ratings)",
            f"<= {SYNTH_GENERATE_MAX_S:.0f} s",
            "not run (--quick)" if run is None else f"{run.generate_s:.1f} s",
            "SKIP" if run is None else _check(run.generate_s <= SYNTH_GENERATE_MAX_S),
        )
    )
    out.append(
        Target(
            "`import recsys_core` (new interpreter, median of 5)",
            f"< {IMPORT_MAX_S:.0f} s",
            f"{startup['import_s']:.2f} s",
            _check(startup["import_s"] < IMPORT_MAX_S),
        )
    )
    ms = latency["topn"]["median_ms"]
    out.append(
        Target(
            f"top-{K} for one user, 10K items (median)",
            f"< {TOPN_LATENCY_MAX_MS} ms",
            f"{ms:.3f} ms",
            _check(ms < TOPN_LATENCY_MAX_MS),
        )
    )
    ms = latency["fold_in"]["median_ms"]
    out.append(
        Target(
            f"user state from {LATENCY_FOLD_IN_RATINGS} ratings + top-{K} (median)",
            f"< {FOLD_IN_LATENCY_MAX_MS} ms",
            f"{ms:.3f} ms",
            _check(ms < FOLD_IN_LATENCY_MAX_MS),
        )
    )
    return out


def _growth(synth: list[SynthRun], label: str) -> list[tuple[str, float]]:
    """Fit-time ratio of each 10x step: ``[("100K->1M", ratio), ...]``."""
    runs = sorted(synth, key=lambda r: r.n_ratings)
    return [
        (
            f"{_size(a.n_ratings)}->{_size(b.n_ratings)}",
            b.results[label]["fit_s"] / a.results[label]["fit_s"],
        )
        for a, b in itertools.pairwise(runs)
    ]


def _size(n: int) -> str:
    return f"{n // 1_000_000}M" if n >= 1_000_000 else f"{n // 1_000}K"


def _f(x: float | None, digits: int = 3) -> str:
    return "n/a" if x is None or (isinstance(x, float) and math.isnan(x)) else f"{x:.{digits}f}"


def _method_notes(quick: bool) -> str:
    p = MFParams()
    sf, se = _surprise_defaults()
    return f"""\
- **Hyperparameters.** Both libraries run with their defaults: recsys_core
  `MatrixFactorization()` ({p.n_factors} factors, {p.epochs} ALS epochs, regularization
  {p.regularization}, exponent {p.regularization_exponent}, bias regularization
  {p.bias_regularization}); Surprise `SVD(random_state=0)` ({sf} factors, {se} SGD epochs,
  lr 0.005, reg 0.02; `random_state` only fixes the seed). On the synthetic data Surprise
  is given recsys_core's default `n_factors={p.n_factors}` and `n_epochs={p.epochs}`, so
  both do the same amount of model; Surprise at its own defaults is shown there for
  information only.
- **Fit time** is wall time of `fit` alone. For recsys_core it includes encoding the
  ratings frame into CSR; for Surprise it excludes building the `Trainset`
  (`Dataset.load_from_df(...).build_full_trainset()`, shown as "Surprise prep"), which
  favours Surprise. In the synthetic table each process first fits 2,000 ratings once,
  untimed, so neither library's timed fit pays a first-use cost (for recsys_core,
  importing numba and loading the cached kernel; the start-up table gives that cost).
- **Solver and threads.** "recsys_core" is the default: the compiled (numba) solver on
  every usable thread ({solver_threads()} here, `RECSYS_THREADS` unset). "1 thread" is the same
  with `RECSYS_THREADS=1`, the honest comparison with Surprise, whose SGD is
  single-threaded. "numpy solver" is `solver="vectorized"`, the kernel before the
  compiled one, on every thread.
- **Predictions/s**: recsys_core `predict(users, items)` on the whole test set (median
  of 5); Surprise `algo.test(testset)` (median of 3, testset list built beforehand).
- **Top-{K} for every user**: recsys_core `recommend_batch(all users, n={K},
  exclude_seen=True)` (median of 3). Surprise has no top-N call: for each user, every
  catalogue item not rated in train is scored with `algo.predict(uid, iid, clip=False)`
  (what `test()` on the user's anti-testset does, unclipped so ranks above 5 stay apart)
  and the top {K} taken with numpy; one run over all users, no extrapolation. Scoring
  with numpy on Surprise's `pu`/`qi`/`bu`/`bi` arrays is not done: it would time numpy.
- **Ranking metrics**: the same `recsys_core.evaluation.evaluate(model, train, test,
  k={K})` scores both; Surprise is wrapped in `bench/_surprise.py:SurpriseAdapter`
  (`predict`, `recommend_batch`, `item_ids`, `rating_scale`), which reuses the top-{K}
  lists of the timed run. Full-catalogue protocol: relevant = test rating >= 4;
  candidate protocol: each user's own test items, threshold 3.5. Catalogue = items seen
  in train.
- **Synthetic**: `synthetic_ratings(n_users, n_items, n, seed=0)` (rank 8, Gaussian noise
  0.5, Zipf item popularity, unrounded), 10M = 70K users x 10K items, smaller sizes scale
  users and items by sqrt(n/10M) (same 7:1 shape and density). A random 10% of the
  ratings is held out; the noise floor is the noise std (0.5) and the oracle RMSE is that
  of the planted noise-free ratings on the same holdout. Each fit runs in a fresh
  subprocess (`python -m bench._fit_worker`) that loads the split from `.npy` files.
  **Peak RSS** is that process's `VmHWM` (`/proc/self/status`): "process" is its whole
  life (data, Surprise's trainset, fit, holdout predictions), "fit" is from just before
  `fit` (high-water mark reset via `/proc/self/clear_refs`) to its end, data included.
  The 10M memory target uses the process figure.{" The 10M size was skipped (`--quick`)." if quick else ""}
- **Latency** (recsys_core only): a model fitted on `synthetic_ratings({LATENCY_SHAPE[0]:,},
  {LATENCY_SHAPE[1]:,}, {LATENCY_SHAPE[2]:,})` (10K items). `recommend(trained_profile(user),
  n={K})` for {LATENCY_TOPN_CALLS} random known users, and the real-time path for a new user:
  `recommend(profile(items, ratings), n={K})`, i.e. `user_states` of {LATENCY_FOLD_IN_RATINGS}
  ratings then top-{K} ({LATENCY_FOLD_IN_CALLS} calls cycling over 20 item sets), timed one call at a time after
  20 warm-up calls; median and 95th percentile.
- **Timing noise**: every figure is one run (or a small median) on the machine above,
  whose load average at start and end is recorded: when it exceeds the core count,
  other work shared the CPU and the timings are slower and noisier than on an idle box.
- **RMSE unchanged**: every ml-100k fold is also fit with `solver="vectorized"`; the
  target is the largest per-fold RMSE difference between the two solvers.
- **Start-up**: `import recsys_core` timed inside a new interpreter; the first-fit rows
  run `MatrixFactorization().fit` twice in a new process, first with `NUMBA_CACHE_DIR`
  pointing at an empty folder (the kernel compiles), then again in a second process on
  the cache the first one wrote.
- **Growth target**: "about linear" is read as each 10x more ratings multiplying
  recsys_core's fit time by at most {GROWTH_PER_10X_MAX:.0f} (exponent <= 1.18)."""


def render(
    machine: dict[str, str],
    ml100k: dict[str, list[FoldResult]],
    small: dict[str, list[dict[str, float]]],
    synth: list[SynthRun],
    latency: dict[str, Any],
    startup: dict[str, float],
    targets: list[Target],
    quick: bool,
    total_s: float,
) -> str:
    command = "python -m bench.compare_surprise" + (" --quick" if quick else "")
    parts = [
        "## recsys_core vs Surprise SVD",
        f"Generated by `{command}` in {total_s / 60:.1f} min; do not edit by hand.",
        "### Machine",
        table(["", ""], [[k, v] for k, v in machine.items()], "ll"),
        "### Targets",
        table(
            ["Target", "Goal", "Measured", "Result"],
            [[t.name, t.target, t.measured, f"**{t.status}**"] for t in targets],
            "llll",
        ),
    ]

    rows = []
    for lib in LIBS:
        for f in ml100k[lib]:
            rows.append(
                [
                    lib,
                    f.fold,
                    _f(f.rmse, 4),
                    _f(f.mae, 4),
                    _f(f.fit_s, 2),
                    f"{f.predictions_per_s:,.0f}",
                    _f(f.topn_all_users_s, 3),
                ]
            )
        folds = ml100k[lib]
        rows.append(
            [
                f"**{lib}**",
                "**mean**",
                f"**{_mean([f.rmse for f in folds]):.4f}**",
                f"**{_mean([f.mae for f in folds]):.4f}**",
                f"**{_mean([f.fit_s for f in folds]):.2f}**",
                f"**{_mean([f.predictions_per_s for f in folds]):,.0f}**",
                f"**{_mean([f.topn_all_users_s for f in folds]):.3f}**",
            ]
        )
    n_users = ml100k["recsys_core"][0].n_users
    prep = _mean([f.prep_s for f in ml100k["Surprise SVD"]])
    parts += [
        "### ml-100k, official splits u1..u5 (train uN.base, test uN.test)",
        table(
            ["Library", "Fold", "RMSE", "MAE", "Fit s", "Predictions/s", f"Top-{K} all users s"],
            rows,
            "llrrrrr",
        ),
        f"Top-{K} for all users = {n_users} users per fold. Surprise prep (building the "
        f"trainset, not in fit time): {prep:.2f} s per fold on average.",
    ]

    metrics = [
        ("RMSE", "rmse"),
        ("MAE", "mae"),
        (f"precision@{K}", "precision"),
        (f"recall@{K}", "recall"),
        (f"ndcg@{K}", "ndcg"),
        (f"map@{K}", "map"),
        (f"hit_rate@{K}", "hit_rate"),
        (f"catalog_coverage@{K}", "catalog_coverage"),
        (f"candidate_precision@{K}", "candidate_precision"),
        (f"candidate_recall@{K}", "candidate_recall"),
        (f"candidate_ndcg@{K}", "candidate_ndcg"),
    ]
    rows = [
        [label] + [_f(_mean([getattr(f.report, attr) for f in ml100k[lib]]), 4) for lib in LIBS]
        for label, attr in metrics
    ]
    parts += [
        f"### ml-100k ranking at K={K} (mean of u1..u5, same `evaluate` for both)",
        table(["Metric", *LIBS], rows),
    ]

    rows = []
    for lib in LIBS:
        folds = small[lib]
        rows.append(
            [
                lib,
                f"{_mean([f['rmse'] for f in folds]):.4f}",
                f"{_mean([f['mae'] for f in folds]):.4f}",
                f"{_mean([f['fit_s'] for f in folds]):.2f}",
                " / ".join(f"{f['rmse']:.4f}" for f in folds),
            ]
        )
    parts += [
        "### ml-latest-small, 5-fold (`kfold_splits(ratings, k=5, seed=0)`)",
        table(["Library", "Mean RMSE", "Mean MAE", "Mean fit s", "RMSE per fold"], rows, "lrrrl"),
    ]

    rows = []
    labels = [config.label for config in synth_configs()]
    for run in synth:
        base = run.results[RC_ALL]["fit_s"]
        for label in labels:
            res = run.results[label]
            rows.append(
                [
                    f"{_size(run.n_ratings)} ({run.n_users:,} x {run.n_items:,})",
                    label,
                    _f(res["fit_s"], 2),
                    _f(base / res["fit_s"], 2),
                    _f(res["prep_s"], 2) if label == SURPRISE or not label.startswith("recsys_core") else "-",
                    f"{res['peak_process_mb']:,.0f}",
                    f"{res['peak_fit_mb']:,.0f}" if res["peak_fit_mb"] is not None else "n/a",
                    _f(res["rmse"], 4),
                    f"{run.noise_std:.3f} / {run.oracle_rmse:.4f}",
                ]
            )
    growth_rows = []
    for label in labels:
        growth = _growth(synth, label)
        if growth:
            growth_rows.append([label] + [f"x{g:.1f} (exp {math.log10(g):.2f})" for _, g in growth])
    steps = [name for name, _ in _growth(synth, RC_ALL)]
    parts += [
        f"### Synthetic ratings ({int(SYNTH_HOLDOUT * 100)}% holdout)",
        table(
            [
                "Ratings (users x items)",
                "Library",
                "Fit s",
                "recsys_core fit s / this fit s",
                "Surprise prep s",
                "Peak RSS process MB",
                "Peak RSS fit MB",
                "Holdout RMSE",
                "Noise std / oracle RMSE",
            ],
            rows,
            "llrrrrrrr",
        ),
    ]
    if growth_rows:
        parts += [
            "Fit-time growth per 10x ratings (exponent = log10 of the ratio; 1 is linear):",
            table(["Library", *steps], growth_rows),
        ]

    parts += [
        "### Start-up of the compiled solver",
        table(
            ["What", "Seconds"],
            [
                ["`import recsys_core` in a new interpreter (median of 5; numba is not imported)", _f(startup["import_s"], 2)],
                ["first ml-100k u1 fit of a process, empty numba cache (the kernel compiles)", _f(startup["first_fit_empty_cache_s"], 2)],
                ["first ml-100k u1 fit of a process, machine code cached on disk", _f(startup["first_fit_cached_s"], 2)],
                ["a later ml-100k u1 fit in the same process", _f(startup["warm_fit_s"], 2)],
            ],
            "lr",
        ),
    ]

    shape = latency["shape"]
    rows = [
        [
            f"`recommend(trained_profile(user), n={K})`, exclude seen",
            _f(latency["topn"]["median_ms"]),
            _f(latency["topn"]["p95_ms"]),
            latency["topn"]["calls"],
        ],
        [
            f"`user_states` of {LATENCY_FOLD_IN_RATINGS} ratings + `recommend(profile, n={K})`",
            _f(latency["fold_in"]["median_ms"]),
            _f(latency["fold_in"]["p95_ms"]),
            latency["fold_in"]["calls"],
        ],
    ]
    parts += [
        f"### recsys_core latency ({shape[0]:,} users x {shape[1]:,} items, {shape[2]:,} ratings)",
        table(["Call", "Median ms", "p95 ms", "Calls"], rows),
        "### How it was measured",
        _method_notes(quick),
    ]
    return "\n\n".join(parts) + "\n"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m bench.compare_surprise",
        description=(
            "Compare recsys_core with Surprise's SVD (ml-100k u1..u5, ml-latest-small 5-fold, "
            "synthetic 100K/1M/10M, latency) and write the compare_surprise section of the "
            "benchmarks page. MovieLens comes from $RECSYS_DATA_DIR (default ../shared/data)."
        ),
    )
    parser.add_argument(
        "--quick",
        action="store_true",
        help="skip the 10M-rating synthetic size (about a minute instead of ~5)",
    )
    parser.add_argument(
        "--out",
        type=Path,
        default=REPO / "docs" / "benchmarks.md",
        help="markdown file whose compare_surprise section is rewritten "
        "(default: docs/benchmarks.md)",
    )
    args = parser.parse_args(argv)
    try:
        import surprise  # noqa: F401
    except ImportError:
        raise SystemExit("scikit-surprise is missing: pip install -e '.[bench]'") from None

    start = time.perf_counter()

    def log(message: str) -> None:
        print(f"[{time.perf_counter() - start:6.1f}s] {message}", file=sys.stderr, flush=True)

    root = data_dir()
    ml100k_dir = _require(root / "ml-100k" / "u1.base", "MovieLens ml-100k").parent
    small_dir = _require(root / "ml-latest-small" / "ratings.csv", "ml-latest-small").parent
    machine = machine_info(REPO)
    ml100k = run_ml100k(ml100k_dir, log)
    small = run_ml_latest_small(small_dir, log)
    sizes = tuple(n for n in SYNTH_SIZES if not (args.quick and n >= 10_000_000))
    synth = run_synthetic(sizes, log)
    latency = run_latency(log)
    startup = run_startup(ml100k_dir, log)
    machine["Load average at end"] = load_average()
    targets = compute_targets(ml100k, small, synth, latency, startup)
    text = render(
        machine, ml100k, small, synth, latency, startup, targets, args.quick,
        time.perf_counter() - start,
    )
    print(text)
    replace_section(args.out, SECTION, text)
    log(f"wrote the {SECTION} section of {args.out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
