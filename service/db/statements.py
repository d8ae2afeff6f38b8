"""SQL statements shared by the async API and the sync workers, so both follow one rule."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Executable, Select, Update, func, select, update

from service.db.models import ModelVersion, TrainingJob, utcnow


def deactivate_all() -> Update:
    return update(ModelVersion).where(ModelVersion.is_active.is_(True)).values(is_active=False)


def activate(version: int) -> Update:
    return (
        update(ModelVersion)
        .where(ModelVersion.version == version)
        .values(is_active=True, activated_at=utcnow())
    )


ACTIVATION_LOCK = 0x7265_6373  # any constant shared by every process that activates


def activation(version: int, dialect: str) -> list[Executable]:
    """Make ``version`` the only active one.

    User states folded into other versions stay: they mark users whose ratings are newer
    than a model, and are re-solved against the active version when read.

    The unique partial index is what guarantees a single active version; on PostgreSQL a
    transaction-scoped advisory lock also queues concurrent activations so they do not
    deadlock on each other's row locks (SQLite already serializes writers)."""
    statements: list[Executable] = [deactivate_all(), activate(version)]
    if dialect == "postgresql":
        statements.insert(0, select(func.pg_advisory_xact_lock(ACTIVATION_LOCK)))
    return statements


def active_version() -> Select[tuple[ModelVersion]]:
    return select(ModelVersion).where(ModelVersion.is_active.is_(True))


def versions_beyond_retention(keep: int) -> Select[tuple[int]]:
    """Versions older than the newest ``keep`` ones, never the active one."""
    newest = select(ModelVersion.version).order_by(ModelVersion.version.desc()).limit(keep)
    return select(ModelVersion.version).where(
        ModelVersion.version.not_in(newest.scalar_subquery()), ModelVersion.is_active.is_(False)
    )


def claim_job(job_id: str, stale_before: datetime) -> Update:
    """Move a job to running if it is queued, or running on a worker that stopped beating."""
    now = utcnow()
    return (
        update(TrainingJob)
        .where(
            TrainingJob.id == job_id,
            (TrainingJob.status == "queued")
            | ((TrainingJob.status == "running") & (TrainingJob.heartbeat_at < stale_before)),
        )
        .values(
            status="running",
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
        .where(TrainingJob.status == "running", TrainingJob.heartbeat_at < stale_before)
        .values(
            status="failed",
            finished_at=utcnow(),
            error=f"worker lost: no progress reported for more than {seconds:.0f} s",
        )
    )
