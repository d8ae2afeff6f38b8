"""Creating training jobs from the worker side (the scheduled retrain)."""

from __future__ import annotations

from service.core.model_types import MODEL_TYPES, retrain_hyperparams
from service.db import statements
from service.db.models import TrainingJob
from service.db.session import sync_session


def create_retrain_jobs() -> list[str]:
    with sync_session() as session:
        active = session.scalars(statements.active_version()).first()
        jobs = [
            TrainingJob.new(
                kind="retrain",
                model_type=model_type,
                hyperparams=retrain_hyperparams(
                    model_type,
                    active.model_type if active else None,
                    active.hyperparams if active else None,
                ),
            )
            for model_type in MODEL_TYPES
        ]
        session.add_all(jobs)
        return [job.id for job in jobs]


def failure_message(job_id: str, exc: Exception) -> str:
    """What a failed job tells its clients; the traceback stays in the worker log.

    Only our own checks (a plain ValueError, like "need at least 10 ratings") are shown
    as they are; anything else may carry a host, a path or a repr, so it is not."""
    if type(exc) is ValueError:
        return f"training failed: {exc}"
    return f"training failed unexpectedly; see the worker log (job {job_id})"
