"""The Spark trainer (recsys_core.spark_als) against the numpy one, on one machine.

    python -m bench.spark                 # ml-100k u1..u5, then synthetic 10M and 50M
    python -m bench.spark --sizes 10000000

Writes the ``spark`` section of ``docs/benchmarks.md`` (``--out``). MovieLens is read
from ``$RECSYS_DATA_DIR`` (default ``../shared/data``). Needs the ``spark`` and ``bench``
extras and Java 17+.

* ml-100k u1..u5: RMSE of Spark MF and numpy ``MatrixFactorization()`` (defaults) per
  fold; target |diff| <= 0.01. iALS NDCG@10 (Spark and numpy, defaults) for information.
* synthetic 10M and 50M (bench.compare_surprise's shape rule): fit time and peak memory,
  each fit in a fresh process; numpy's peak is its VmHWM (bench._fit_worker), Spark's the
  peak RSS of the Python driver plus its JVM (bench._spark_worker), both in ``local[*]``.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np

from bench._machine import load_average, machine_info
from bench._markdown import replace_section, table
from bench.compare_surprise import (
    RC_ALL,
    SynthConfig,
    _fit_in_subprocess,
    _require,
    _write_split,
    data_dir,
)
from recsys_core import MatrixFactorization, evaluate, official_movielens_split, spark_als
from recsys_core.evaluation import rmse
from recsys_core.ials import ImplicitALS

REPO = Path(__file__).resolve().parents[1]
SECTION = "spark"
FOLDS = ("u1", "u2", "u3", "u4", "u5")
RMSE_DIFF_MAX = 0.01
SIZES = (10_000_000, 50_000_000)
DRIVER_MEMORY = {10_000_000: "5g", 50_000_000: "12g"}


def _versions() -> dict[str, str]:
    import pyspark

    java = subprocess.run(["java", "-version"], capture_output=True, text=True, check=False).stderr.splitlines()
    return {"pyspark": pyspark.__version__, "Java": java[0] if java else "not found"}


def run_ml100k(folder: Path, log: Any) -> list[dict[str, Any]]:
    from pyspark.sql import SparkSession

    spark = (SparkSession.builder.master("local[*]").appName("recsys-bench")
             .config("spark.sql.shuffle.partitions", "4").config("spark.ui.enabled", "false").getOrCreate())
    spark.sparkContext.setLogLevel("ERROR")
    rows = []
    with tempfile.TemporaryDirectory(prefix="recsys-spark-bench-") as tmp:
        for fold in FOLDS:
            split = official_movielens_split(folder, fold)
            scale = (1.0, 5.0)
            truth = split.test["rating"].to_numpy()
            users, items = split.test["user_id"].to_numpy(), split.test["item_id"].to_numpy()
            t0 = time.perf_counter()
            numpy_mf = MatrixFactorization().fit(split.train, rating_scale=scale)
            numpy_s = time.perf_counter() - t0
            url = spark_als.write_snapshot(split.train, f"{tmp}/{fold}")
            t0 = time.perf_counter()
            spark_mf = spark_als.fit_mf(spark, url, split.train, rating_scale=scale)
            spark_s = time.perf_counter() - t0
            numpy_ials = ImplicitALS().fit(split.train, rating_scale=scale)
            spark_ials = spark_als.fit_ials(spark, url, split.train, rating_scale=scale)
            row = {
                "fold": fold,
                "numpy_rmse": rmse(truth, numpy_mf.predict(users, items)),
                "spark_rmse": rmse(truth, spark_mf.predict(users, items)),
                "numpy_s": numpy_s,
                "spark_s": spark_s,
                "reg_param": spark_mf.fit_info["reg_param"],
                "numpy_ndcg": evaluate(numpy_ials, split.train, split.test, k=10).as_dict()["ndcg@10"],
                "spark_ndcg": evaluate(spark_ials, split.train, split.test, k=10).as_dict()["ndcg@10"],
            }
            rows.append(row)
            log(f"{fold}: RMSE numpy {row['numpy_rmse']:.4f}, spark {row['spark_rmse']:.4f}; "
                f"iALS NDCG@10 numpy {row['numpy_ndcg']:.4f}, spark {row['spark_ndcg']:.4f}")
    spark.stop()
    return rows


def _spark_in_subprocess(folder: Path, driver_memory: str) -> dict[str, Any]:
    cmd = [sys.executable, "-m", "bench._spark_worker", str(folder), "--driver-memory", driver_memory]
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(filter(None, [str(REPO), os.environ.get("PYTHONPATH")]))}
    proc = subprocess.run(cmd, cwd=REPO, env=env, capture_output=True, text=True, check=False)
    if proc.returncode != 0:
        return {"error": proc.stderr.strip().splitlines()[-1] if proc.stderr.strip() else f"exit {proc.returncode}"}
    return json.loads(proc.stdout.strip().splitlines()[-1])


def run_synthetic(sizes: tuple[int, ...], log: Any, done: Any) -> list[dict[str, Any]]:
    """Each size's fits; ``done(runs)`` after each, so a run cut short keeps what it measured."""
    runs: list[dict[str, Any]] = []
    for n in sizes:
        with tempfile.TemporaryDirectory(prefix="recsys-bench-") as tmp:
            folder = Path(tmp)
            synth = _write_split(folder, n)
            log(f"synthetic {n:,}: {synth.n_users:,} users x {synth.n_items:,} items")
            numpy_res = _fit_in_subprocess(SynthConfig(RC_ALL, "recsys_core"), folder)
            log(f"  numpy: fit {numpy_res['fit_s']:.1f}s, RMSE {numpy_res['rmse']:.4f}, "
                f"peak {numpy_res['peak_process_mb']:.0f} MB")
            spark_res = _spark_in_subprocess(folder, DRIVER_MEMORY.get(n, "12g"))
            log(f"  spark: {spark_res}")
            runs.append({"n": n, "users": synth.n_users, "items": synth.n_items, "oracle_rmse": synth.oracle_rmse,
                         "numpy": numpy_res, "spark": spark_res})
            done(runs)
    return runs


def _f(x: float | None, digits: int = 4) -> str:
    return "—" if x is None or x != x else f"{x:.{digits}f}"


def render(machine: dict[str, str], folds: list[dict[str, Any]], synth: list[dict[str, Any]], minutes: float) -> str:
    out = [
        "## Spark trainer vs numpy trainer",
        "",
        f"Generated by `python -m bench.spark` in {minutes:.1f} min; do not edit by hand. Defaults of both "
        "types (MF: 15 factors, 12 epochs; iALS: 32 factors, 15 epochs); Spark in `local[*]`.",
        "",
        "### Machine",
        "",
        table(["", ""], [[k, v] for k, v in machine.items()], "ll"),
    ]
    if folds:
        diffs = [r["spark_rmse"] - r["numpy_rmse"] for r in folds]
        mean = {k: float(np.mean([r[k] for r in folds])) for k in folds[0] if k != "fold"}
        worst = max(abs(d) for d in diffs)
        verdict = "met" if worst <= RMSE_DIFF_MAX else "missed"
        out += [
            "",
            "### ml-100k u1..u5",
            "",
            f"Target: Spark MF's RMSE within {RMSE_DIFF_MAX} of numpy's on every fold: **{verdict}** "
            f"(largest |diff| {worst:.4f}).",
            "",
            table(
                ["fold", "numpy RMSE", "Spark RMSE", "diff", "numpy fit s", "Spark fit s", "regParam",
                 "iALS NDCG@10 numpy", "iALS NDCG@10 Spark"],
                [[r["fold"], _f(r["numpy_rmse"]), _f(r["spark_rmse"]), f"{d:+.4f}", _f(r["numpy_s"], 2),
                  _f(r["spark_s"], 1), _f(r["reg_param"], 3), _f(r["numpy_ndcg"]), _f(r["spark_ndcg"])]
                 for r, d in zip(folds, diffs)]
                + [["mean", _f(mean["numpy_rmse"]), _f(mean["spark_rmse"]), f"{float(np.mean(diffs)):+.4f}",
                    _f(mean["numpy_s"], 2), _f(mean["spark_s"], 1), _f(mean["reg_param"], 3),
                    _f(mean["numpy_ndcg"]), _f(mean["spark_ndcg"])]],
            ),
            "",
            "Spark's fit time includes the bias sweeps, its ALS, collecting the factors and the local "
            "epoch; on 100K ratings it is task scheduling, not arithmetic. numpy iALS runs the `implicit` "
            "package's solver (the type's default).",
        ]
    if synth:
        rows = []
        for run in synth:
            num, spk = run["numpy"], run["spark"]
            if "error" in spk:
                spark_cells = [f"failed: {spk['error'][:120]}", "", "", "", "", ""]
            else:
                spark_cells = [_f(spk["fit_s"], 1), _f(spk["spark_s"], 1), _f(spk["snapshot_s"], 1),
                               f"{spk['peak_tree_mb']:,.0f} ({spk['peak_python_mb']:,.0f} + {spk['peak_jvm_mb']:,.0f})",
                               spk["driver_memory"], _f(spk["rmse"])]
            rows.append([f"{run['n'] / 1e6:.0f}M ({run['users']:,} x {run['items']:,})",
                         _f(num["fit_s"], 1), f"{num['peak_process_mb']:,.0f}", _f(num["rmse"]), *spark_cells])
        out += [
            "",
            "### Synthetic ratings, one machine",
            "",
            table(["size (users x items)", "numpy fit s", "numpy peak MB", "numpy RMSE", "Spark fit s",
                   "of which Spark s", "snapshot s", "Spark peak MB (Python + JVM)", "driver memory", "Spark RMSE"],
                  rows),
            "",
            "Each fit runs in a fresh process. numpy's peak is the process's VmHWM; Spark's is the largest "
            "sampled sum (every 0.1 s) of the Python driver's RSS and its JVM's, whose heap `local[*]` caps at "
            "`spark.driver.memory`. 'of which Spark s' is the part before the collect and the local epoch (MF: an item then a user half-step; iALS: a user half-step); "
            "the snapshot (Parquet, pyarrow) is not part of the fit. Holdout: 10% of the ratings.",
        ]
    return "\n".join(out)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.spark", description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", type=int, nargs="*", default=list(SIZES), help="synthetic sizes (ratings)")
    parser.add_argument("--skip-ml100k", action="store_true")
    parser.add_argument("--out", type=Path, default=REPO / "docs" / "benchmarks.md")
    args = parser.parse_args(argv)
    start = time.perf_counter()

    def log(message: str) -> None:
        print(f"[{time.perf_counter() - start:7.1f}s] {message}", file=sys.stderr, flush=True)

    machine = {**machine_info(REPO), **_versions()}
    folds = [] if args.skip_ml100k else run_ml100k(_require(data_dir() / "ml-100k" / "u1.base", "ml-100k").parent, log)

    def write(synth: list[dict[str, Any]]) -> None:
        machine["Load average at end"] = load_average()
        replace_section(args.out, SECTION, render(machine, folds, synth, (time.perf_counter() - start) / 60))
        log(f"wrote the {SECTION} section of {args.out}")

    write([])
    synth = run_synthetic(tuple(args.sizes), log, write)
    print(render(machine, folds, synth, (time.perf_counter() - start) / 60))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
