"""The training pipeline behind ``train_model(job_id)``.

It re-reads everything from the database, is safe to run twice (a finished job is left
alone, a job another live worker holds is skipped) and writes the new version, its
artifact, its metrics and the job's outcome in one transaction.
"""

from __future__ import annotations

import hashlib
import logging
import time
from dataclasses import dataclass
from datetime import timedelta

import pandas as pd
from sqlalchemy import select, update
from sqlalchemy.orm import Session

from recsys_core.data import user_holdout_split
from recsys_core.evaluation import evaluate
from recsys_core.model import EpochReport, MatrixFactorization
from recsys_core.params import MFParams
from service.core.config import get_settings
from service.db import statements
from service.db.models import (
    MetricRecord,
    ModelArtifact,
    ModelVersion,
    Rating,
    TrainingJob,
    utcnow,
)
from service.db.session import sync_session

log = logging.getLogger(__name__)

HOLDOUT_PROTOCOL = "user_holdout"
MIN_RATINGS = 10


class JobCancelled(Exception):
    pass


@dataclass(frozen=True)
class Outcome:
    job_id: str
    status: str
    model_version: int | None = None


def load_ratings(session: Session) -> pd.DataFrame:
    rows = session.execute(
        select(Rating.user_id, Rating.movie_id, Rating.rating, Rating.timestamp)
    ).all()
    frame = pd.DataFrame(rows, columns=["user_id", "item_id", "rating", "timestamp"])
    return frame.astype({"user_id": "int64", "item_id": "int64", "rating": "float64", "timestamp": "int64"})


class _Progress:
    """Writes each epoch to the job row and turns a cancel request into JobCancelled.

    With ``record`` the epochs also become the job's curve (``points``)."""

    def __init__(self, job_id: str, *, phase_start: float, phase_share: float, record: bool) -> None:
        self.job_id = job_id
        self.phase_start = phase_start
        self.phase_share = phase_share
        self.record = record
        self.points: list[dict[str, object]] = []

    def __call__(self, report: EpochReport) -> bool:
        point = {
            "epoch": report.epoch,
            "train_loss": float(report.train_loss),
            "train_rmse": _finite_or_none(report.train_rmse),
            "validation_rmse": _finite_or_none(report.validation_rmse),
            "seconds": float(report.seconds),
        }
        progress = self.phase_start + self.phase_share * report.epoch / max(report.epochs, 1)
        with sync_session() as session:
            job = session.get(TrainingJob, self.job_id)
            if job is None or job.cancel_requested:
                raise JobCancelled()
            values: dict[str, object] = {
                "progress": min(progress, 1.0),
                "heartbeat_at": utcnow(),
            }
            if self.record:
                self.points.append(point)
                values["history"] = list(self.points)
                values["current_epoch"] = report.epoch
                values["total_epochs"] = report.epochs
            session.execute(update(TrainingJob).where(TrainingJob.id == self.job_id).values(**values))
        return True


def _finite_or_none(value: float | None) -> float | None:
    if value is None or value != value:
        return None
    return float(value)


def run_training_job(job_id: str) -> Outcome:
    settings = get_settings()
    stale_before = utcnow() - timedelta(seconds=settings.job_stale_seconds)
    with sync_session() as session:
        claimed = session.execute(statements.claim_job(job_id, stale_before)).rowcount
    if not claimed:
        with sync_session() as session:
            job = session.get(TrainingJob, job_id)
            status = job.status if job else "missing"
        log.info("job %s not claimed (status %s)", job_id, status)
        return Outcome(job_id, status)

    try:
        return _train(job_id)
    except JobCancelled:
        _finish(job_id, status="cancelled", error="cancelled on request")
        return Outcome(job_id, "cancelled")
    except Exception as exc:  # the job row must say why, whatever went wrong
        log.exception("training job %s failed", job_id)
        from workers.jobs import failure_message  # the rule for what clients may see

        _finish(job_id, status="failed", error=failure_message(job_id, exc))
        return Outcome(job_id, "failed")


def _finish(job_id: str, *, status: str, error: str | None) -> None:
    with sync_session() as session:
        session.execute(
            update(TrainingJob)
            .where(TrainingJob.id == job_id)
            .values(status=status, error=error, finished_at=utcnow())
        )


def _train(job_id: str) -> Outcome:
    settings = get_settings()
    with sync_session() as session:
        job = session.get(TrainingJob, job_id)
        assert job is not None
        params = MFParams.model_validate(job.hyperparams)
        model_type = job.model_type
        ratings = load_ratings(session)
    if len(ratings) < MIN_RATINGS:
        raise ValueError(f"need at least {MIN_RATINGS} ratings to train, found {len(ratings)}")

    # Honest evaluation: metrics come from a holdout the model never saw; the per-epoch
    # validation curve (and early stopping) uses a slice of the training part only.
    split = user_holdout_split(ratings, test_fraction=settings.holdout_fraction, seed=settings.split_seed)
    inner = user_holdout_split(split.train, test_fraction=0.1, seed=settings.split_seed + 1)
    # The configured scale, never the data's extremes: predictions are clipped to it, and
    # one stray rating must not stretch what the model may answer.
    scale = (settings.rating_min, settings.rating_max)

    started = time.perf_counter()
    curve = _Progress(job_id, phase_start=0.0, phase_share=0.6, record=True)
    evaluated = MatrixFactorization(**params.model_dump()).fit(
        inner.train, validation=inner.test, rating_scale=scale, callback=curve
    )
    report = evaluate(evaluated, inner.train, split.test, k=settings.evaluation_k)
    metrics = {k: _finite_or_none(v) for k, v in report.as_dict().items()}

    epochs_used = _epochs_for_refit(curve.points, params)
    final_params = params.model_copy(update={"epochs": epochs_used, "early_stopping_patience": 0})
    final = MatrixFactorization(**final_params.model_dump()).fit(
        ratings,
        rating_scale=scale,
        callback=_Progress(job_id, phase_start=0.7, phase_share=0.3, record=False),
    )
    artifact = final.to_bytes()
    checksum = hashlib.sha256(artifact).hexdigest()
    log.info("job %s trained in %.2fs", job_id, time.perf_counter() - started)

    with sync_session() as session:
        job = session.get(TrainingJob, job_id, with_for_update=True)
        if job is None or job.cancel_requested:
            raise JobCancelled()
        version = ModelVersion(
            model_type=model_type,
            hyperparams=params.model_dump(mode="json"),
            status="ready",
            trained_at=utcnow(),
            n_train_ratings=len(ratings),
            n_users=final.n_users,
            n_items=final.n_items,
            data_fingerprint=final.fingerprint,
            artifact_checksum=checksum,
            artifact_size=len(artifact),
            holdout_rmse=metrics.get("rmse"),
            job_id=job_id,
        )
        session.add(version)
        session.flush()
        session.add(ModelArtifact(version=version.version, data=artifact, checksum=checksum))
        session.add(
            MetricRecord(
                model_version=version.version,
                protocol=HOLDOUT_PROTOCOL,
                k=settings.evaluation_k,
                n_test=int(report.n_test),
                values=metrics,
            )
        )
        for statement in statements.lock_versions(session.get_bind().dialect.name):
            session.execute(statement)
        if _should_activate(session, version, settings.activation_tolerance):
            for statement in statements.activation(version.version):
                session.execute(statement)
        job.status = "succeeded"
        job.progress = 1.0
        job.model_version = version.version
        job.finished_at = utcnow()
        new_version = version.version
    apply_retention(settings.model_retention)
    return Outcome(job_id, "succeeded", new_version)


def _epochs_for_refit(history: list[dict[str, object]], params: MFParams) -> int:
    """With early stopping, refit for as many epochs as the best validation epoch."""
    scored = [p for p in history if p.get("validation_rmse") is not None]
    if not params.early_stopping_patience or not scored:
        return params.epochs
    return int(min(scored, key=lambda p: p["validation_rmse"])["epoch"])  # type: ignore[arg-type, return-value]


def _should_activate(session: Session, candidate: ModelVersion, tolerance: float) -> bool:
    """The first model always activates; later ones only if their holdout RMSE is no
    worse than the active version's by more than ``tolerance``."""
    active = session.scalars(statements.active_version()).first()
    if active is None:
        return True
    if active.holdout_rmse is None or candidate.holdout_rmse is None:
        return candidate.holdout_rmse is not None
    return candidate.holdout_rmse <= active.holdout_rmse + tolerance


def apply_retention(keep: int) -> list[int]:
    """Mark versions beyond the newest ``keep`` deleted (never the active one) and drop
    their artifacts, under the same lock as activation and deletion."""
    with sync_session() as session:
        for statement in statements.lock_versions(session.get_bind().dialect.name):
            session.execute(statement)
        doomed = list(session.scalars(statements.versions_beyond_retention(keep)))
        if not doomed:
            return []
        deleted = list(session.scalars(statements.mark_deleted(doomed)))
        if deleted:
            session.execute(statements.delete_artifacts(deleted))
    return deleted
