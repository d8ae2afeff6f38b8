"""Memory per API process: what the in-memory serving state costs each uvicorn worker.

    python -m bench.memory                       # ml-100k and 1M users x 20K movies, ~4 min
    python -m bench.memory --users 100000 --movies 5000 --ratings 2000000   # smaller synthetic

Every API process holds its own copy of the serving state (``service.serving``): every
user's ratings as CSR rows (``Rows.from_triples``), a folded state vector per user
(``UserStore``), the movie catalogue (``Catalogue`` of ``MoviePublic``), the popularity
table, and the active model loaded from its artifact bytes (``load_model``). Each piece
is built in a fresh subprocess (``python -m bench.memory --worker ...``) that first
imports ``service.api.main`` (what an API process imports), measures its RSS, builds
the piece the way ``service.serving.loader`` does, drops every temporary and measures
again; the difference is the piece's cost. RSS is read with psutil after
``gc.collect()`` and glibc's ``malloc_trim(0)``, so freed temporaries do not count.
One more subprocess builds everything together (the total a worker holds) and times
``Rows.from_triples``, ``UserStore.get``, the popularity rebuild and ``compact`` of an
overlay of 100,000 users.

Datasets: ml-100k (``$RECSYS_DATA_DIR/ml-100k``, default ``../shared/data`` next to
the repository) with the default model (``ensemble``, fitted here on all its ratings
with the genres as item tags, as the service trains it) and MF; and a synthetic
deployment, ``synthetic_ratings(1M users, 20K movies, 20M ratings, seed=0,
round_to=1.0)`` with a catalogue of "Movie N" titles with 1-3 of the 19 MovieLens genres
and an MF model with random factors of that shape (an ensemble or EASE is not fitted at
that size). The section ``memory`` of ``docs/benchmarks.md`` (``--out``) is rewritten.
"""

from __future__ import annotations

import argparse
import ctypes
import gc
import json
import math
import os
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import psutil

from bench._fit_worker import _peak_mb, _reset_peak
from bench._machine import load_average, machine_info
from bench._markdown import replace_section, table

REPO = Path(__file__).resolve().parents[1]
SECTION = "memory"
MIB = 2**20

SYNTHETIC_SHAPE = (1_000_000, 20_000, 20_000_000)  # users, movies, ratings
MF_FACTORS = 15  # MFParams' default
EXTRA_FACTORS = 15  # states are also measured with MF_FACTORS + this, for the per-factor cost
OVERLAY_USERS = 100_000
GET_CALLS = 10_000
ML_GENRES = (
    "unknown", "Action", "Adventure", "Animation", "Children's", "Comedy", "Crime", "Documentary",
    "Drama", "Fantasy", "Film-Noir", "Horror", "Musical", "Mystery", "Romance", "Sci-Fi",
    "Thriller", "War", "Western",
)
WORKER_TIMEOUT_S = 600


def data_dir() -> Path:
    """MovieLens data folder: ``$RECSYS_DATA_DIR``, else ``../shared/data`` next to the repo."""
    return Path(os.environ.get("RECSYS_DATA_DIR", REPO.parent / "shared" / "data"))


# ---------------------------------------------------------------------------
# Measuring inside a worker


def _trim() -> None:
    try:
        ctypes.CDLL("libc.so.6").malloc_trim(0)
    except (OSError, AttributeError):  # not glibc: freed memory may stay in RSS
        pass


def _rss_mib() -> float:
    gc.collect()
    _trim()
    return psutil.Process().memory_info().rss / MIB


def _uss_mib() -> float:
    """Memory only this process holds (shared library pages excluded)."""
    gc.collect()
    _trim()
    try:
        return psutil.Process().memory_full_info().uss / MIB
    except (psutil.AccessDenied, AttributeError):
        return math.nan


def _import_service() -> None:
    """What an API process has imported before it loads any data."""
    import service.api.main  # noqa: F401
    from service.serving import catalogue, loader, state, users  # noqa: F401


def _triples(folder: Path) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(user ids, movie ids, ratings) as the loader parses them: int64, int64, float64."""
    return tuple(np.load(folder / f"{name}.npy") for name in ("users", "movies", "ratings"))  # type: ignore[return-value]


def _build_rows(folder: Path, shuffled: bool = False) -> tuple[Any, float]:
    from service.serving.users import Rows

    users, movies, ratings = _triples(folder)
    if shuffled:  # the table in no particular order (the loader's COPY gives the physical order)
        order = np.random.default_rng(1).permutation(len(users))
        users, movies, ratings = users[order], movies[order], ratings[order]
        del order
    t0 = time.perf_counter()
    rows = Rows.from_triples(users, movies, ratings)
    return rows, time.perf_counter() - t0


def _state_records(user_ids: np.ndarray, state_size: int) -> Any:
    """Users as ``loader.load_users`` makes them: the state arrives as bytes from the database."""
    from service.serving.loader import record_of

    vectors = np.random.default_rng(2).standard_normal((len(user_ids), state_size))
    for user_id, vector in zip(user_ids.tolist(), vectors, strict=True):
        yield record_of(user_id, None, 1, vector.tobytes(), 1)


def _build_store(rows: Any, user_ids: np.ndarray, state_size: int) -> Any:
    from service.serving.users import UserStore

    return UserStore(rows, _state_records(user_ids, state_size))


def _build_catalogue(folder: Path) -> Any:
    from service.schemas.movies import MoviePublic
    from service.serving.catalogue import Catalogue

    movies = json.loads((folder / "catalogue.json").read_text())
    return Catalogue(
        MoviePublic(id=m["id"], title=m["title"], year=m["year"], genres=sorted(m["genres"])) for m in movies
    )


def _build_popularity(rows: Any) -> Any:
    from service.serving.state import PopularityTable
    from service.serving.users import movie_totals

    return PopularityTable.build(*movie_totals(rows, {}), damping=10.0)


def _warm_up(model: Any, user_id: int) -> None:
    """What the first requests fill in lazily: the id lookup of a trained user's
    profile, a top-10, a fold-in, an explanation and similar movies."""
    profile = model.trained_profile(user_id)
    model.recommend(profile, n=10)
    folded = model.profile(profile.item_ids, profile.ratings)
    item = model.item_ids[0]
    model.explain(folded, item)
    model.similar_items(item, n=10)


def _load_model(path: Path, user_id: int) -> tuple[Any, dict[str, Any]]:
    """The model as ``ModelRegistry.refresh`` loads it (artifact bytes -> ``load_model``)."""
    from recsys_core.types import load_model

    data = path.read_bytes()
    size = len(data)
    before = _rss_mib()
    t0 = time.perf_counter()
    model = load_model(data)
    load_s = time.perf_counter() - t0
    del data
    loaded = _rss_mib()
    _warm_up(model, user_id)
    return model, {"artifact_mib": size / MIB, "load_s": load_s, "loaded_only_mib": loaded - before + size / MIB}


def _synthetic_mf(folder: Path, n_factors: int) -> Any:
    """An MF of the synthetic shape with random factors, through the file loader's own
    ``_from_arrays`` (fitting one on 20M ratings would take minutes)."""
    from recsys_core.model import MatrixFactorization

    users, movies, ratings = _triples(folder)
    user_ids, user_codes = np.unique(users, return_inverse=True)
    item_ids, item_codes = np.unique(movies, return_inverse=True)
    del users, movies
    order = np.lexsort((item_codes, user_codes))
    user_codes, item_codes, ratings = user_codes[order], item_codes[order], ratings[order]
    del order
    user_counts = np.bincount(user_codes, minlength=len(user_ids))
    indptr = np.zeros(len(user_ids) + 1, np.int64)
    np.cumsum(user_counts, out=indptr[1:])
    rng = np.random.default_rng(3)
    arrays = {
        "user_factors": rng.normal(0, 0.1, (len(user_ids), n_factors)),
        "user_bias": rng.normal(0, 0.3, len(user_ids)),
        "user_counts": user_counts.astype(np.int64),
        "item_factors": rng.normal(0, 0.1, (len(item_ids), n_factors)),
        "item_bias": rng.normal(0, 0.3, len(item_ids)),
        "item_popularity": np.bincount(item_codes, minlength=len(item_ids)).astype(np.int64),
        "seen_indptr": indptr,
        "seen_indices": item_codes.astype(np.int64),
        "seen_ratings": ratings.astype(np.float64),
        "user_ids": user_ids.astype(np.int64),
        "item_ids": item_ids.astype(np.int64),
    }
    del user_codes, item_codes, ratings
    meta = {
        "model": "MatrixFactorization", "params": {"n_factors": n_factors}, "global_mean": 3.5,
        "rating_scale": [1.0, 5.0], "n_ratings": len(arrays["seen_ratings"]), "fingerprint": "synthetic",
        "user_id_kind": "int", "item_id_kind": "int", "fit_info": {}, "numpy_version": np.__version__,
    }
    return MatrixFactorization._from_arrays(arrays, meta)


# ---------------------------------------------------------------------------
# Worker jobs (each prints one JSON line)


def _job_prepare_ml100k(args: argparse.Namespace) -> dict[str, Any]:
    """Write ml-100k's triples and catalogue, and fit the default model and MF on it."""
    import pandas as pd

    from recsys_core import load_movielens
    from recsys_core.types import DEFAULT_MODEL_TYPE, build_model

    folder = Path(args.dir)
    dataset = load_movielens(Path(args.source))
    r = dataset.ratings
    _save(folder, r["user_id"].to_numpy(np.int64), r["item_id"].to_numpy(np.int64), r["rating"].to_numpy(np.float64))
    movies = dataset.movies
    catalogue = [
        {"id": int(i), "title": t, "year": None if pd.isna(y) else int(y), "genres": list(g)}
        for i, t, y, g in zip(movies["item_id"], movies["title"], movies["year"].astype(object), movies["genres"],
                              strict=True)
    ]
    (folder / "catalogue.json").write_text(json.dumps(catalogue))
    tags = {m["id"]: m["genres"] for m in catalogue}
    info: dict[str, Any] = {"n_users": int(r["user_id"].nunique()), "n_movies": len(catalogue), "n_ratings": len(r)}
    frame = r[["user_id", "item_id", "rating"]]
    for model_type in dict.fromkeys((DEFAULT_MODEL_TYPE, "matrix_factorization")):
        model = build_model(model_type)
        t0 = time.perf_counter()
        model.fit(frame, rating_scale=dataset.rating_scale, item_tags=tags)
        info[f"{model_type}_fit_s"] = time.perf_counter() - t0
        info[f"{model_type}_state_size"] = model.state_size
        (folder / f"{model_type}.model").write_bytes(model.to_bytes())
    info["default_model"] = DEFAULT_MODEL_TYPE
    info["state_size"] = info[f"{DEFAULT_MODEL_TYPE}_state_size"]
    info["warm_user"] = int(r["user_id"].iloc[0])
    (folder / "info.json").write_text(json.dumps(info))
    return info


def _job_prepare_synthetic(args: argparse.Namespace) -> dict[str, Any]:
    """Draw the synthetic ratings and catalogue; write the model artifact of that shape."""
    from recsys_core import MatrixFactorization, synthetic_ratings

    folder = Path(args.dir)
    t0 = time.perf_counter()
    r = synthetic_ratings(args.users, args.movies, args.ratings, seed=0, round_to=1.0).ratings
    gen_s = time.perf_counter() - t0
    users, movies = r["user_id"].to_numpy(np.int64) + 1, r["item_id"].to_numpy(np.int64) + 1  # ids start at 1
    n_users = len(np.unique(users))
    _save(folder, users, movies, r["rating"].to_numpy(np.float64))
    del r, users, movies
    rng = np.random.default_rng(4)
    n_genres = rng.integers(1, 4, args.movies)
    catalogue = [
        {"id": i + 1, "title": f"Movie {i + 1}", "year": int(rng.integers(1930, 2025)),
         "genres": [ML_GENRES[g] for g in rng.choice(len(ML_GENRES), k, replace=False)]}
        for i, k in enumerate(n_genres.tolist())
    ]
    (folder / "catalogue.json").write_text(json.dumps(catalogue))
    model = _synthetic_mf(folder, MF_FACTORS)
    (folder / "matrix_factorization.model").write_bytes(model.to_bytes())
    info = {
        "n_users": n_users, "n_movies": args.movies, "n_ratings": args.ratings, "gen_s": gen_s,
        "default_model": "matrix_factorization", "state_size": MatrixFactorization(n_factors=MF_FACTORS).state_size,
        "warm_user": 1,
    }
    (folder / "info.json").write_text(json.dumps(info))
    return info


def _save(folder: Path, users: np.ndarray, movies: np.ndarray, ratings: np.ndarray) -> None:
    for name, values in (("users", users), ("movies", movies), ("ratings", ratings)):
        np.save(folder / f"{name}.npy", values)


def _measure_piece(args: argparse.Namespace) -> dict[str, Any]:
    """Baseline RSS, then one piece built; every temporary dropped before the second reading."""
    _import_service()
    folder = Path(args.dir)
    info = json.loads((folder / "info.json").read_text())
    baseline, baseline_uss = _rss_mib(), _uss_mib()
    can_peak = _reset_peak()
    extra: dict[str, Any] = {}
    kept: Any = None
    piece = args.piece
    if piece == "baseline":
        pass
    elif piece in ("rows", "rows_shuffled"):
        kept, extra["from_triples_s"] = _build_rows(folder, shuffled=piece == "rows_shuffled")
        extra["nbytes_mib"] = kept.nbytes / MIB
    elif piece == "states":
        user_ids = np.unique(np.load(folder / "users.npy"))
        kept = _build_store(None, user_ids, args.state_size)
        del user_ids
        extra["nbytes_mib"] = kept.nbytes() / MIB
        extra["state_size"] = args.state_size
    elif piece == "catalogue":
        kept = _build_catalogue(folder)
        extra["movies"] = len(kept)
    elif piece == "popularity":  # built from the rows, which stay: measured against them
        rows, _ = _build_rows(folder)
        baseline = _rss_mib()
        _reset_peak()
        kept = _build_popularity(rows)
        extra["nbytes_mib"] = sum(a.nbytes for a in (kept.movie_ids, kept.scores, kept.counts)) / MIB
    elif piece == "model":
        kept, extra = _load_model(folder / f"{args.model}.model", info["warm_user"])
        extra["model_type"] = kept.model_type
    else:
        raise ValueError(f"unknown piece {piece!r}")
    after = _rss_mib()
    peak = _peak_mb() if can_peak else None
    return {
        "piece": piece, "baseline_mib": baseline, "baseline_uss_mib": baseline_uss, "rss_mib": after,
        "increment_mib": after - baseline, "peak_above_baseline_mib": None if peak is None else peak - baseline,
        **extra,
    }


def _job_all(args: argparse.Namespace) -> dict[str, Any]:
    """Everything one process serves, built in the loader's order; then the timings."""
    from service.serving.state import PopularityTable
    from service.serving.users import UserRecord, compact, movie_totals

    _import_service()
    folder = Path(args.dir)
    info = json.loads((folder / "info.json").read_text())
    out: dict[str, Any] = {"baseline_mib": _rss_mib()}
    rows, out["from_triples_s"] = _build_rows(folder)
    user_ids = rows.user_ids.copy()
    store = _build_store(rows, user_ids, info["state_size"])
    model, _ = _load_model(folder / f"{info['default_model']}.model", info["warm_user"])
    served = (store, _build_catalogue(folder), _build_popularity(rows), model)  # all alive to the end
    del rows  # the store holds them; compaction must be able to free them
    out["total_mib"], out["total_uss_mib"] = _rss_mib(), _uss_mib()
    out["store_nbytes_mib"] = store.nbytes() / MIB

    rng = np.random.default_rng(5)
    sample = rng.choice(user_ids, GET_CALLS).tolist()
    out["get_us"] = _time_calls(store.get, sample)

    before = _rss_mib()
    _reset_peak()
    t0 = time.perf_counter()
    PopularityTable.build(*movie_totals(*store.overlay_snapshot()), damping=10.0)
    out["popularity_s"] = time.perf_counter() - t0
    out["popularity_peak_extra_mib"] = _peak_mb() - before

    n_overlay = min(OVERLAY_USERS, len(user_ids))
    changed = rng.choice(user_ids, n_overlay, replace=False).tolist()
    new_movies = rng.integers(1, info["n_movies"] + 1, n_overlay).tolist()
    before = _rss_mib()
    for user_id, movie in zip(changed, new_movies, strict=True):  # one more rating each, as a write puts it
        record = store.get(user_id)
        keep = record.movies != movie
        movies = np.append(record.movies[keep], movie)
        order = np.argsort(movies)
        ratings = np.append(record.ratings[keep], 4.0)
        store.put(UserRecord(user_id, movies[order], ratings[order], 1, record.state, 2))
    out["overlay_users"] = n_overlay
    out["overlay_mib"] = _rss_mib() - before
    out["get_overlay_us"] = _time_calls(store.get, rng.choice(changed, GET_CALLS).tolist())
    snapshot_rows, overlay = store.overlay_snapshot()
    before = _rss_mib()
    _reset_peak()
    t0 = time.perf_counter()
    compacted = compact(snapshot_rows, overlay)
    out["compact_s"] = time.perf_counter() - t0
    out["compact_peak_extra_mib"] = _peak_mb() - before
    store.install_compacted(compacted, overlay)
    del compacted, snapshot_rows, overlay
    out["after_compaction_mib"] = _rss_mib()
    out["catalogue_movies"] = len(served[1])
    return out


def _time_calls(call: Callable[[int], Any], user_ids: list[int]) -> dict[str, float]:
    for user_id in user_ids[:100]:  # warm-up
        call(user_id)
    times = np.empty(len(user_ids))
    for k, user_id in enumerate(user_ids):
        t0 = time.perf_counter_ns()
        call(user_id)
        times[k] = time.perf_counter_ns() - t0
    return {"median": float(np.median(times)) / 1e3, "p99": float(np.percentile(times, 99)) / 1e3,
            "calls": len(user_ids)}


JOBS: dict[str, Callable[[argparse.Namespace], dict[str, Any]]] = {
    "prepare_ml100k": _job_prepare_ml100k,
    "prepare_synthetic": _job_prepare_synthetic,
    "piece": _measure_piece,
    "all": _job_all,
}


# ---------------------------------------------------------------------------
# The parent: one subprocess per measurement, then the markdown section


def _worker(job: str, folder: Path, *extra: str, log: Callable[[str], None] = print) -> dict[str, Any]:
    cmd = [sys.executable, "-m", "bench.memory", "--worker", job, "--dir", str(folder), *extra]
    t0 = time.perf_counter()
    done = subprocess.run(cmd, capture_output=True, text=True, cwd=REPO, timeout=WORKER_TIMEOUT_S, check=False)
    if done.returncode != 0:
        raise RuntimeError(f"{' '.join(cmd[2:])} failed ({done.returncode}):\n{done.stderr[-4000:]}")
    result = json.loads(done.stdout.strip().splitlines()[-1])
    log(f"  {' '.join([job, *extra])}: {time.perf_counter() - t0:.1f} s")
    return result


def measure_dataset(folder: Path, info: dict[str, Any], models: list[str], extra_states: bool) -> dict[str, Any]:
    pieces: dict[str, dict[str, Any]] = {}
    pieces["baseline"] = _worker("piece", folder, "--piece", "baseline")
    pieces["rows"] = _worker("piece", folder, "--piece", "rows")
    pieces["rows_shuffled"] = _worker("piece", folder, "--piece", "rows_shuffled")
    pieces["states"] = _worker("piece", folder, "--piece", "states", "--state-size", str(info["state_size"]))
    if extra_states:
        pieces["states_more"] = _worker(
            "piece", folder, "--piece", "states", "--state-size", str(info["state_size"] + EXTRA_FACTORS)
        )
    pieces["catalogue"] = _worker("piece", folder, "--piece", "catalogue")
    pieces["popularity"] = _worker("piece", folder, "--piece", "popularity")
    for model in models:
        pieces[f"model:{model}"] = _worker("piece", folder, "--piece", "model", "--model", model)
    together = _worker("all", folder)
    return {"info": info, "pieces": pieces, "all": together}


def _mib(x: float | None) -> str:
    return "—" if x is None or (isinstance(x, float) and math.isnan(x)) else f"{x:,.1f}"


def _dataset_table(result: dict[str, Any]) -> tuple[str, float]:
    info, p, together = result["info"], result["pieces"], result["all"]
    default = info["default_model"]
    n_users = info["n_users"]
    rows = [[
        "Process baseline: Python + `service.api.main` imported (RSS; private USS "
        f"{_mib(p['baseline']['baseline_uss_mib'])})", _mib(p["baseline"]["rss_mib"]), "—", "—",
    ]]

    def row(label: str, key: str) -> None:
        if key in p:
            q = p[key]
            rows.append([label, _mib(q["increment_mib"]), _mib(q.get("nbytes_mib")), _mib(q["peak_above_baseline_mib"])])

    row(f"Ratings: `Rows` CSR of {info['n_ratings']:,} ratings ({n_users:,} users)", "rows")
    row(f"States: `UserStore` states of {n_users:,} users × {info['state_size']} float64", "states")
    if "states_more" in p:
        row(f"(states with {info['state_size'] + EXTRA_FACTORS} float64 each, for comparison)", "states_more")
    row(f"Catalogue: {p['catalogue']['movies']:,} `MoviePublic` + genre index", "catalogue")
    row("Popularity table (measured against the rows it is built from; peak: `movie_totals`)", "popularity")
    for key in [k for k in p if k.startswith("model:")]:
        q = p[key]
        name = key.split(":", 1)[1]
        label = (f"Model `{name}`{' (default)' if name == default else ''}: {_mib(q['loaded_only_mib'])} "
                 f"just loaded ({q['load_s']:.2f} s), then warmed up")
        rows.append([label,
                     _mib(q["increment_mib"]), _mib(q["artifact_mib"]), _mib(q["peak_above_baseline_mib"])])
    model_key = f"model:{default}"
    pieces_sum = p["baseline"]["rss_mib"] + sum(
        p[k]["increment_mib"] for k in ("rows", "states", "catalogue", "popularity", model_key) if k in p
    )
    rows.append([f"**Sum: baseline + ratings + states + catalogue + popularity + `{default}`**",
                 f"**{_mib(pieces_sum)}**", "", ""])
    rows.append([
        f"**Measured together in one process** (private USS {_mib(together['total_uss_mib'])})",
        f"**{_mib(together['total_mib'])}**", "", "",
    ])
    rows.append([f"... after an overlay of {together['overlay_users']:,} changed users and its compaction",
                 _mib(together["after_compaction_mib"]), "", ""])
    header = ["Component", "RSS MiB", "Array data / artifact MiB", "Peak MiB above baseline while built"]
    return table(header, rows), together["total_mib"]


def _timing_table(results: dict[str, dict[str, Any]]) -> str:
    rows = []
    for name, r in results.items():
        a, p = r["all"], r["pieces"]
        n = r["info"]["n_ratings"]
        rows += [
            [name, f"`Rows.from_triples`, {n:,} ratings in user order (as imported)",
             f"{p['rows']['from_triples_s']:.2f} s"],
            [name, f"`Rows.from_triples`, {n:,} ratings shuffled", f"{p['rows_shuffled']['from_triples_s']:.2f} s"],
            [name, f"`UserStore.get`, rows (median / p99 of {a['get_us']['calls']:,} random users)",
             f"{a['get_us']['median']:.1f} / {a['get_us']['p99']:.1f} µs"],
            [name, f"`UserStore.get`, overlay (median / p99 of {a['get_overlay_us']['calls']:,})",
             f"{a['get_overlay_us']['median']:.1f} / {a['get_overlay_us']['p99']:.1f} µs"],
            [name, "popularity rebuild (`movie_totals` + `PopularityTable.build`)",
             f"{a['popularity_s']:.2f} s, +{_mib(a['popularity_peak_extra_mib'])} MiB peak"],
            [name, f"overlay of {a['overlay_users']:,} users (one more rating each, via `put`)",
             f"{_mib(a['overlay_mib'])} MiB"],
            [name, "`compact` of that overlay", f"{a['compact_s']:.2f} s, +{_mib(a['compact_peak_extra_mib'])} MiB peak"],
        ]
    return table(["Dataset", "Operation", "Measured"], rows, "llr")


def report(results: dict[str, dict[str, Any]], machine: dict[str, str], command: str, minutes: float,
           end_load: str) -> str:
    ml, syn = results.get("ml-100k"), results["synthetic"]
    parts = [
        "## Memory per API process",
        f"Generated by `{command}` in {minutes:.1f} min; do not edit by hand. Each row is built in a fresh "
        "subprocess that first imports `service.api.main` (what a uvicorn worker imports), builds one piece "
        "the way `service/serving/loader.py` does (ratings through `Rows.from_triples`, states as the "
        "database's bytes through `loader.record_of`, the catalogue as validated `MoviePublic`, the model "
        "from its artifact bytes through `load_model`), drops every temporary and reads RSS with psutil "
        "after `gc.collect()` and `malloc_trim(0)`. \"RSS MiB\" is that increment over the process's own "
        "baseline; \"Array data\" is what `nbytes` reports (the artifact size for models); \"peak\" is "
        "`VmHWM` above the baseline while the piece was built, its input arrays (int64 / int64 / float64 "
        "triples, as the loader parses them) included. The model is warmed up by a top-10, a fold-in, an "
        "explanation and similar movies for one trained user, which fill its lazy caches.",
    ]
    if ml is not None:
        ml_table, ml_total = _dataset_table(ml)
        i = ml["info"]
        parts += [
            f"### ml-100k: {i['n_users']:,} users, {i['n_movies']:,} movies, {i['n_ratings']:,} ratings",
            ml_table,
            f"States have the default model's state size ({i['state_size']}: MF's 15 factors + bias; the "
            f"EASE part of the ensemble keeps no state). The models were fitted here on all ratings with the "
            f"genres as item tags (`ensemble` {i.get('ensemble_fit_s', math.nan):.1f} s, MF "
            f"{i.get('matrix_factorization_fit_s', math.nan):.1f} s).",
        ]
    syn_table, syn_total = _dataset_table(syn)
    s = syn["info"]
    p = syn["pieces"]
    per_factor_states = (p["states_more"]["increment_mib"] - p["states"]["increment_mib"]) / EXTRA_FACTORS
    per_factor_model = (s["n_users"] + s["n_movies"]) * 8 / MIB
    model = p["model:matrix_factorization"]
    parts += [
        f"### Synthetic: {s['n_users']:,} users, {s['n_movies']:,} movies, {s['n_ratings']:,} ratings",
        f"`synthetic_ratings({s['n_users']:,}, {s['n_movies']:,}, {s['n_ratings']:,}, seed=0, round_to=1.0)` "
        f"(Zipf movie popularity, {s['n_ratings'] / s['n_users']:.0f} ratings per user on average; drawn in "
        f"{s['gen_s']:.0f} s); a catalogue of \"Movie N\" with 1–3 of the 19 MovieLens genres; MF with "
        f"{MF_FACTORS} factors and random factors of that shape, written with `to_bytes` and loaded with "
        "`load_model` (no ensemble or EASE is fitted at this size: EASE keeps a dense 20,000² matrix, "
        "3.0 GiB, and the ensemble holds an EASE and an MF).",
        syn_table,
        f"Per extra MF factor: states +{per_factor_states:.1f} MiB for the {s['n_users']:,} users (measured "
        f"with {EXTRA_FACTORS} more float64 each), model +{per_factor_model:.1f} MiB ((users + movies) × 8 "
        "bytes of factors). "
        f"MF artifact: (users + 1) × 8 (seen indptr) + users × (f + 3) × 8 (factors, bias, count, id) + movies "
        f"× (f + 3) × 8 + ratings × 16 (seen movie index int64 + rating float64) bytes = "
        f"{_mib(model['artifact_mib'])} MiB here.",
        "Per unit, from the rows above: ratings "
        f"{p['rows']['increment_mib'] * MIB / s['n_ratings']:.1f} bytes a rating; states "
        f"{p['states']['increment_mib'] * MIB / s['n_users']:.0f} bytes a user for {s['state_size'] * 8} bytes "
        f"of vector; catalogue {p['catalogue']['increment_mib'] * MIB / s['n_movies']:,.0f} bytes a movie; "
        f"overlay {syn['all']['overlay_mib'] * MIB / syn['all']['overlay_users']:.0f} bytes a changed user; "
        f"the model {model['increment_mib'] * MIB / s['n_ratings']:.1f} bytes a rating "
        f"({model['increment_mib'] - model['loaded_only_mib']:.0f} MiB of it filled in by the warm-up).",
        "### Timings",
        _timing_table(results),
        "`UserStore.get` is one call of the method, `time.perf_counter_ns`, after 100 warm-up calls. The "
        "overlay is built with `UserStore.put` of a copy of each user with one more rating (what a write "
        "through the service leaves); `compact` is the call the upkeep task runs in a thread, its peak is "
        "`VmHWM` above the RSS before it.",
    ]
    per_worker_ml = ml_total if ml is not None else math.nan
    parts += [
        "### What a deployment needs",
        f"Every uvicorn worker loads its own copy (nothing is shared between workers but the library code "
        f"pages), so N workers need about N × the per-process total. ml-100k: {_mib(per_worker_ml)} MiB per "
        f"worker, of which {_mib(ml['pieces']['baseline']['rss_mib'] if ml else math.nan)} MiB is the "
        f"interpreter and its imports (the default ensemble is most of the rest); the compose file's 2 workers "
        f"need about {_mib(2 * per_worker_ml)} MiB. At {s['n_users']:,} users × {s['n_movies']:,} movies × "
        f"{s['n_ratings']:,} ratings with MF: {_mib(syn_total)} MiB "
        f"({syn_total / 1024:.2f} GiB) per worker in steady state, so 2 workers need about "
        f"{2 * syn_total / 1024:.1f} GiB, 4 about {4 * syn_total / 1024:.1f} GiB and 8 about "
        f"{8 * syn_total / 1024:.1f} GiB. Each worker also needs headroom for its transient peaks: loading a "
        f"model reaches {_mib(model['peak_above_baseline_mib'])} MiB above the baseline (artifact bytes and "
        f"arrays) while the old model still serves, and the popularity rebuild and `compact` add the "
        f"peaks in the timings table.",
        "Machine:\n\n" + "\n".join(f"- {k}: {v}" for k, v in {**machine, "Load average at end": end_load}.items()),
    ]
    return "\n\n".join(parts)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(
        prog="python -m bench.memory", description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--users", type=int, default=SYNTHETIC_SHAPE[0])
    parser.add_argument("--movies", type=int, default=SYNTHETIC_SHAPE[1])
    parser.add_argument("--ratings", type=int, default=SYNTHETIC_SHAPE[2])
    parser.add_argument("--skip-ml100k", action="store_true", help="only the synthetic deployment")
    parser.add_argument("--out", type=Path, default=REPO / "docs" / "benchmarks.md")
    parser.add_argument("--worker", choices=sorted(JOBS), help=argparse.SUPPRESS)
    parser.add_argument("--dir", help=argparse.SUPPRESS)
    parser.add_argument("--source", help=argparse.SUPPRESS)
    parser.add_argument("--piece", help=argparse.SUPPRESS)
    parser.add_argument("--state-size", type=int, help=argparse.SUPPRESS)
    parser.add_argument("--model", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.worker:
        print(json.dumps(JOBS[args.worker](args)))
        return

    started = time.perf_counter()
    argv_used = sys.argv[1:] if argv is None else argv
    command = " ".join(["python -m bench.memory", *argv_used])
    machine = machine_info(REPO)
    results: dict[str, dict[str, Any]] = {}
    with tempfile.TemporaryDirectory(prefix="recsys-bench-memory-") as tmp:
        if not args.skip_ml100k:
            source = data_dir() / "ml-100k"
            if not source.exists():
                raise SystemExit(f"{source} not found: set RECSYS_DATA_DIR to the folder holding ml-100k")
            folder = Path(tmp) / "ml-100k"
            folder.mkdir()
            print("ml-100k")
            info = _worker("prepare_ml100k", folder, "--source", str(source))
            models = list(dict.fromkeys([info["default_model"], "matrix_factorization"]))
            results["ml-100k"] = measure_dataset(folder, info, models, extra_states=False)
        folder = Path(tmp) / "synthetic"
        folder.mkdir()
        print(f"synthetic {args.users:,} x {args.movies:,}, {args.ratings:,} ratings")
        info = _worker("prepare_synthetic", folder, "--users", str(args.users), "--movies", str(args.movies),
                       "--ratings", str(args.ratings))
        results["synthetic"] = measure_dataset(folder, info, ["matrix_factorization"], extra_states=True)
    body = report(results, machine, command, (time.perf_counter() - started) / 60, load_average())
    print(body)
    replace_section(args.out, SECTION, body)
    print(json.dumps(results, indent=1), file=sys.stderr)


if __name__ == "__main__":
    main()
