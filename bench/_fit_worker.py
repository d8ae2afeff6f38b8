"""One synthetic fit in a fresh process, so its peak memory is its own.

Run by :mod:`bench.compare_surprise` as
``python -m bench._fit_worker {recsys_core,surprise} DATA_DIR [--n-factors F --epochs E
--solver S]``; ``DATA_DIR`` holds ``train_*.npy`` / ``test_*.npy`` written by the
parent, and ``RECSYS_THREADS`` in the environment sets recsys_core's threads. Before
the timed fit, each library fits the first 2,000 ratings once, so the timed fit is not
charged for first-use costs (loading numba and its cached machine code for
recsys_core); that warm-up's duration is ``first_use_s``. Prints one JSON line:
``prep_s`` (building the library's input), ``fit_s``, holdout
``rmse``, ``rss_before_fit_mb``, ``peak_fit_mb`` (peak RSS from just before
``fit`` to its end, or null when the kernel cannot reset the high-water mark)
and ``peak_process_mb`` (peak RSS of the whole process).

Peak RSS is read from ``VmHWM`` in ``/proc/self/status``, which belongs to this
process image only. ``getrusage(RUSAGE_CHILDREN)`` in the parent would report
the largest child so far, and ``ru_maxrss`` after a vfork+exec can carry the
parent's peak, so neither is used.
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import numpy as np
import pandas as pd
import psutil

__all__ = ["main"]

_WARM_UP = 2_000  # ratings of the untimed first fit


def _status_kb(field: str) -> int | None:
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith(field + ":"):
                return int(line.split()[1])
    except OSError:
        pass
    return None


def _reset_peak() -> bool:
    """Reset VmHWM to the current RSS (Linux >= 4.0); False when not possible."""
    try:
        Path("/proc/self/clear_refs").write_text("5")
    except OSError:
        return False
    return True


def _peak_mb() -> float | None:
    kb = _status_kb("VmHWM")
    if kb is None:  # not Linux: fall back to the process's own maximum
        import resource

        return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    return kb / 1024


def _frame(folder: Path, part: str) -> pd.DataFrame:
    return pd.DataFrame(
        {
            "user_id": np.load(folder / f"{part}_user.npy"),
            "item_id": np.load(folder / f"{part}_item.npy"),
            "rating": np.load(folder / f"{part}_rating.npy"),
        }
    )


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("library", choices=["recsys_core", "surprise"])
    parser.add_argument("data_dir", type=Path)
    parser.add_argument("--n-factors", type=int, help="default: the library's own default")
    parser.add_argument("--epochs", type=int, help="default: the library's own default")
    parser.add_argument("--solver", help="recsys_core's ALS solver (default: its default)")
    args = parser.parse_args(argv)

    train = _frame(args.data_dir, "train")
    test = _frame(args.data_dir, "test")
    scale = (float(train["rating"].min()), float(train["rating"].max()))
    hyper = {}
    from recsys_core.evaluation import rmse

    if args.library == "recsys_core":
        from recsys_core import MatrixFactorization

        if args.n_factors is not None:
            hyper["n_factors"] = args.n_factors
        if args.epochs is not None:
            hyper["epochs"] = args.epochs
        if args.solver is not None:
            hyper["solver"] = args.solver
        t0 = time.perf_counter()
        MatrixFactorization(**hyper).fit(train.head(_WARM_UP), rating_scale=scale)
        first_use_s = time.perf_counter() - t0
        t0 = time.perf_counter()
        model = MatrixFactorization(**hyper)
        prep_s = time.perf_counter() - t0
        rss_before = psutil.Process().memory_info().rss / 2**20
        can_reset = _reset_peak()
        t0 = time.perf_counter()
        model.fit(train, rating_scale=scale)
        fit_s = time.perf_counter() - t0
        peak_fit = _peak_mb() if can_reset else None
        pred = model.predict(test["user_id"].to_numpy(), test["item_id"].to_numpy())
    else:
        from surprise import SVD

        from bench._surprise import to_trainset

        if args.n_factors is not None:
            hyper["n_factors"] = args.n_factors
        if args.epochs is not None:
            hyper["n_epochs"] = args.epochs
        t0 = time.perf_counter()
        SVD(random_state=0, **hyper).fit(to_trainset(train.head(_WARM_UP), scale))
        first_use_s = time.perf_counter() - t0
        t0 = time.perf_counter()
        trainset = to_trainset(train, scale)
        prep_s = time.perf_counter() - t0
        del train
        algo = SVD(random_state=0, **hyper)
        rss_before = psutil.Process().memory_info().rss / 2**20
        can_reset = _reset_peak()
        t0 = time.perf_counter()
        algo.fit(trainset)
        fit_s = time.perf_counter() - t0
        peak_fit = _peak_mb() if can_reset else None
        testset = list(
            zip(test["user_id"].tolist(), test["item_id"].tolist(), test["rating"].tolist())
        )
        pred = np.fromiter((p.est for p in algo.test(testset)), np.float64, len(testset))
    result = {
        "first_use_s": first_use_s,
        "prep_s": prep_s,
        "fit_s": fit_s,
        "rmse": rmse(test["rating"].to_numpy(), pred),
        "rss_before_fit_mb": rss_before,
        "peak_fit_mb": peak_fit,
        "peak_process_mb": _peak_mb(),
    }
    print(json.dumps(result))


if __name__ == "__main__":
    main()
