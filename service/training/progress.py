"""A running job's progress: each epoch goes to the job row, and a cancel request stops
the fit at the next epoch."""

from __future__ import annotations

from typing import TYPE_CHECKING

from sqlalchemy import update

from service.db.models import TrainingJob, utcnow
from service.db.session import sync_session

if TYPE_CHECKING:
    from recsys_core.recommender import EpochReport


class JobCancelled(Exception):
    pass


class JobProgress:
    """Writes each epoch to the job row and turns a cancel request into JobCancelled.

    The epochs fill ``phase_share`` of the job's progress from ``phase_start``; with
    ``record`` they also become the job's curve (``points``)."""

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
            "train_rmse": finite_or_none(report.train_rmse),
            "validation_rmse": finite_or_none(report.validation_rmse),
            "validation_ndcg": finite_or_none(report.validation_ndcg),
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

    def phase(self, name: str, fraction: float) -> None:
        """A fit without epochs to report (Spark's) has reached ``name``, ``fraction`` of
        it done: move the job's progress and heartbeat, and stop on a cancel request."""
        with sync_session() as session:
            job = session.get(TrainingJob, self.job_id)
            if job is None or job.cancel_requested:
                raise JobCancelled()
            progress = min(self.phase_start + self.phase_share * fraction, 1.0)
            session.execute(
                update(TrainingJob).where(TrainingJob.id == self.job_id)
                .values(progress=max(progress, job.progress), heartbeat_at=utcnow())
            )


def finite_or_none(value: float | None) -> float | None:
    if value is None or value != value:
        return None
    return float(value)
