"""SQL statements shared by the async API and the sync workers, so both follow one rule."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Delete, Executable, Select, Update, delete, func, select, update
from sqlalchemy.sql.dml import ReturningUpdate

from service.db.models import (
    DataGeneration,
    Experiment,
    ExperimentArm,
    ExperimentStatus,
    ModelArtifact,
    ModelVersion,
    TrainingJob,
    VersionStatus,
    utcnow,
)
from service.training.status import JobStatus

VERSIONS_LOCK = 0x7265_6373  # any constant shared by every process that changes versions
RETRAINS_LOCK = 0x7265_7472  # another, shared by every process that adds scheduled retrains


def lock_versions(dialect: str) -> list[Executable]:
    """Serialize every change to which versions are active or deleted (activation,
    deletion, retention), across processes, until the transaction ends.

    Each change is also written as a conditional statement whose row count the caller
    checks, so the decision and the write cannot drift apart; on PostgreSQL this
    transaction-scoped advisory lock also queues concurrent changes so they neither
    deadlock on each other's row locks nor interleave. SQLite serializes writers itself."""
    return _advisory_lock(VERSIONS_LOCK, dialect)


def lock_retrains(dialect: str) -> list[Executable]:
    """Serialize the scheduled retrain's check-then-add (see :func:`pending_retrains`)
    until the transaction ends, so two deliveries at once add one job, not two."""
    return _advisory_lock(RETRAINS_LOCK, dialect)


def _advisory_lock(key: int, dialect: str) -> list[Executable]:
    return [select(func.pg_advisory_xact_lock(key))] if dialect == "postgresql" else []


def pending_retrains() -> Select[tuple[str]]:
    """Retrain jobs not finished yet (queued, or running)."""
    return select(TrainingJob.id).where(
        TrainingJob.kind == "retrain", TrainingJob.status.in_([JobStatus.queued, JobStatus.running])
    )


def deactivate_all() -> Update:
    return update(ModelVersion).where(ModelVersion.is_active.is_(True)).values(is_active=False)


def activate(version: int) -> Update:
    """Mark ``version`` active if it is ready; a row count of 0 means it is not (deleted,
    failed or gone), and the caller must roll back the deactivation that preceded it."""
    return (
        update(ModelVersion)
        .where(ModelVersion.version == version, ModelVersion.status == VersionStatus.ready.value)
        .values(is_active=True, activated_at=utcnow())
    )


def activation(version: int) -> list[Executable]:
    """Make ``version`` the only active one (run after :func:`lock_versions`).

    User states folded into other versions stay: they mark users whose ratings are newer
    than a model, and are re-solved against the active version when read. The unique
    partial index is what guarantees a single active version."""
    return [deactivate_all(), activate(version)]


def mark_deleted(versions: list[int]) -> ReturningUpdate[tuple[int]]:
    """Mark inactive versions deleted; returns the versions it changed.

    The record and its metrics stay as history, and user states folded into it keep
    marking their users as re-solve-on-read. Only the artifact goes (see
    :func:`delete_artifacts`). The active version is never touched, nor one an arm of
    the running experiment serves (retention and deletion alike skip it)."""
    return (
        update(ModelVersion)
        .where(
            ModelVersion.version.in_(versions),
            ModelVersion.is_active.is_(False),
            ModelVersion.status != VersionStatus.deleted.value,
            ModelVersion.version.not_in(running_arm_versions()),
        )
        .values(status=VersionStatus.deleted.value)
        .returning(ModelVersion.version)
    )


def running_arm_versions() -> Select[tuple[int]]:
    """The versions the running experiment's arms serve."""
    return (
        select(ExperimentArm.model_version)
        .join(Experiment, Experiment.id == ExperimentArm.experiment_id)
        .where(Experiment.status == ExperimentStatus.running.value, ExperimentArm.model_version.is_not(None))
    )


def delete_artifacts(versions: list[int]) -> Delete:
    return delete(ModelArtifact).where(ModelArtifact.version.in_(versions))


def active_version() -> Select[tuple[ModelVersion]]:
    return select(ModelVersion).where(ModelVersion.is_active.is_(True))


def versions_beyond_retention(keep_inactive: int) -> Select[tuple[int]]:
    """Kept inactive versions older than the newest ``keep_inactive`` inactive ones."""
    kept_inactive = (ModelVersion.status != VersionStatus.deleted.value, ModelVersion.is_active.is_(False))
    newest = select(ModelVersion.version).where(*kept_inactive).order_by(ModelVersion.version.desc()).limit(keep_inactive)
    return select(ModelVersion.version).where(*kept_inactive, ModelVersion.version.not_in(newest.scalar_subquery()))


def claim_job(job_id: str, stale_before: datetime) -> Update:
    """Move a job to running if it is queued, or running on a worker that stopped beating."""
    now = utcnow()
    return (
        update(TrainingJob)
        .where(
            TrainingJob.id == job_id,
            (TrainingJob.status == JobStatus.queued)
            | ((TrainingJob.status == JobStatus.running) & (TrainingJob.heartbeat_at < stale_before)),
        )
        .values(
            status=JobStatus.running,
            attempts=TrainingJob.attempts + 1,
            started_at=now,
            heartbeat_at=now,
            progress=0.0,
            current_epoch=0,
            history=[],
            error=None,
        )
    )


def fail_stale_jobs(stale_before: datetime, seconds: float) -> Update:
    """A running job whose worker stopped reporting progress is failed, with the reason."""
    return (
        update(TrainingJob)
        .where(TrainingJob.status == JobStatus.running, TrainingJob.heartbeat_at < stale_before)
        .values(
            status=JobStatus.failed,
            finished_at=utcnow(),
            error=f"worker lost: no progress reported for more than {seconds:.0f} s",
        )
    )


# Queued jobs no worker claimed: the broker lost the message, or no worker runs. For a
# queued job ``heartbeat_at`` records when a re-send last reached the queue (claim_job
# overwrites it); NULL means none has yet.


def _last_sent():
    return func.coalesce(TrainingJob.heartbeat_at, TrainingJob.created_at)


def unclaimed_jobs(sent_before: datetime, created_after: datetime) -> Select[tuple[str]]:
    """Queued jobs last sent before ``sent_before`` that are due for a re-send: young
    enough, or never re-sent (a process that died with its queue, a broker that was down)."""
    return (
        select(TrainingJob.id)
        .where(
            TrainingJob.status == JobStatus.queued,
            _last_sent() < sent_before,
            (TrainingJob.created_at >= created_after) | TrainingJob.heartbeat_at.is_(None),
        )
        .order_by(TrainingJob.created_at)
    )


def mark_resent(job_id: str, sent_before: datetime) -> Update:
    """Take the right to re-send a job; a row count of 0 means another process took it."""
    return (
        update(TrainingJob)
        .where(TrainingJob.id == job_id, TrainingJob.status == JobStatus.queued, _last_sent() < sent_before)
        .values(heartbeat_at=utcnow())
    )


def resend_failed(job_id: str, note: str) -> Update:
    """The re-send did not reach the queue: say so on the job (claim_job clears the note)
    and make it due again at once, so it goes out as soon as the queue is back."""
    return (
        update(TrainingJob)
        .where(TrainingJob.id == job_id, TrainingJob.status == JobStatus.queued)
        .values(error=note, heartbeat_at=None)
    )


def fail_unqueued(job_ids: list[str], error: str) -> Update:
    """The queue refused these jobs: fail those still queued, with the reason."""
    return (
        update(TrainingJob)
        .where(TrainingJob.id.in_(job_ids), TrainingJob.status == JobStatus.queued)
        .values(status=JobStatus.failed, finished_at=utcnow(), error=error)
    )


def fail_unclaimed_jobs(created_before: datetime, sent_before: datetime, stale_before: datetime, reason: str) -> Update:
    """Fail queued jobs created before ``created_before`` whose last re-send reached the
    queue before ``sent_before`` and was not claimed, but only while no worker is busy.

    A worker running a job (not stale) or that finished one since ``sent_before`` may
    still be working through a backlog holding these jobs' messages; an idle worker
    would have taken them."""
    from sqlalchemy.orm import aliased

    other = aliased(TrainingJob)
    busy = (
        select(other.id)
        .where(
            ((other.status == JobStatus.running) & (other.heartbeat_at >= stale_before))
            | (other.started_at.is_not(None) & (other.finished_at >= sent_before))
        )
        .exists()
    )
    return (
        update(TrainingJob)
        .where(
            TrainingJob.status == JobStatus.queued,
            TrainingJob.created_at < created_before,
            TrainingJob.heartbeat_at < sent_before,
            ~busy,
        )
        .values(status=JobStatus.failed, finished_at=utcnow(), error=reason)
    )


def data_generation() -> Select[tuple[int]]:
    return select(DataGeneration.generation).where(DataGeneration.id == 1)


def bump_data_generation() -> Update:
    """After a bulk change: every API process reloads what it serves from memory."""
    return update(DataGeneration).where(DataGeneration.id == 1).values(generation=DataGeneration.generation + 1)
