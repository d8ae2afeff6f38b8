"""Hyperparameter search: the request that starts a study, and a study and its trials as shown."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from recsys_core.types import DEFAULT_MODEL_TYPE, ModelTypeName
from service.schemas.common import UtcDatetime
from service.tuning.space import Space

StudyStatusName = Literal["running", "retraining", "succeeded", "failed", "cancelled"]
TrialState = Literal["running", "complete", "pruned", "failed", "waiting"]


class TuneRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    model_type: ModelTypeName = Field(DEFAULT_MODEL_TYPE, description="The model type to tune; without one, the ensemble.")
    space: Space | None = Field(
        default=None,
        description="Hyperparameter name (dotted for the ensemble's parts: mf.n_factors) to a range "
        "({type: int|float, low, high, log}) or {type: categorical, choices}; null: the type's default "
        "space (GET /api/ml/tune/spaces). Every bound must be a value the type accepts.",
    )
    base_hyperparams: dict[str, Any] = Field(
        default_factory=dict,
        description="Hyperparameters every trial shares (validated as a training request's); the space's values "
        "are laid over them.",
    )
    n_trials: int | None = Field(
        default=None, ge=1, le=1000,
        description="Trials to run; null with a timeout: as many as fit, up to TUNE_MAX_TRIALS.",
    )
    timeout_seconds: float | None = Field(
        default=None, ge=1, le=7 * 86_400,
        description="Wall time after which no new trial starts (those running finish).",
    )
    validation_folds: int = Field(
        default=1, ge=1, le=5,
        description="Validation splits a trial is scored on, its objective their mean: 1 is evaluation_splits' own "
        "(10% of each user's training ratings); more are carved from the training part with the next seeds, a "
        "less noisy choice for a type that fits fast (MF) at that many fits per trial.",
    )
    objective: Literal["ndcg@10", "rmse"] | None = Field(
        default=None,
        description="What trials are scored on, on a validation split carved from the training part (never the "
        "holdout): full-catalogue ndcg@10 (maximized) or rmse (minimized). Null: the metric the type is gated on.",
    )


class StudyAccepted(BaseModel):
    study_id: str = Field(description="The new study's id.")
    status: StudyStatusName = Field(description="Its status when accepted: running (its trials are queued).")
    status_url: str = Field(description="The path to poll for the study and its trials.")


class TrialPublic(BaseModel):
    number: int = Field(description="The trial's number in the study, from 0 in the order trials started.")
    state: TrialState = Field(description="complete, pruned (stopped early by the pruner), failed, or running.")
    params: dict[str, Any] = Field(description="The values the sampler chose, by hyperparameter name.")
    value: float | None = Field(description="The objective on the validation split; null unless complete.")
    intermediate: list[float] = Field(description="The objective's per-epoch figure reported to the pruner, by epoch.")
    metrics: dict[str, float | None] | None = Field(description="Every validation metric of a complete trial.")
    worker: str | None = Field(description="host:pid of the process that ran it.")
    note: str | None = Field(description="Why a trial stopped early (pruned, cancelled), if it did.")
    started_at: UtcDatetime | None = Field(description="When it started.")
    finished_at: UtcDatetime | None = Field(description="When it ended; null while it runs.")


class StudyVersion(BaseModel):
    version: int = Field(description="The version the best trial was retrained into.")
    is_active: bool = Field(description="Whether it serves now.")
    holdout_rmse: float | None = Field(description="Its holdout RMSE (types that predict ratings).")
    holdout_ndcg: float | None = Field(description="Its holdout full-catalogue NDCG@K.")
    gate_activated: bool | None = Field(description="Whether the quality gate activated it.")
    gate_reason: str | None = Field(description="The gate's reason, as on the version.")


class StudySummary(BaseModel):
    id: str = Field(description="The study's id (a UUID).")
    model_type: str = Field(description="The model type tuned.")
    objective: str = Field(description="ndcg@10 or rmse, on the validation split.")
    direction: Literal["maximize", "minimize"] = Field(description="Whether a higher or lower objective is better.")
    status: StudyStatusName = Field(
        description="running (trials), retraining (the best trial becomes a version), then succeeded, failed or "
        "cancelled."
    )
    origin: Literal["api", "cli", "schedule"] = Field(description="Who started it.")
    n_trials: int = Field(description="The trial budget.")
    validation_folds: int = Field(description="Validation splits each trial's objective is the mean over.")
    timeout_seconds: float | None = Field(description="The time budget, if any.")
    trials_finished: int = Field(description="Trials complete, pruned or failed.")
    trials_running: int = Field(description="Trials running now.")
    best_value: float | None = Field(description="The best objective so far.")
    best_params: dict[str, Any] | None = Field(description="The best trial's values so far.")
    best_trial: int | None = Field(description="The best trial's number so far.")
    job_id: str | None = Field(description="The training job that retrains the best trial.")
    model_version: int | None = Field(description="The version that job produced.")
    error: str | None = Field(description="Why the study failed, if it did.")
    created_at: UtcDatetime = Field(description="When it was started.")
    deadline_at: UtcDatetime | None = Field(description="When no new trial starts any more (the time budget).")
    finished_at: UtcDatetime | None = Field(description="When it ended.")


class StudyDetail(StudySummary):
    space: dict[str, Any] = Field(description="The search space.")
    base_hyperparams: dict[str, Any] = Field(description="The hyperparameters every trial shares.")
    split: dict[str, Any] | None = Field(
        description="The validation split trials are scored on: sizes and fingerprints of its train and validation "
        "parts, and of the holdout it excludes."
    )
    trials: list[TrialPublic] = Field(description="Every trial, by number.")
    best_so_far: list[float | None] = Field(
        description="By trial number: the best objective among the trials up to it (null before the first complete)."
    )
    importances: dict[str, float] | None = Field(
        description="Each hyperparameter's share of the objective's variation (PED-ANOVA), once 4 trials complete."
    )
    version: StudyVersion | None = Field(description="The version the study produced, once it has.")


class SearchSpaceInfo(BaseModel):
    model_type: str = Field(description="The model type.")
    objective: str = Field(description="The default objective: the metric the type is gated on.")
    space: dict[str, Any] = Field(description="Its default search space.")
