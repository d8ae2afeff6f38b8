"""One trial: fit the trial's hyperparameters on the validation split and score them.

The split is carved from the training part only: ``evaluation_splits`` gives the
holdout every version is evaluated on and, inside the rest, ``inner`` (a share of
each user's training ratings held out). Trials fit on ``inner.train`` and are scored on
``inner.test``; ``holdout.test`` is never read here, so the holdout that judges the
resulting version stays unseen by the search."""

from __future__ import annotations

import hashlib
import os
import socket
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np
import optuna
import pandas as pd

from recsys_core.data import Split, user_holdout_split
from recsys_core.evaluation import evaluate
from recsys_core.types import build_model
from service.core.config import Settings
from service.db.models import TuningStudy
from service.db.session import sync_session
from service.training.fitting import evaluation_splits
from service.training.progress import finite_or_none
from service.tuning import space as spaces

if TYPE_CHECKING:
    from recsys_core.recommender import EpochReport

OBJECTIVE_K = 10
INNER_FRACTION = 0.1  # evaluation_splits' share of each user's training ratings held out
OBJECTIVES = {"ndcg@10": "maximize", "rmse": "minimize"}
# The per-epoch figure each objective can prune on, where the type reports it.
EPOCH_METRIC = {"ndcg@10": "validation_ndcg", "rmse": "validation_rmse"}


class StudyStopped(Exception):
    """The study was cancelled while this trial ran."""


def fingerprint(frame: pd.DataFrame) -> str:
    """Of the (user, movie) pairs, whatever their order: two splits are the same split."""
    pairs = np.sort(frame["user_id"].to_numpy(np.int64) * 2**32 + frame["item_id"].to_numpy(np.int64))
    return hashlib.sha256(pairs.tobytes()).hexdigest()[:16]


@dataclass(frozen=True)
class TrialData:
    folds: list[Split]  # (what a trial fits on, what it is scored on); the first is inner
    split: dict[str, Any]  # sizes and fingerprints, recorded with the study
    item_tags: Mapping[int, Sequence[str]]


def trial_data(ratings: pd.DataFrame, settings: Settings, genres: Mapping[int, Sequence[str]],
               n_folds: int = 1) -> TrialData:
    holdout, inner = evaluation_splits(ratings, settings)
    # More folds: the same carving of the training part with the next seeds (the first is
    # evaluation_splits' own seed + 1); none of them reaches holdout.test.
    folds = [inner] + [
        user_holdout_split(holdout.train, test_fraction=INNER_FRACTION, seed=settings.split_seed + 1 + k)
        for k in range(1, n_folds)
    ]
    split = {
        "folds": n_folds,
        "ratings": len(ratings),
        "train": len(inner.train), "validation": len(inner.test), "holdout": len(holdout.test),
        "train_fingerprint": fingerprint(inner.train),
        "validation_fingerprint": fingerprint(inner.test),
        "holdout_fingerprint": fingerprint(holdout.test),
    }
    return TrialData(folds, split, genres)


class TrialProgress:
    """The fit's per-epoch callback: a cancelled study stops the trial, and (with
    ``report``, on the first fold) the objective's per-epoch figure goes to Optuna, whose
    pruner may stop it too."""

    def __init__(self, trial: optuna.Trial, study_id: str, objective: str, report: bool = True) -> None:
        self.trial = trial
        self.study_id = study_id
        self.metric = EPOCH_METRIC[objective]
        self.report = report

    def __call__(self, report: EpochReport) -> bool:
        with sync_session() as session:
            status = session.get(TuningStudy, self.study_id).status  # type: ignore[union-attr]
        if status == "cancelled":
            self.trial.set_user_attr("stopped", "the study was cancelled")
            raise StudyStopped()
        value = finite_or_none(getattr(report, self.metric))
        if value is not None and self.report:
            self.trial.report(value, step=report.epoch)
            if self.trial.should_prune():
                raise optuna.TrialPruned(f"pruned at epoch {report.epoch}: {self.metric} {value:.4f}")
        return True


def _mean(values: list[float | None]) -> float | None:
    known = [v for v in values if v is not None]
    return float(np.mean(known)) if len(known) == len(values) else None


def run_objective(trial: optuna.Trial, study: TuningStudy, data: TrialData, settings: Settings) -> float:
    values = spaces.suggest(trial, study.space)
    params = spaces.hyperparams(study.model_type, study.base_hyperparams, values)
    # One attribute, written once: a reader polling the trial never sees half of it.
    trial.set_user_attr("worker", f"{socket.gethostname()}:{os.getpid()}")
    trial.set_user_attr("split", data.split)
    scored = []
    for position, fold in enumerate(data.folds):
        model = build_model(study.model_type, params).fit(
            fold.train, validation=fold.test, rating_scale=(settings.rating_min, settings.rating_max),
            callback=TrialProgress(trial, study.id, study.objective, report=position == 0), item_tags=data.item_tags,
        )
        scored.append(evaluate(model, fold.train, fold.test, k=OBJECTIVE_K).as_dict())
    metrics = {k: _mean([finite_or_none(s[k]) for s in scored]) for k in scored[0]}
    trial.set_user_attr("metrics", metrics)
    value = metrics.get(study.objective)
    if value is None:
        raise ValueError(f"the trial has no {study.objective}")
    return value
