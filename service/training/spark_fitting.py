"""Training a candidate through Spark (engine ``spark``): the same splits, evaluation and
refit as the numpy path (service.training.fitting), with each fit run by
recsys_core.spark_als on Parquet snapshots of the frames it fits on.

The holdout and the gate are the numpy path's, so a Spark version and a numpy one are
compared on the same ratings; only the fits differ. Snapshots live under
SPARK_SNAPSHOT_URL for the job's duration and are deleted when it ends, however it ends.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping, Sequence
from typing import Any

import pandas as pd
from pydantic import BaseModel

from recsys_core import spark_als
from recsys_core.evaluation import evaluate
from recsys_core.params import IALSParams, MFParams
from recsys_core.recommender import Recommender
from service.core.config import Settings
from service.training.fitting import (
    Candidate,
    candidate_of,
    candidate_threshold,
    evaluation_splits,
    refit_params,
)
from service.training.progress import JobCancelled, JobProgress
from service.training.spark import CancelWatcher, snapshot_folder, spark_session

log = logging.getLogger(__name__)

Fit = Callable[..., Recommender]


def _fit_mf(spark: Any, url: str, frame: pd.DataFrame, params: BaseModel, **kw: Any) -> Recommender:
    assert isinstance(params, MFParams)
    return spark_als.fit_mf(spark, url, frame, params, **kw)


def _fit_ials(spark: Any, url: str, frame: pd.DataFrame, params: BaseModel, **kw: Any) -> Recommender:
    assert isinstance(params, IALSParams)
    kw.pop("validation", None)  # iALS reports no validation RMSE
    return spark_als.fit_ials(spark, url, frame, params, **kw)


FITS: dict[str, Fit] = {"matrix_factorization": _fit_mf, "ials": _fit_ials}


def train_on_spark(
    model_type: str,
    params: BaseModel,
    ratings: pd.DataFrame,
    settings: Settings,
    curve: JobProgress,
    refit: JobProgress,
    item_tags: Mapping[int, Sequence[str]] | None = None,  # neither Spark type uses them
) -> Candidate:
    """Fit on the inner training part, evaluate on the holdout, refit on all ratings."""
    fit = FITS.get(model_type)
    if fit is None:
        raise ValueError(f"engine spark trains only {', '.join(FITS)}, not {model_type}")
    split, inner = evaluation_splits(ratings, settings)
    scale = (settings.rating_min, settings.rating_max)
    curve.phase("starting spark", 0.0)
    spark = spark_session(settings)
    folder = snapshot_folder(settings, curve.job_id)
    # The heartbeat well inside JOB_STALE_SECONDS: a long Spark fit reports no epochs.
    beat = min(10.0, settings.job_stale_seconds / 4)
    with CancelWatcher(curve.job_id, spark, f"recsys-{curve.job_id}", heartbeat_every=beat) as watcher:
        try:
            curve.phase("snapshot", 0.02)
            url = spark_als.write_snapshot(inner.train, f"{folder}/fit", spark)
            evaluated = fit(spark, url, inner.train, params, rating_scale=scale, validation=inner.test,
                            callback=curve, phase=_scaled(curve, 0.05, 0.95))
            report = evaluate(evaluated, inner.train, split.test, k=settings.evaluation_k,
                              candidate_threshold=candidate_threshold(settings))
            refit.phase("snapshot", 0.0)
            url = spark_als.write_snapshot(ratings, f"{folder}/all", spark)
            final = fit(spark, url, ratings, refit_params(params, curve.points), rating_scale=scale,
                        phase=_scaled(refit, 0.05, 0.95))
        except JobCancelled:
            raise
        except Exception as exc:
            if watcher.cancelled:  # the fit failed because its job group was cancelled
                raise JobCancelled() from exc
            raise
        finally:
            try:
                spark_als.delete_snapshot(folder, spark)
            except Exception:  # the job's outcome matters more than a leftover folder
                log.warning("could not delete the snapshot %s", folder, exc_info=True)
    return candidate_of(final, report, params)


def _scaled(progress: JobProgress, start: float, share: float) -> spark_als.Phase:
    """A fit's phases (0 to 1) as ``start + share * fraction`` of the progress's own phase."""
    return lambda name, fraction: progress.phase(name, start + share * fraction)
