"""One synthetic fit of one model type in a fresh process, so its peak memory is its own.

Run by :mod:`bench.ranking` as
``python -m bench._scale_worker MODEL_TYPE N_USERS N_ITEMS N_RATINGS [--hyperparams JSON]``.
The ratings are drawn here (``synthetic_ratings(..., seed=0, round_to=1.0)``), so no
large file is written. Prints one JSON line: ``gen_s`` (drawing the ratings),
``fit_s``, ``rss_before_fit_mb`` (data loaded), ``peak_fit_mb`` (peak RSS from just
before ``fit`` to its end, data included; null when the kernel cannot reset the
high-water mark), ``peak_process_mb``, ``n_items_rated`` and the model's ``fit_info``.
Peak RSS is ``VmHWM`` of this process, read as :mod:`bench._fit_worker` does.
"""

from __future__ import annotations

import argparse
import gc
import json
import time

import numpy as np
import psutil

from bench._fit_worker import _peak_mb, _reset_peak

__all__ = ["main"]


def _jsonable(info: dict) -> dict:
    return {k: (v.item() if isinstance(v, np.generic) else v) for k, v in info.items()}


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("model_type")
    parser.add_argument("n_users", type=int)
    parser.add_argument("n_items", type=int)
    parser.add_argument("n_ratings", type=int)
    parser.add_argument("--hyperparams", default="{}", help="JSON object for build_model")
    args = parser.parse_args(argv)

    from recsys_core import synthetic_ratings
    from recsys_core.types import build_model

    t0 = time.perf_counter()
    ratings = synthetic_ratings(
        args.n_users, args.n_items, args.n_ratings, seed=0, round_to=1.0
    ).ratings[["user_id", "item_id", "rating"]]
    gen_s = time.perf_counter() - t0
    gc.collect()
    n_items_rated = int(ratings["item_id"].nunique())
    model = build_model(args.model_type, json.loads(args.hyperparams))
    rss_before = psutil.Process().memory_info().rss / 2**20
    can_reset = _reset_peak()
    t0 = time.perf_counter()
    model.fit(ratings, rating_scale=(1.0, 5.0))
    fit_s = time.perf_counter() - t0
    result = {
        "gen_s": gen_s,
        "fit_s": fit_s,
        "rss_before_fit_mb": rss_before,
        "peak_fit_mb": _peak_mb() if can_reset else None,
        "peak_process_mb": _peak_mb(),
        "n_items_rated": n_items_rated,
        "fit_info": _jsonable(model.fit_info),
    }
    print(json.dumps(result))


if __name__ == "__main__":
    main()
