"""Everything model-type specific about training a version: validating its
hyperparameters, the splits it needs, its fits and its evaluation on the holdout.

The pipeline calls ``train_candidate`` and knows nothing of the model; a new type adds
a ``Trainer`` to ``TRAINERS``.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import pandas as pd
from pydantic import BaseModel

from recsys_core.data import user_holdout_split
from recsys_core.evaluation import evaluate
from recsys_core.model import MatrixFactorization
from recsys_core.params import MFParams
from service.core.config import Settings
from service.training.progress import JobProgress, finite_or_none

HOLDOUT_PROTOCOL = "user_holdout"


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
    train: Callable[[Any, pd.DataFrame, Settings, JobProgress, JobProgress], Candidate]


def train_candidate(
    model_type: str,
    hyperparams: dict[str, Any],
    ratings: pd.DataFrame,
    settings: Settings,
    curve_progress: JobProgress,
    refit_progress: JobProgress,
) -> Candidate:
    """Fit, evaluate and refit one model of ``model_type`` on ``ratings``.

    ``curve_progress`` receives the epochs of the fit that is evaluated (they become the
    job's curve), ``refit_progress`` those of the final fit on all ratings; either raises
    JobCancelled to stop."""
    trainer = TRAINERS.get(model_type)
    if trainer is None:
        raise ValueError(f"model type {model_type} cannot be trained; known types: {', '.join(TRAINERS)}")
    params = trainer.params.model_validate(hyperparams)
    return trainer.train(params, ratings, settings, curve_progress, refit_progress)


def _train_matrix_factorization(
    params: MFParams, ratings: pd.DataFrame, settings: Settings, curve: JobProgress, refit: JobProgress
) -> Candidate:
    # Honest evaluation: metrics come from a holdout the model never saw; the per-epoch
    # validation curve (and early stopping) uses a slice of the training part only.
    split = user_holdout_split(ratings, test_fraction=settings.holdout_fraction, seed=settings.split_seed)
    inner = user_holdout_split(split.train, test_fraction=0.1, seed=settings.split_seed + 1)
    # The configured scale, never the data's extremes: predictions are clipped to it, and
    # one stray rating must not stretch what the model may answer.
    scale = (settings.rating_min, settings.rating_max)

    evaluated = MatrixFactorization(**params.model_dump()).fit(
        inner.train, validation=inner.test, rating_scale=scale, callback=curve
    )
    report = evaluate(evaluated, inner.train, split.test, k=settings.evaluation_k)

    epochs_used = _epochs_for_refit(curve.points, params)
    final_params = params.model_copy(update={"epochs": epochs_used, "early_stopping_patience": 0})
    final = MatrixFactorization(**final_params.model_dump()).fit(ratings, rating_scale=scale, callback=refit)
    return Candidate(
        artifact=final.to_bytes(),
        metrics={k: finite_or_none(v) for k, v in report.as_dict().items()},
        n_test=int(report.n_test),
        hyperparams=params.model_dump(mode="json"),
        n_users=final.n_users,
        n_items=final.n_items,
        fingerprint=final.fingerprint,
    )


def _epochs_for_refit(history: list[dict[str, object]], params: MFParams) -> int:
    """With early stopping, refit for as many epochs as the best validation epoch."""
    scored = [p for p in history if p.get("validation_rmse") is not None]
    if not params.early_stopping_patience or not scored:
        return params.epochs
    return int(min(scored, key=lambda p: p["validation_rmse"])["epoch"])  # type: ignore[arg-type, return-value]


TRAINERS: dict[str, Trainer] = {
    "matrix_factorization": Trainer(MFParams, _train_matrix_factorization),
}
