"""Everything model-type specific about training a version: validating its
hyperparameters, the splits it needs, its fits and its evaluation on the holdout.

The pipeline calls ``train_candidate`` and knows nothing of the model; a new type adds
a ``Trainer`` to ``TRAINERS``.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import pandas as pd
from pydantic import BaseModel

from recsys_core.data import Split, user_holdout_split
from recsys_core.evaluation import EvaluationReport, evaluate
from recsys_core.params import MFParams
from recsys_core.recommender import Recommender
from recsys_core.types import MODEL_TYPES, build_model, params_class
from service.core.config import Settings
from service.training.progress import JobProgress, finite_or_none

HOLDOUT_PROTOCOL = "user_holdout"

# The candidate protocol's relevance threshold on the default 0.5-5 scale (recsys_core's
# 3.5). Other scales put it at the same fraction of their width, so the metric judges
# the same ratings relevant after a linear change of scale; a fixed 3.5 called nearly
# every rating relevant on 1-10 and almost none on 0.5-4.
_CANDIDATE_THRESHOLD_AT_DEFAULT = (3.5 - 0.5) / (5.0 - 0.5)


def candidate_threshold(settings: Settings) -> float:
    return settings.rating_min + _CANDIDATE_THRESHOLD_AT_DEFAULT * (settings.rating_max - settings.rating_min)


@dataclass(frozen=True)
class Candidate:
    """A trained model not yet written as a version."""

    artifact: bytes  # the model's saved form
    metrics: dict[str, float | None]  # on the holdout (HOLDOUT_PROTOCOL); NaN becomes None
    n_test: int  # the holdout ratings the metrics come from
    hyperparams: dict[str, Any]  # what the version records (JSON)
    n_users: int
    n_items: int
    fingerprint: str  # of the data the artifact was fit on


@dataclass(frozen=True)
class Trainer:
    """How to train one model type: its hyperparameters' class and the function that
    fits, evaluates and refits (validated params, ratings, settings, curve, refit)."""

    params: type[BaseModel]
    train: Callable[[Any, pd.DataFrame, Settings, JobProgress, JobProgress, Mapping[int, Sequence[str]] | None], Candidate]


def train_candidate(
    model_type: str,
    hyperparams: dict[str, Any],
    ratings: pd.DataFrame,
    settings: Settings,
    curve_progress: JobProgress,
    refit_progress: JobProgress,
    item_tags: Mapping[int, Sequence[str]] | None = None,
    engine: str = "numpy",
) -> Candidate:
    """Fit, evaluate and refit one model of ``model_type`` on ``ratings``.

    ``curve_progress`` receives the epochs of the fit that is evaluated (they become the
    job's curve), ``refit_progress`` those of the final fit on all ratings; either raises
    JobCancelled to stop. ``engine="spark"`` fits through Spark (spark_fitting), on the
    same splits and with the same evaluation."""
    trainer = TRAINERS.get(model_type)
    if trainer is None:
        raise ValueError(f"model type {model_type} cannot be trained; known types: {', '.join(TRAINERS)}")
    params = trainer.params.model_validate(hyperparams)
    if engine == "spark":
        from service.training.spark_fitting import train_on_spark  # pyspark only when asked for

        return train_on_spark(model_type, params, ratings, settings, curve_progress, refit_progress, item_tags)
    if engine != "numpy":
        raise ValueError(f"unknown engine {engine!r}; one of numpy, spark")
    return trainer.train(params, ratings, settings, curve_progress, refit_progress, item_tags)


def evaluation_splits(ratings: pd.DataFrame, settings: Settings) -> tuple[Split, Split]:
    """The holdout a version is evaluated on, and the split of the rest it is fit on.

    Honest evaluation: metrics come from a holdout the model never saw; the per-epoch
    validation curve (and early stopping, and the ensemble's blend weights) use a
    slice of the training part only (``inner.test``), and the evaluated model is fit
    on ``inner.train``."""
    holdout = user_holdout_split(ratings, test_fraction=settings.holdout_fraction, seed=settings.split_seed)
    inner = user_holdout_split(holdout.train, test_fraction=0.1, seed=settings.split_seed + 1)
    return holdout, inner


def _train_any(model_type: str) -> Callable[..., Candidate]:
    def train(
        params: BaseModel, ratings: pd.DataFrame, settings: Settings, curve: JobProgress, refit: JobProgress,
        item_tags: Mapping[int, Sequence[str]] | None,
    ) -> Candidate:
        split, inner = evaluation_splits(ratings, settings)
        # The configured scale, never the data's extremes: predictions are clipped to it, and
        # one stray rating must not stretch what the model may answer.
        scale = (settings.rating_min, settings.rating_max)

        evaluated = build_model(model_type, params).fit(
            inner.train, validation=inner.test, rating_scale=scale, callback=curve, item_tags=item_tags
        )
        report = evaluate(evaluated, inner.train, split.test, k=settings.evaluation_k,
                          candidate_threshold=candidate_threshold(settings))
        final = build_model(model_type, refit_params(params, curve.points)).fit(
            ratings, rating_scale=scale, callback=refit, item_tags=item_tags
        )
        return candidate_of(final, report, params)

    return train


def candidate_of(final: Recommender, report: EvaluationReport, params: BaseModel) -> Candidate:
    """The candidate of a refit model and the evaluated fit's holdout report."""
    return Candidate(
        artifact=final.to_bytes(),
        metrics={k: finite_or_none(v) for k, v in report.as_dict().items()},
        n_test=int(report.n_test),
        hyperparams=params.model_dump(mode="json"),
        n_users=final.n_users,
        n_items=final.n_items,
        fingerprint=final.fingerprint,
    )


def refit_params(params: BaseModel, history: list[dict[str, object]]) -> BaseModel:
    """MF with early stopping is refit for as many epochs as its best validation epoch
    (the refit has no validation part to stop on)."""
    if not isinstance(params, MFParams):
        return params
    scored = [p for p in history if p.get("validation_rmse") is not None]
    epochs = params.epochs
    if params.early_stopping_patience and scored:
        epochs = int(min(scored, key=lambda p: p["validation_rmse"])["epoch"])  # type: ignore[arg-type, call-overload]
    return params.model_copy(update={"epochs": epochs, "early_stopping_patience": 0})


TRAINERS: dict[str, Trainer] = {
    model_type: Trainer(params_class(model_type), _train_any(model_type)) for model_type in MODEL_TYPES
}
