"""The training pipeline behind ``train_model(job_id)``: claim the job, train a candidate
(service.training.fitting), write it as a version, pass it through the gate, apply
retention.

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

from service.core.config import Settings, get_settings
from service.db import statements
from service.db.models import MetricRecord, ModelArtifact, ModelVersion, MovieGenre, Rating, TrainingJob, utcnow
from service.db.session import sync_session
from service.training.fitting import HOLDOUT_PROTOCOL, Candidate, train_candidate
from service.training.gate import Tolerances, judge
from service.training.progress import JobCancelled, JobProgress
from service.training.retention import apply_retention
from service.training.status import JobStatus

log = logging.getLogger(__name__)

MIN_RATINGS = 10


@dataclass(frozen=True)
class Outcome:
    job_id: str
    status: str
    model_version: int | None = None


def load_genres(session: Session) -> dict[int, list[str]]:
    """Every movie's genres: side information for the types that use it (the ensemble)."""
    genres: dict[int, list[str]] = {}
    for movie_id, genre in session.execute(select(MovieGenre.movie_id, MovieGenre.genre)):
        genres.setdefault(movie_id, []).append(genre)
    return genres


def load_ratings(session: Session) -> pd.DataFrame:
    rows = session.execute(
        select(Rating.user_id, Rating.movie_id, Rating.rating, Rating.timestamp)
    ).all()
    frame = pd.DataFrame(rows, columns=["user_id", "item_id", "rating", "timestamp"])
    return frame.astype({"user_id": "int64", "item_id": "int64", "rating": "float64", "timestamp": "int64"})


def failure_message(job_id: str, exc: Exception) -> str:
    """What a failed job tells its clients; the traceback stays in the worker log.

    Only our own checks (a plain ValueError, like "need at least 10 ratings") are shown
    as they are; anything else may carry a host, a path or a repr, so it is not."""
    if type(exc) is ValueError:
        return f"training failed: {exc}"
    return f"training failed unexpectedly; see the worker log (job {job_id})"


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
        _finish(job_id, status=JobStatus.cancelled, error="cancelled on request")
        return Outcome(job_id, JobStatus.cancelled)
    except Exception as exc:  # the job row must say why, whatever went wrong
        log.exception("training job %s failed", job_id)
        _finish(job_id, status=JobStatus.failed, error=failure_message(job_id, exc))
        return Outcome(job_id, JobStatus.failed)


def _finish(job_id: str, *, status: JobStatus, error: str | None) -> None:
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
        model_type, hyperparams, engine = job.model_type, job.hyperparams, job.engine
        ratings = load_ratings(session)
        genres = load_genres(session)
    if len(ratings) < MIN_RATINGS:
        raise ValueError(f"need at least {MIN_RATINGS} ratings to train, found {len(ratings)}")

    started = time.perf_counter()
    candidate = train_candidate(
        model_type,
        hyperparams,
        ratings,
        settings,
        item_tags=genres,
        engine=engine,
        curve_progress=JobProgress(job_id, phase_start=0.0, phase_share=0.6, record=True),
        refit_progress=JobProgress(job_id, phase_start=0.7, phase_share=0.3, record=False),
    )
    log.info("job %s trained in %.2fs", job_id, time.perf_counter() - started)
    new_version = _write_version(job_id, model_type, engine, candidate, len(ratings), settings)
    apply_retention(settings.model_retention)
    return Outcome(job_id, JobStatus.succeeded, new_version)


def _write_version(
    job_id: str, model_type: str, engine: str, candidate: Candidate, n_ratings: int, settings: Settings
) -> int:
    """The version, its artifact, its metrics, its activation and the job's outcome, in
    one transaction; a job cancelled meanwhile writes nothing."""
    checksum = hashlib.sha256(candidate.artifact).hexdigest()
    with sync_session() as session:
        job = session.get(TrainingJob, job_id, with_for_update=True)
        if job is None or job.cancel_requested:
            raise JobCancelled()
        version = ModelVersion(
            model_type=model_type,
            engine=engine,
            hyperparams=candidate.hyperparams,
            status="ready",
            trained_at=utcnow(),
            n_train_ratings=n_ratings,
            n_users=candidate.n_users,
            n_items=candidate.n_items,
            data_fingerprint=candidate.fingerprint,
            artifact_checksum=checksum,
            artifact_size=len(candidate.artifact),
            holdout_rmse=candidate.metrics.get("rmse"),
            holdout_ndcg=candidate.metrics.get(f"ndcg@{settings.evaluation_k}"),
            job_id=job_id,
        )
        session.add(version)
        session.flush()
        session.add(ModelArtifact(version=version.version, data=candidate.artifact, checksum=checksum))
        session.add(
            MetricRecord(
                model_version=version.version,
                protocol=HOLDOUT_PROTOCOL,
                k=settings.evaluation_k,
                n_test=candidate.n_test,
                values=candidate.metrics,
            )
        )
        for statement in statements.lock_versions(session.get_bind().dialect.name):
            session.execute(statement)
        active = session.scalars(statements.active_version()).first()
        tolerances = Tolerances(rmse=settings.activation_tolerance, ndcg=settings.activation_ndcg_tolerance)
        verdict = judge(version, active, tolerances)
        version.gate_activated, version.gate_reason = verdict.activate, verdict.reason
        if verdict.activate:
            for statement in statements.activation(version.version):
                session.execute(statement)
        job.status = JobStatus.succeeded
        job.progress = 1.0
        job.model_version = version.version
        job.finished_at = utcnow()
        return version.version
