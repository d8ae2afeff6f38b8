"""What the workers run for a study: one trial per task, the retrain of the best
trial, and the upkeep that settles studies whose last worker died.

Optuna coordinates: every trial task asks the shared storage for its next point (TPE,
with the trials every worker finished so far), and a study's trial tasks go to whichever
worker is free. Each task is safe to run twice: a study that is not running, or whose
budget is spent, is left alone, and only the one task whose update moves a study from
running to retraining queues its retrain."""

from __future__ import annotations

import logging
import warnings
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime

import optuna
from optuna.trial import TrialState
from sqlalchemy import select, update

from service.core.config import Settings, get_settings
from service.db.models import TrainingJob, TuningStudy, utcnow
from service.db.session import sync_session
from service.training.pipeline import load_genres, load_ratings
from service.training.status import JobStatus
from service.tuning import space as spaces
from service.tuning.objective import StudyStopped, run_objective, trial_data
from service.tuning.storage import get_storage

log = logging.getLogger(__name__)

Dispatch = Callable[[str], None]
FINISHED = (TrialState.COMPLETE, TrialState.PRUNED, TrialState.FAIL)


class StudyStatus:
    running = "running"
    retraining = "retraining"  # the best trial's training job runs
    succeeded = "succeeded"
    failed = "failed"
    cancelled = "cancelled"
    terminal = ("succeeded", "failed", "cancelled")


def sampler(seed: int | None = None) -> optuna.samplers.BaseSampler:
    # constant_liar: a trial running on another worker counts as a poor result, so
    # parallel workers do not all sample the same promising corner.
    return optuna.samplers.TPESampler(seed=seed, constant_liar=True, n_startup_trials=8)


def pruner() -> optuna.pruners.BasePruner:
    # ALS with more factors starts worse and ends better: judge no trial on its first epochs.
    return optuna.pruners.MedianPruner(n_startup_trials=4, n_warmup_steps=5)


def load_study(study_id: str, settings: Settings) -> optuna.Study:
    return optuna.load_study(study_name=study_id, storage=get_storage(settings), sampler=sampler(), pruner=pruner())


def _aware(moment: datetime | None) -> datetime | None:
    return moment.replace(tzinfo=UTC) if moment is not None and moment.tzinfo is None else moment


@dataclass(frozen=True)
class Budget:
    started: int
    finished: int
    running: int
    past_deadline: bool
    n_trials: int

    @classmethod
    def of(cls, study: TuningStudy, trials: list[optuna.trial.FrozenTrial]) -> Budget:
        deadline = _aware(study.deadline_at)
        return cls(
            # The enqueued starting point waits until a task takes it; it has not started.
            started=sum(t.state != TrialState.WAITING for t in trials),
            finished=sum(t.state in FINISHED for t in trials),
            running=sum(t.state == TrialState.RUNNING for t in trials),
            past_deadline=deadline is not None and utcnow() >= deadline,
            n_trials=study.n_trials,
        )

    @property
    def may_start(self) -> bool:
        return self.started < self.n_trials and not self.past_deadline

    @property
    def spent(self) -> bool:
        return self.running == 0 and (self.finished >= self.n_trials or self.past_deadline)


def _fail_stale(ostudy: optuna.Study) -> None:
    with warnings.catch_warnings():
        # "experimental" since Optuna 2.9, and unchanged since: it is what fails a trial
        # whose worker died (its heartbeat stopped for TUNE_GRACE_SECONDS).
        warnings.simplefilter("ignore", optuna.exceptions.ExperimentalWarning)
        optuna.storages.fail_stale_trials(ostudy)


def _study(study_id: str) -> TuningStudy | None:
    with sync_session() as session:
        return session.get(TuningStudy, study_id)


def run_trial(study_id: str, dispatch_finish: Dispatch) -> str:
    """Run one trial of the study if its budget allows; returns what happened."""
    settings = get_settings()
    study = _study(study_id)
    if study is None or study.status != StudyStatus.running:
        return "skipped"
    ostudy = load_study(study_id, settings)
    _fail_stale(ostudy)  # a dead worker's trial no longer counts as running
    if not Budget.of(study, ostudy.get_trials(deepcopy=False)).may_start:
        maybe_finish(study_id, dispatch_finish)
        return "budget spent"
    with sync_session() as session:
        data = trial_data(load_ratings(session), settings, load_genres(session), study.validation_folds)
        session.execute(update(TuningStudy).where(TuningStudy.id == study_id, TuningStudy.split.is_(None))
                        .values(split=data.split))
    try:
        ostudy.optimize(lambda trial: run_objective(trial, study, data, settings), n_trials=1, gc_after_trial=False)
        outcome = "ran"
    except StudyStopped:
        outcome = "stopped: the study was cancelled"
    except Exception:  # Optuna has recorded the trial as failed; the study goes on
        log.exception("a trial of study %s failed", study_id)
        outcome = "failed"
    maybe_finish(study_id, dispatch_finish)
    return outcome


def maybe_finish(study_id: str, dispatch_finish: Dispatch) -> bool:
    """Queue the retrain of the best trial once no trial runs and the budget is spent."""
    study = _study(study_id)
    if study is None or study.status != StudyStatus.running:
        return False
    ostudy = load_study(study_id, get_settings())
    _fail_stale(ostudy)
    if not Budget.of(study, ostudy.get_trials(deepcopy=False)).spent:
        return False
    with sync_session() as session:
        claimed = session.execute(
            update(TuningStudy).where(TuningStudy.id == study_id, TuningStudy.status == StudyStatus.running)
            .values(status=StudyStatus.retraining)
        ).rowcount
    if claimed:
        log.info("study %s: budget spent, retraining its best trial", study_id)
        dispatch_finish(study_id)
    return bool(claimed)


def finish_study(study_id: str, run_job: Callable[[str], object]) -> str | None:
    """Retrain the best trial's hyperparameters on all training data as a normal
    training job (split, fit, holdout evaluation, gate), run here, and record the job
    and the version. Returns the job id (None when no trial completed)."""
    settings = get_settings()
    with sync_session() as session:
        study = session.get(TuningStudy, study_id, with_for_update=True)
        if study is None or study.status != StudyStatus.retraining:
            return None
        if study.job_id is None:
            ostudy = load_study(study_id, settings)
            if not any(t.state == TrialState.COMPLETE for t in ostudy.get_trials(deepcopy=False)):
                study.status, study.finished_at = StudyStatus.failed, utcnow()
                study.error = "no trial completed, so there is nothing to retrain"
                return None
            best = ostudy.best_trial
            job = TrainingJob.new(kind="tune", model_type=study.model_type,
                                  hyperparams=spaces.hyperparams(study.model_type, study.base_hyperparams, best.params))
            session.add(job)
            study.job_id, study.best_trial, study.best_value, study.best_params = job.id, best.number, best.value, best.params
        job_id = study.job_id
    run_job(job_id)
    settle(study_id)
    return job_id


def settle(study_id: str) -> None:
    """A retraining study takes its job's outcome once the job has one."""
    with sync_session() as session:
        study = session.get(TuningStudy, study_id, with_for_update=True)
        if study is None or study.job_id is None:
            return
        job = session.get(TrainingJob, study.job_id)
        if job is None or not JobStatus(job.status).is_terminal:
            return
        study.model_version = job.model_version
        if study.status != StudyStatus.retraining:
            return
        study.finished_at = utcnow()
        if job.status == JobStatus.succeeded:
            study.status = StudyStatus.succeeded
        else:
            study.status, study.error = StudyStatus.failed, f"the retrain job {job.status}: {job.error}"


def upkeep(dispatch_finish: Dispatch) -> int:
    """Settle what no task will: fail the trials of dead workers (their heartbeat
    stopped), finish studies whose last trial was one of them, and give a retraining
    study its job's outcome. Returns how many studies moved on."""
    with sync_session() as session:
        running = list(session.scalars(select(TuningStudy.id).where(TuningStudy.status == StudyStatus.running)))
        retraining = list(session.scalars(
            select(TuningStudy.id).where(TuningStudy.status == StudyStatus.retraining, TuningStudy.job_id.is_not(None))
        ))
    moved = sum(maybe_finish(study_id, dispatch_finish) for study_id in running)
    for study_id in retraining:
        settle(study_id)
    return moved
