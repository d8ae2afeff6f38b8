"""A study and its trials as the API shows them, read from our row and Optuna's storage."""

from __future__ import annotations

import logging
import warnings
from typing import Any

import optuna
from optuna.trial import FrozenTrial, TrialState

from service.db.models import ModelVersion, TuningStudy
from service.schemas.tuning import StudyDetail, StudySummary, StudyVersion, TrialPublic
from service.tuning.runner import Budget

log = logging.getLogger(__name__)

STATES = {
    TrialState.RUNNING: "running", TrialState.COMPLETE: "complete", TrialState.PRUNED: "pruned",
    TrialState.FAIL: "failed", TrialState.WAITING: "waiting",
}
MIN_TRIALS_FOR_IMPORTANCE = 4


def summary(study: TuningStudy, trials: list[FrozenTrial]) -> StudySummary:
    budget = Budget.of(study, trials)
    best = _best(study, trials)
    return StudySummary(
        id=study.id, model_type=study.model_type, objective=study.objective,
        direction=study.direction,  # type: ignore[arg-type]
        status=study.status,  # type: ignore[arg-type]
        origin=study.origin,  # type: ignore[arg-type]
        n_trials=study.n_trials, validation_folds=study.validation_folds, timeout_seconds=study.timeout_seconds,
        trials_finished=budget.finished, trials_running=budget.running,
        best_value=best.value if best else study.best_value,
        best_params=best.params if best else study.best_params,
        best_trial=best.number if best else study.best_trial,
        job_id=study.job_id, model_version=study.model_version, error=study.error,
        created_at=study.created_at, deadline_at=study.deadline_at, finished_at=study.finished_at,
    )


def detail(study: TuningStudy, trials: list[FrozenTrial], version: ModelVersion | None,
           ostudy: optuna.Study | None) -> StudyDetail:
    return StudyDetail(
        **summary(study, trials).model_dump(),
        space=study.space, base_hyperparams=study.base_hyperparams, split=study.split,
        trials=[trial(t) for t in sorted(trials, key=lambda t: t.number)],
        best_so_far=best_so_far(trials, study.direction),
        importances=importances(ostudy, trials) if ostudy is not None else None,
        version=_version(version),
    )


def trial(frozen: FrozenTrial) -> TrialPublic:
    attrs = frozen.user_attrs
    return TrialPublic(
        number=frozen.number, state=STATES.get(frozen.state, "failed"),  # type: ignore[arg-type]
        params=frozen.params,
        value=frozen.value if frozen.state == TrialState.COMPLETE else None,
        intermediate=[frozen.intermediate_values[step] for step in sorted(frozen.intermediate_values)],
        metrics=attrs.get("metrics"), worker=attrs.get("worker"),
        note=attrs.get("stopped") or frozen.system_attrs.get("fail_reason"),
        started_at=frozen.datetime_start, finished_at=frozen.datetime_complete,
    )


def best_so_far(trials: list[FrozenTrial], direction: str) -> list[float | None]:
    better = max if direction == "maximize" else min
    best: float | None = None
    curve: list[float | None] = []
    for frozen in sorted(trials, key=lambda t: t.number):
        if frozen.state == TrialState.COMPLETE and frozen.value is not None:
            best = frozen.value if best is None else better(best, frozen.value)
        curve.append(best)
    return curve


def importances(ostudy: optuna.Study, trials: list[FrozenTrial]) -> dict[str, float] | None:
    """PED-ANOVA: numpy only (fANOVA, Optuna's default, needs scikit-learn)."""
    complete = [t for t in trials if t.state == TrialState.COMPLETE]
    if len(complete) < MIN_TRIALS_FOR_IMPORTANCE:
        return None
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # "experimental", and PED-ANOVA's small-sample notes
            found = optuna.importance.get_param_importances(
                ostudy, evaluator=optuna.importance.PedAnovaImportanceEvaluator(), normalize=True,
            )
    except (ValueError, RuntimeError, ZeroDivisionError) as exc:  # e.g. every trial scored the same
        log.debug("no importances for study %s: %s", ostudy.study_name, exc)
        return None
    return {name: float(value) for name, value in found.items()}


def _best(study: TuningStudy, trials: list[FrozenTrial]) -> FrozenTrial | None:
    complete = [t for t in trials if t.state == TrialState.COMPLETE and t.value is not None]
    if not complete:
        return None
    pick: Any = max if study.direction == "maximize" else min
    return pick(complete, key=lambda t: (t.value, -t.number))


def _version(version: ModelVersion | None) -> StudyVersion | None:
    if version is None:
        return None
    return StudyVersion(
        version=version.version, is_active=version.is_active, holdout_rmse=version.holdout_rmse,
        holdout_ndcg=version.holdout_ndcg, gate_activated=version.gate_activated, gate_reason=version.gate_reason,
    )
