"""ORM tables: the catalogue, ratings, model versions, their artifacts and metrics, jobs."""

from __future__ import annotations

import enum
import uuid
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    CheckConstraint,
    DateTime,
    Float,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    String,
    Text,
    text,
)
from sqlalchemy.orm import Mapped, mapped_column

from service.db.base import Base
from service.training.status import JobStatus


def utcnow() -> datetime:
    return datetime.now(UTC)


class Movie(Base):
    __tablename__ = "movies"

    id: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=False)
    title: Mapped[str] = mapped_column(String(500))
    year: Mapped[int | None] = mapped_column(Integer)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)


class MovieGenre(Base):
    """One row per (movie, genre): portable and indexable on both SQLite and PostgreSQL."""

    __tablename__ = "movie_genres"

    movie_id: Mapped[int] = mapped_column(
        BigInteger, ForeignKey("movies.id", ondelete="CASCADE"), primary_key=True
    )
    genre: Mapped[str] = mapped_column(String(100), primary_key=True)

    __table_args__ = (Index("ix_movie_genres_genre", "genre"),)


class Rating(Base):
    """At most one rating per user and movie: a re-rating replaces the old one."""

    __tablename__ = "ratings"

    user_id: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=False)
    movie_id: Mapped[int] = mapped_column(
        BigInteger, ForeignKey("movies.id", ondelete="CASCADE"), primary_key=True
    )
    rating: Mapped[float] = mapped_column(Float)
    timestamp: Mapped[int] = mapped_column(BigInteger)

    __table_args__ = (Index("ix_ratings_movie_id", "movie_id"),)


class VersionStatus(str, enum.Enum):
    ready = "ready"
    failed = "failed"
    deleted = "deleted"  # the record and metrics stay as history; the artifact is gone


class ModelVersion(Base):
    __tablename__ = "model_versions"

    version: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    model_type: Mapped[str] = mapped_column(String(50))
    hyperparams: Mapped[dict[str, Any]] = mapped_column(JSON)
    # What trained it (recsys_core.types.ENGINES); the artifact is the same either way.
    engine: Mapped[str] = mapped_column(String(20), default="numpy", server_default="numpy")
    status: Mapped[str] = mapped_column(String(20), default=VersionStatus.ready.value)
    is_active: Mapped[bool] = mapped_column(Boolean, default=False)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    trained_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    activated_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    n_train_ratings: Mapped[int] = mapped_column(Integer, default=0)
    n_users: Mapped[int] = mapped_column(Integer, default=0)
    n_items: Mapped[int] = mapped_column(Integer, default=0)
    data_fingerprint: Mapped[str] = mapped_column(String(64), default="")
    artifact_checksum: Mapped[str] = mapped_column(String(64), default="")
    artifact_size: Mapped[int] = mapped_column(Integer, default=0)
    holdout_rmse: Mapped[float | None] = mapped_column(Float)
    holdout_ndcg: Mapped[float | None] = mapped_column(Float)
    job_id: Mapped[str | None] = mapped_column(String(36))
    # What the quality gate decided when the version was trained, and why (null for
    # versions trained before the reason was recorded).
    gate_activated: Mapped[bool | None] = mapped_column(Boolean)
    gate_reason: Mapped[str | None] = mapped_column(Text)

    # The database, not the code, guarantees a single active version.
    __table_args__ = (
        Index(
            "uq_model_versions_single_active",
            "is_active",
            unique=True,
            postgresql_where=text("is_active"),
            sqlite_where=text("is_active"),
        ),
    )


class ModelArtifact(Base):
    """The serialized model, in the database so every replica and worker can read it."""

    __tablename__ = "model_artifacts"

    version: Mapped[int] = mapped_column(
        Integer, ForeignKey("model_versions.version", ondelete="CASCADE"), primary_key=True
    )
    data: Mapped[bytes] = mapped_column(LargeBinary)
    checksum: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)


class MetricRecord(Base):
    __tablename__ = "metric_records"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    model_version: Mapped[int] = mapped_column(
        Integer, ForeignKey("model_versions.version", ondelete="CASCADE"), index=True
    )
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    protocol: Mapped[str] = mapped_column(String(50))
    k: Mapped[int] = mapped_column(Integer)
    n_test: Mapped[int] = mapped_column(Integer)
    values: Mapped[dict[str, float | None]] = mapped_column(JSON)


class TrainingJob(Base):
    __tablename__ = "training_jobs"

    id: Mapped[str] = mapped_column(String(36), primary_key=True)
    kind: Mapped[str] = mapped_column(String(20))
    model_type: Mapped[str] = mapped_column(String(50))
    hyperparams: Mapped[dict[str, Any]] = mapped_column(JSON)
    engine: Mapped[str] = mapped_column(String(20), default="numpy", server_default="numpy")
    status: Mapped[str] = mapped_column(String(20), default=JobStatus.queued.value, index=True)
    progress: Mapped[float] = mapped_column(Float, default=0.0)
    current_epoch: Mapped[int] = mapped_column(Integer, default=0)
    total_epochs: Mapped[int] = mapped_column(Integer, default=0)
    history: Mapped[list[dict[str, Any]]] = mapped_column(JSON, default=list)
    error: Mapped[str | None] = mapped_column(Text)
    model_version: Mapped[int | None] = mapped_column(Integer)
    cancel_requested: Mapped[bool] = mapped_column(Boolean, default=False)
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    started_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    finished_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    heartbeat_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))

    @classmethod
    def new(cls, *, kind: str, model_type: str, hyperparams: dict[str, Any], engine: str = "numpy") -> TrainingJob:
        return cls(
            id=str(uuid.uuid4()),
            kind=kind,
            model_type=model_type,
            hyperparams=hyperparams,
            engine=engine,
            status=JobStatus.queued.value,
            progress=0.0,
            current_epoch=0,
            total_epochs=int(hyperparams.get("epochs", 0) or 0),
            history=[],
            cancel_requested=False,
            attempts=0,
            created_at=utcnow(),
        )

    __table_args__ = (
        CheckConstraint(
            "status IN (" + ",".join(f"'{status}'" for status in JobStatus) + ")", name="status_known"
        ),
        CheckConstraint("progress >= 0 AND progress <= 1", name="progress_range"),
    )


class UserState(Base):
    """A user's state re-solved after their latest rating, for one model version (a vector
    whose layout the version's model type defines; empty for types that score from the
    ratings alone).

    Every API process reads it, so the next request anywhere reflects the rating. A row
    folded into a version that is no longer active is not served as is: the user is
    re-solved against the active version from their stored ratings (see realtime.py).
    """

    __tablename__ = "user_states"

    user_id: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=False)
    model_version: Mapped[int | None] = mapped_column(
        Integer, ForeignKey("model_versions.version", ondelete="CASCADE"), index=True
    )  # None: rated while no model was active
    state: Mapped[bytes] = mapped_column(LargeBinary)
    n_ratings: Mapped[int] = mapped_column(Integer)
    revision: Mapped[int] = mapped_column(BigInteger, default=0, server_default="0")
    updated_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)


class LivePrediction(Base):
    """Prequential record: the active model's prediction for a rating before it learned it."""

    __tablename__ = "live_predictions"

    id: Mapped[int] = mapped_column(BigInteger().with_variant(Integer, "sqlite"), primary_key=True, autoincrement=True)
    user_id: Mapped[int] = mapped_column(BigInteger)
    movie_id: Mapped[int] = mapped_column(BigInteger)
    model_version: Mapped[int] = mapped_column(Integer, index=True)
    predicted: Mapped[float] = mapped_column(Float)
    actual: Mapped[float] = mapped_column(Float)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow, index=True)


class DataGeneration(Base):
    """One row counting bulk changes to ratings and movies (imports). Every API process
    polls it and reloads what it serves from memory when it moves."""

    __tablename__ = "data_generation"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    generation: Mapped[int] = mapped_column(BigInteger)


class ExperimentStatus(str, enum.Enum):
    running = "running"
    stopped = "stopped"
    promoted = "promoted"  # stopped, and one arm's version activated in the same transaction


class Experiment(Base):
    """An A/B test between model versions (or a fallback): users hash onto its arms."""

    __tablename__ = "experiments"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    name: Mapped[str] = mapped_column(String(200))
    salt: Mapped[str] = mapped_column(String(64))
    coverage: Mapped[float] = mapped_column(Float)
    status: Mapped[str] = mapped_column(String(20), default=ExperimentStatus.running.value)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    ended_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    promoted_arm: Mapped[str | None] = mapped_column(String(50))

    # As with the active version, the database guarantees at most one running experiment.
    __table_args__ = (
        Index(
            "uq_experiments_single_running", "status", unique=True,
            postgresql_where=text("status = 'running'"), sqlite_where=text("status = 'running'"),
        ),
    )


class ExperimentArm(Base):
    """One arm: a model version, or a fallback (``popularity``), with its share of all traffic."""

    __tablename__ = "experiment_arms"

    experiment_id: Mapped[int] = mapped_column(
        Integer, ForeignKey("experiments.id", ondelete="CASCADE"), primary_key=True
    )
    name: Mapped[str] = mapped_column(String(50), primary_key=True)
    position: Mapped[int] = mapped_column(Integer)
    model_version: Mapped[int | None] = mapped_column(Integer, ForeignKey("model_versions.version"))
    fallback: Mapped[str | None] = mapped_column(String(20))
    share: Mapped[float] = mapped_column(Float)


class ExperimentExposure(Base):
    """A movie an arm recommended to a user, first time only; ``hit_at`` is set by the
    user's first rating of it at or above the positive threshold within the window."""

    __tablename__ = "experiment_exposures"

    experiment_id: Mapped[int] = mapped_column(
        Integer, ForeignKey("experiments.id", ondelete="CASCADE"), primary_key=True
    )
    user_id: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=False)
    movie_id: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=False)
    arm: Mapped[str] = mapped_column(String(50))
    served_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    hit_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))


class ExperimentRating(Base):
    """One accepted rating by a user in an experiment, with the arm's prediction made
    before the rating was learned (null for an arm that only ranks). Written in the
    rating's own transaction, so every accepted rating is counted exactly once."""

    __tablename__ = "experiment_ratings"

    id: Mapped[int] = mapped_column(BigInteger().with_variant(Integer, "sqlite"), primary_key=True, autoincrement=True)
    experiment_id: Mapped[int] = mapped_column(
        Integer, ForeignKey("experiments.id", ondelete="CASCADE"), index=True
    )
    arm: Mapped[str] = mapped_column(String(50))
    user_id: Mapped[int] = mapped_column(BigInteger)
    movie_id: Mapped[int] = mapped_column(BigInteger)
    predicted: Mapped[float | None] = mapped_column(Float)
    actual: Mapped[float] = mapped_column(Float)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
class TuningStudy(Base):
    """A hyperparameter search: what it searches and its budget, and what it produced.

    Its trials live in Optuna's storage (service.tuning.storage), which is their one
    truth; this row holds what Optuna does not know: the service's budget, the status a
    client follows, the validation split the trials were scored on, and the training job
    and version the best trial became. Named ``tuning_studies``: Optuna has a ``studies``."""

    __tablename__ = "tuning_studies"

    id: Mapped[str] = mapped_column(String(36), primary_key=True)
    model_type: Mapped[str] = mapped_column(String(50))
    objective: Mapped[str] = mapped_column(String(20))
    direction: Mapped[str] = mapped_column(String(10))
    space: Mapped[dict[str, Any]] = mapped_column(JSON)
    base_hyperparams: Mapped[dict[str, Any]] = mapped_column(JSON)
    validation_folds: Mapped[int] = mapped_column(Integer, default=1)
    n_trials: Mapped[int] = mapped_column(Integer)
    timeout_seconds: Mapped[float | None] = mapped_column(Float)
    status: Mapped[str] = mapped_column(String(20), index=True)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    deadline_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    finished_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    split: Mapped[dict[str, Any] | None] = mapped_column(JSON)
    best_value: Mapped[float | None] = mapped_column(Float)
    best_params: Mapped[dict[str, Any] | None] = mapped_column(JSON)
    best_trial: Mapped[int | None] = mapped_column(Integer)
    job_id: Mapped[str | None] = mapped_column(String(36))
    model_version: Mapped[int | None] = mapped_column(Integer)
    error: Mapped[str | None] = mapped_column(Text)
    origin: Mapped[str] = mapped_column(String(20), default="api")
