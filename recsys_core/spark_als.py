"""MF and iALS trained on Apache Spark (``pyspark.ml``'s ALS), into the usual artifacts.

Spark does the work that grows with the ratings: the biases, then the ALS epochs.
The driver then collects the factors and finishes with exact float64 half-steps of
its own (:mod:`._als` for MF: one item then one user half-step under our penalty;
:func:`.ials.solve_rows` for iALS: one user half-step), so a training user's stored
vector is exactly what ``user_states`` gives for their ratings, the invariant the
numpy trainers keep. The model is built through the same installers as
``fit`` and writes the same file; only ``fit_info`` (``engine: "spark"``, the master,
Spark's ``regParam``) tells the engines apart.

Ratings reach Spark as Parquet (``user_id``, ``item_id``, ``rating``) at a path or URL
every executor can read (:func:`write_snapshot`); the caller also passes the same
ratings as a frame, which the artifact keeps as its seen-ratings matrix.

Mapping our objectives onto Spark's:

* MF: Spark penalizes ``regParam * n * |x|^2`` (``n`` the row's rating count); ours
  is ``regularization * n^e * |x|^2``. :func:`spark_reg_param` matches the two at a
  typical row count. Spark has no biases: they are fitted first by alternating
  regularized means and Spark factorizes the residuals ``r - mu - b_u - b_i``; the
  local epoch then solves each item's and each user's bias and factors jointly under
  our penalty, as ours does.
* iALS: Spark's confidence is ``1 + alpha * |rating|``; the rating column is
  ``r / r_max``, so it equals ours (:func:`.ials.confidence`). Spark's penalty is also
  count-scaled, ours constant (exponent 0): mapped the same way.

pyspark is imported inside the functions: ``import recsys_core`` works without it.
"""

from __future__ import annotations

import os
import shutil
import time
from collections.abc import Callable
from typing import TYPE_CHECKING, Any
from urllib.parse import urlparse

import numpy as np
import pandas as pd

from . import _als
from ._frames import EncodedRatings, check_frame, encode_ratings, fingerprint
from .mf_training import Factors, penalties
from .params import IALSParams, MFParams
from .recommender import Callback, EpochReport

if TYPE_CHECKING:
    from pyspark.sql import DataFrame, SparkSession

    from .ials import ImplicitALS
    from .model import MatrixFactorization

__all__ = [
    "BIAS_SWEEPS",
    "Phase",
    "delete_snapshot",
    "fit_ials",
    "fit_mf",
    "is_local_path",
    "spark_reg_param",
    "write_snapshot",
]

#: ``phase(name, fraction)``: the fit has reached ``name``, ``fraction`` (0 to 1) done.
Phase = Callable[[str, float], None]

#: Alternating sweeps of the regularized-mean biases (items, then users); the third
#: changes ml-100k's biases by under 1e-3.
BIAS_SWEEPS = 3

_INT32_MAX = 2**31 - 1
_COLUMNS = ["user_id", "item_id", "rating"]


# ----------------------------------------------------------------- snapshots
def is_local_path(url: str) -> bool:
    """A plain path or ``file://`` URL (written with pyarrow), not ``s3a://`` and the like."""
    scheme = urlparse(url).scheme
    return scheme in ("", "file") or (len(scheme) == 1 and os.name == "nt")


def _local(url: str) -> str:
    return urlparse(url).path if url.startswith("file:") else url


def write_snapshot(ratings: pd.DataFrame, url: str, spark: SparkSession | None = None) -> str:
    """Write ``user_id, item_id, rating`` of ``ratings`` as Parquet at ``url``; returns it.

    A local path is written by pyarrow from the driver (no copy through the JVM); any
    other URL (``s3a://``, ``hdfs://``) by Spark's writer, which needs ``spark``."""
    frame = check_frame(ratings, "ratings")
    _check_int_ids(frame)
    frame = pd.DataFrame({
        "user_id": frame["user_id"].to_numpy(dtype=np.int32),
        "item_id": frame["item_id"].to_numpy(dtype=np.int32),
        "rating": frame["rating"].to_numpy(dtype=np.float64),
    })
    if is_local_path(url):
        import pyarrow as pa
        import pyarrow.parquet as pq

        path = _local(url)
        os.makedirs(path, exist_ok=True)
        pq.write_table(pa.Table.from_pandas(frame, preserve_index=False), os.path.join(path, "part-0.parquet"))
        return url
    if spark is None:
        raise ValueError(f"writing a snapshot to {url!r} needs a SparkSession (only local paths are written without)")
    spark.createDataFrame(frame).write.mode("overwrite").parquet(url)
    return url


def delete_snapshot(url: str, spark: SparkSession | None = None) -> None:
    """Remove a snapshot written by :func:`write_snapshot` (missing is fine)."""
    if is_local_path(url):
        shutil.rmtree(_local(url), ignore_errors=True)
        return
    if spark is None:
        raise ValueError(f"deleting {url!r} needs a SparkSession")
    jvm = spark.sparkContext._jvm
    path = jvm.org.apache.hadoop.fs.Path(url)  # type: ignore[union-attr]
    path.getFileSystem(spark.sparkContext._jsc.hadoopConfiguration()).delete(path, True)  # type: ignore[union-attr]


def _check_int_ids(frame: pd.DataFrame) -> None:
    # Spark's ALS keys rows by int; larger or string ids would need an index of their own.
    for column in ("user_id", "item_id"):
        values = frame[column]
        if not pd.api.types.is_integer_dtype(values):
            raise ValueError(f"the spark engine needs integer {column}s, got dtype {values.dtype}")
        if len(values) and (values.min() < 0 or values.max() > _INT32_MAX):
            raise ValueError(f"the spark engine needs {column}s in [0, {_INT32_MAX}]")


def _read(spark: SparkSession, url: str) -> DataFrame:
    from pyspark.sql import functions as F

    return spark.read.parquet(url).select(
        F.col("user_id").cast("int"), F.col("item_id").cast("int"), F.col("rating").cast("double")
    )


# --------------------------------------------------------------- mapping
def spark_reg_param(regularization: float, exponent: float, user_counts: np.ndarray, item_counts: np.ndarray) -> float:
    """Spark's ``regParam`` (penalty ``regParam * n``) matching ``regularization * n^exponent``
    at a typical count: the geometric mean of the users' and the items' mean rating counts
    (one regParam serves both sides). On ml-100k u1 that is 64 ratings and regParam 0.154;
    the RMSE of regParam 0.1 and 0.2 is 0.005 worse."""
    users, items = user_counts[user_counts > 0], item_counts[item_counts > 0]
    if not len(users) or not len(items):
        return float(regularization)
    typical = float(np.sqrt(users.mean() * items.mean()))
    return float(regularization * typical ** (exponent - 1.0))


def _report(phase: Phase | None, name: str, fraction: float) -> None:
    if phase is not None:
        phase(name, fraction)


def _spark_info(spark: SparkSession, reg_param: float, seconds: float) -> dict[str, Any]:
    return {
        "engine": "spark",
        "spark_master": spark.sparkContext.master,
        "spark_version": spark.version,
        "reg_param": reg_param,
        "spark_seconds": round(seconds, 3),
    }


def _collect_factors(frame: DataFrame, vocab_lookup: Callable[[np.ndarray], np.ndarray], n: int, k: int) -> np.ndarray:
    """ALS's ``(id, features)`` rows as an ``(n, k)`` matrix in our vocabulary's order."""
    rows = frame.toPandas()
    out = np.zeros((n, k))
    if len(rows):
        codes = vocab_lookup(rows["id"].to_numpy(dtype=np.int64))
        keep = codes >= 0
        out[codes[keep]] = np.asarray(rows["features"].tolist(), dtype=np.float64)[keep]
    return out


# -------------------------------------------------------------------- MF
def fit_mf(
    spark: SparkSession,
    ratings_url: str,
    ratings: pd.DataFrame,
    params: MFParams | None = None,
    *,
    rating_scale: tuple[float, float] | None = None,
    validation: pd.DataFrame | None = None,
    callback: Callback | None = None,
    phase: Phase | None = None,
) -> MatrixFactorization:
    """Biased MF trained on Spark from the Parquet at ``ratings_url`` (the same ratings as
    ``ratings``). ``callback`` gets one report, after the Spark fit (Spark runs its epochs
    in one call); ``validation`` only scores that report (no early stopping)."""
    from pyspark.ml.recommendation import ALS
    from pyspark.sql import functions as F

    from .model import MatrixFactorization

    p = params or MFParams()
    data = encode_ratings(ratings, rating_scale)
    _check_int_ids(ratings)
    mu = float(ratings["rating"].to_numpy(dtype=np.float64).mean())  # the numpy trainer's, bit for bit
    user_counts = np.diff(data.by_user.indptr).astype(np.int64)
    item_counts = np.bincount(data.by_user.indices, minlength=len(data.items)).astype(np.int64)
    reg_param = spark_reg_param(p.regularization, p.regularization_exponent, user_counts, item_counts)
    t0 = time.perf_counter()

    _report(phase, "biases", 0.0)
    frame = _read(spark, ratings_url).withColumn("centered", F.col("rating") - F.lit(mu)).cache()
    user_bias_df, item_bias_df = _spark_biases(frame, p.bias_regularization)
    residuals = (
        frame.join(user_bias_df, "user_id").join(item_bias_df, "item_id")
        .select("user_id", "item_id", (F.col("centered") - F.col("b_u") - F.col("b_i")).alias("residual"))
    )
    user_bias_rows = user_bias_df.toPandas()

    _report(phase, "als", 0.15)
    als = ALS(
        rank=p.n_factors, maxIter=p.epochs, regParam=reg_param, implicitPrefs=False, nonnegative=False,
        userCol="user_id", itemCol="item_id", ratingCol="residual", seed=p.seed, coldStartStrategy="drop",
    )
    fitted = als.fit(residuals)
    user_factors = _collect_factors(fitted.userFactors, data.users.lookup, len(data.users), p.n_factors)
    for cached in (frame, user_bias_df, item_bias_df):  # a worker's session outlives its jobs
        cached.unpersist()
    spark_seconds = time.perf_counter() - t0

    _report(phase, "local epoch", 0.85)
    user_bias = _bias_array(user_bias_rows, "user_id", "b_u", data.users.lookup, len(data.users))
    by_user = data.by_user
    by_item = by_user.T.tocsr()
    by_item.sort_indices()
    # One epoch of our own ALS on Spark's result: items given Spark's users, then users
    # given those items, both under our exact penalty (count exponent and the bias solved
    # jointly), which Spark's count-scaled regParam only approximates. On ml-100k u1..u5
    # it brings the gap to the numpy trainer's RMSE from +0.0084 to +0.0038 (mean).
    items = _als.solve_side(
        by_item, by_item.data - mu, user_bias, user_factors, penalties(p, item_counts),
        solver=p.solver, dtype=np.float64,
    )
    item_bias, item_factors = items.bias, items.factors
    pen_user = penalties(p, user_counts)
    final = _als.solve_side(
        by_user, by_user.data - mu, item_bias, item_factors, pen_user, solver=p.solver, dtype=np.float64
    )
    factors = Factors(final.bias, np.ascontiguousarray(final.factors), item_bias, np.ascontiguousarray(item_factors))
    model = MatrixFactorization(p)
    model._install(
        data.users, data.items, factors, by_user,
        user_counts=user_counts, item_popularity=item_counts, global_mean=mu, rating_scale=data.rating_scale,
        n_ratings=by_user.nnz, fingerprint=fingerprint(data.users, data.items, by_user),
    )
    report = _mf_report(model, p, final, item_counts, validation, time.perf_counter() - t0)
    model.history = [report]
    model.fit_info = {
        "epochs_run": p.epochs, "best_epoch": p.epochs, "stopped": "completed",
        "bias_sweeps": BIAS_SWEEPS, **_spark_info(spark, reg_param, spark_seconds),
    }
    _report(phase, "done", 1.0)
    if callback is not None:
        callback(report)
    return model


def _bias_array(
    rows: pd.DataFrame, key: str, column: str, vocab_lookup: Callable[[np.ndarray], np.ndarray], n: int
) -> np.ndarray:
    """Biases collected from Spark, in vocabulary order (0 for ids Spark did not return)."""
    out = np.zeros(n)
    codes = vocab_lookup(rows[key].to_numpy(dtype=np.int64))
    out[codes[codes >= 0]] = rows[column].to_numpy(dtype=np.float64)[codes >= 0]
    return out


def _spark_biases(frame: DataFrame, bias_reg: float) -> tuple[DataFrame, DataFrame]:
    """``b_i = sum(r - mu - b_u) / (n_i + bias_reg)`` and ``b_u`` likewise, alternating
    :data:`BIAS_SWEEPS` times from ``b_u = 0``; each result is cached (and the previous
    sweep's dropped) so the lineage stays one sweep long."""
    from pyspark.sql import functions as F

    def regularized_mean(rows: DataFrame, key: str, column: Any, name: str) -> DataFrame:
        return rows.groupBy(key).agg((F.sum(column) / (F.count("*") + F.lit(bias_reg))).alias(name))

    user_bias: DataFrame | None = None
    item_bias: DataFrame | None = None
    for _ in range(BIAS_SWEEPS):
        if user_bias is None:
            new_items = regularized_mean(frame, "item_id", F.col("centered"), "b_i")
        else:
            new_items = regularized_mean(frame.join(user_bias, "user_id"), "item_id", F.col("centered") - F.col("b_u"), "b_i")
        new_items = new_items.cache()
        new_users = regularized_mean(
            frame.join(new_items, "item_id"), "user_id", F.col("centered") - F.col("b_i"), "b_u"
        ).cache()
        new_users.count()  # materialize before the previous sweep's caches go
        for old in (user_bias, item_bias):
            if old is not None:
                old.unpersist()
        user_bias, item_bias = new_users, new_items
    assert user_bias is not None and item_bias is not None
    return user_bias, item_bias


def _mf_report(
    model: MatrixFactorization, p: MFParams, final: _als.HalfStep, item_counts: np.ndarray,
    validation: pd.DataFrame | None, seconds: float,
) -> EpochReport:
    """The one history point: the numpy trainer's loss and RMSE, at the final factors."""
    n = float(model.n_ratings)
    sse = float(final.sse.sum())
    item_pen = float(np.einsum("ij,ij->", penalties(p, item_counts)[:, 1:], model.item_factors**2))
    item_pen += p.bias_regularization * float(model.item_bias @ model.item_bias)
    val_rmse = None
    if validation is not None and len(validation):
        check_frame(validation, "validation")
        pred = model.predict(validation["user_id"].to_numpy(), validation["item_id"].to_numpy())
        val_rmse = float(np.sqrt(np.mean((pred - validation["rating"].to_numpy(dtype=np.float64)) ** 2)))
    return EpochReport(
        epoch=p.epochs, epochs=p.epochs, train_loss=(sse + float(final.penalty.sum()) + item_pen) / n,
        train_rmse=float(np.sqrt(sse / n)), validation_rmse=val_rmse, seconds=seconds,
    )


# ------------------------------------------------------------------ iALS
def fit_ials(
    spark: SparkSession,
    ratings_url: str,
    ratings: pd.DataFrame,
    params: IALSParams | None = None,
    *,
    rating_scale: tuple[float, float] | None = None,
    callback: Callback | None = None,
    phase: Phase | None = None,
) -> ImplicitALS:
    """Implicit ALS trained on Spark (``implicitPrefs``) from the Parquet at ``ratings_url``,
    then one exact user half-step locally. ``callback`` gets one report, after the fit."""
    from pyspark.ml.recommendation import ALS
    from pyspark.sql import functions as F

    from .ials import ImplicitALS, _regularized_gram, confidence, solve_rows, solve_rows_reference

    p = params or IALSParams()
    data = encode_ratings(ratings, rating_scale)
    _check_int_ids(ratings)
    r_max = data.rating_scale[1]
    user_counts = np.diff(data.by_user.indptr)
    item_counts = np.bincount(data.by_user.indices, minlength=len(data.items))
    reg_param = spark_reg_param(p.regularization, 0.0, user_counts, item_counts)
    t0 = time.perf_counter()

    _report(phase, "als", 0.0)
    # Spark reads a rating <= 0 as "not a positive"; ours is a positive of confidence 1 at
    # r / r_max <= 0, so the strength is floored just above 0.
    strength = F.greatest(F.col("rating") / F.lit(r_max), F.lit(1e-12)).alias("strength")
    frame = _read(spark, ratings_url).select("user_id", "item_id", strength)
    als = ALS(
        rank=p.n_factors, maxIter=p.epochs, regParam=reg_param, implicitPrefs=True, alpha=p.alpha,
        userCol="user_id", itemCol="item_id", ratingCol="strength", seed=p.seed, coldStartStrategy="drop",
    )
    fitted = als.fit(frame)
    items = _collect_factors(fitted.itemFactors, data.items.lookup, len(data.items), p.n_factors)
    spark_seconds = time.perf_counter() - t0

    _report(phase, "user solve", 0.9)
    conf_user = data.by_user.copy()
    conf_user.data = confidence(conf_user.data, data.rating_scale, p.alpha)
    solve = solve_rows_reference if p.solver == "reference" else solve_rows
    users = solve(conf_user, items, _regularized_gram(items, p.regularization))
    model = ImplicitALS(p)
    _install_ials(model, data, users, items)
    report = EpochReport(
        epoch=p.epochs, epochs=p.epochs, train_loss=model._loss(conf_user, users, items) / data.by_user.nnz,
        train_rmse=None, validation_rmse=None, seconds=time.perf_counter() - t0,
    )
    model.history = [report]
    model.fit_info = {"epochs_run": p.epochs, "stopped": "completed", **_spark_info(spark, reg_param, spark_seconds)}
    _report(phase, "done", 1.0)
    if callback is not None:
        callback(report)
    return model


def _install_ials(model: ImplicitALS, data: EncodedRatings, users: np.ndarray, items: np.ndarray) -> None:
    """What ``ImplicitALS.fit`` sets once its epochs are done."""
    if not (np.isfinite(users).all() and np.isfinite(items).all()):
        from .ials import NonFiniteFactorsError

        raise NonFiniteFactorsError("Spark's iALS factors are NaN/inf; increase regularization")
    model._install_data(data, data.by_user.nnz, model._data_fingerprint(data))
    model._user_factors, model._item_factors = users, items
    model._reset_caches()
    model._fitted = True
