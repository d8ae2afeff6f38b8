"""Service configuration: one Settings object read from the environment."""

from __future__ import annotations

import json
import secrets
from functools import lru_cache
from typing import Literal

from pydantic import Field, field_validator, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

DEFAULT_ADMIN_KEY = "change-me"
EMBEDDED_DATABASE_URL = "sqlite:///./var/recsys.db"


class Settings(BaseSettings):
    """Everything the API, the workers and the CLI read from the environment.

    The defaults describe the embedded quick start: SQLite and an in-process worker.
    Setting ``DATABASE_URL`` to PostgreSQL and ``WORKER_MODE=celery`` gives the real
    deployment that docker-compose runs.
    """

    model_config = SettingsConfigDict(env_prefix="", env_file=".env", extra="ignore")

    environment: Literal["local", "test", "production"] = "local"
    database_url: str = EMBEDDED_DATABASE_URL
    redis_url: str = "redis://127.0.0.1:6379/0"
    worker_mode: Literal["inprocess", "celery"] = "inprocess"

    admin_api_key: str = Field(default="", description="Key for training, activation, deletion, import.")
    client_api_key: str = Field(default="", description="Key for posting ratings and movies.")
    require_key_for_reads: bool = Field(
        default=False, description="Reads need the client key too; defaults to true when ENVIRONMENT=production."
    )

    rating_min: float = 0.5
    rating_max: float = 5.0
    popularity_damping: float = Field(default=10.0, ge=0, description="Prior strength of the damped mean.")

    live_window: int = Field(default=500, ge=10, le=100_000, description="Ratings in the rolling live RMSE.")
    drift_margin: float = Field(default=0.1, ge=0, le=10, description="Live RMSE above holdout RMSE by this flags drift.")
    drift_min_ratings: int = Field(default=50, ge=1, description="Live ratings needed before drift can be flagged.")
    genre_prior: float = Field(default=5.0, ge=0, description="Shrinkage of genre affinities for new movies.")
    response_cache_entries: int = Field(
        default=20_000, ge=0, le=10_000_000,
        description="Rendered recommendation lists each API process keeps (about 2 KB each); 0 turns the cache off.",
    )

    experiment_alpha: float = Field(
        default=0.05, gt=0, lt=1,
        description="Significance level of an experiment's comparisons, for the whole family (Bonferroni).",
    )
    experiment_hit_window_seconds: float = Field(
        default=7 * 86_400, gt=0, le=365 * 86_400,
        description="A recommended movie rated at or above the positive threshold within this many seconds is a hit.",
    )
    experiment_hit_threshold: float | None = Field(
        default=None,
        description="The rating that counts as a hit; default: the scale's positive threshold (4.0 on 1-5, 3.875 on 0.5-5).",
    )

    max_body_bytes: int = Field(default=2_000_000, ge=1024, description="Largest JSON request body.")
    max_import_bytes: int = Field(default=512 * 2**20, ge=1024, description="Largest MovieLens archive upload.")
    max_import_uncompressed_bytes: int = Field(
        default=2 * 2**30, ge=1024, description="Largest uncompressed size of any file read from an imported zip."
    )
    max_import_compression_ratio: float = Field(
        default=50.0, ge=2, description="Largest uncompressed/compressed ratio of a file (over 1 MiB) in an imported zip."
    )
    import_temp_dir: str = Field(
        default="", description="Folder for uploads being imported; default: recsys-imports in the system temp folder."
    )
    max_header_bytes: int = Field(
        default=64 * 1024, ge=1024, le=2**24, description="Largest request line plus headers; more is refused with 431."
    )
    max_header_count: int = Field(default=100, ge=10, le=10_000, description="Most request headers; more is a 431.")

    model_poll_seconds: float = Field(default=1.0, gt=0, le=60)
    model_retention: int = Field(default=5, ge=1, le=1000)
    activation_tolerance: float = Field(default=0.01, ge=0, le=10)
    activation_ndcg_tolerance: float = Field(default=0.005, ge=0, le=1)
    holdout_fraction: float = Field(default=0.2, gt=0, lt=1)
    evaluation_k: int = Field(default=10, ge=1, le=100)
    split_seed: int = 0
    retrain_schedule: str = Field(
        default="0 3 * * 0",
        description="When Celery beat retrains: a cron expression (min hour dom mon dow) or an interval in seconds.",
    )
    reaper_interval_seconds: float = Field(
        default=60.0, ge=1, le=86_400,
        description="How often Celery beat runs the job upkeep on a worker: stale jobs failed, unclaimed ones re-sent.",
    )
    tune_schedule: str = Field(
        default="",
        description="When Celery beat starts a hyperparameter search of the active type: a cron expression or an "
        "interval in seconds; empty (the default): never.",
    )
    tune_schedule_trials: int = Field(default=30, ge=1, le=1000, description="Trials of a scheduled search.")
    tune_max_trials: int = Field(
        default=100, ge=1, le=1000, description="Trials a search with only a time budget may run at most."
    )
    tune_heartbeat_seconds: int = Field(
        default=10, ge=1, le=3600, description="How often a running trial records that its worker is alive."
    )
    tune_grace_seconds: int = Field(
        default=60, ge=2, le=86_400,
        description="A running trial without a heartbeat this long is failed (its worker died).",
    )
    spark_master_url: str = Field(
        default="local[*]",
        description="The Spark master jobs with engine spark train on: local[*] (in the worker), spark://host:7077, "
        "yarn, k8s://...",
    )
    spark_snapshot_url: str = Field(
        default="./var/spark-snapshots",
        description="Where a spark job writes the ratings it fits on as Parquet, deleted after the job: a path or "
        "URL every executor can read (a shared volume, s3a://bucket/prefix).",
    )
    spark_conf: dict[str, str] = Field(
        default_factory=dict,
        description='Extra Spark settings as a JSON object, e.g. {"spark.driver.memory": "4g"}; keys start with spark.',
    )
    job_stale_seconds: float = Field(default=600.0, gt=0)
    visibility_timeout_seconds: int = Field(default=4 * 3600, ge=60)
    broker_timeout_seconds: float = Field(
        default=2.0, ge=1.5, le=60,
        description="Connect and socket timeout for Redis calls; above the workers' 1 s BRPOP poll.",
    )
    job_queue_timeout_seconds: float = Field(
        default=120.0, gt=0, description="A queued job no worker has claimed this long is sent again."
    )
    job_queue_resends: int = Field(
        default=3, ge=0, le=100, description="Re-sends of an unclaimed queued job before it is failed."
    )

    @field_validator("database_url")
    @classmethod
    def _known_database(cls, value: str) -> str:
        if not value.startswith(("postgresql", "postgres://", "sqlite")):
            raise ValueError("DATABASE_URL must be a postgresql:// (or postgres://) or sqlite:// URL")
        return value

    @field_validator("retrain_schedule")
    @classmethod
    def _a_schedule_beat_can_run(cls, value: str) -> str:
        # Checked here, not when beat starts: the API and the worker refuse it too, so a
        # typo is seen at deploy time rather than as a beat that never retrains.
        from service.core.schedules import retrain_schedule

        retrain_schedule(value)
        return value.strip()

    @field_validator("tune_schedule")
    @classmethod
    def _a_tune_schedule_beat_can_run(cls, value: str) -> str:
        from service.core.schedules import retrain_schedule

        if value.strip():
            retrain_schedule(value, setting="TUNE_SCHEDULE")
        return value.strip()

    @field_validator("spark_master_url", "spark_snapshot_url")
    @classmethod
    def _not_blank(cls, value: str) -> str:
        if not value.strip():
            raise ValueError("must not be empty")
        return value.strip()

    @field_validator("spark_conf", mode="before")
    @classmethod
    def _spark_conf_object(cls, value: object) -> object:
        # pydantic-settings decodes a JSON env value itself; a dict may also come from code.
        if isinstance(value, str):
            value = json.loads(value) if value.strip() else {}
        if not isinstance(value, dict):
            raise ValueError('SPARK_CONF must be a JSON object like {"spark.driver.memory": "4g"}')
        bad = [key for key in value if not str(key).startswith("spark.")]
        if bad:
            raise ValueError(f"SPARK_CONF keys must start with 'spark.', got {bad}")
        return {str(k): str(v) for k, v in value.items()}

    @model_validator(mode="before")
    @classmethod
    def _reads_need_a_key_in_production(cls, data: object) -> object:
        # A production deployment must not let anyone read every user's history; an
        # explicit REQUIRE_KEY_FOR_READS=false still opens reads.
        if isinstance(data, dict) and data.get("require_key_for_reads") is None:
            return {**data, "require_key_for_reads": data.get("environment") == "production"}
        return data

    @model_validator(mode="after")
    def _refuse_placeholder_keys_in_production(self) -> Settings:
        if self.environment == "production" and self.admin_api_key in ("", DEFAULT_ADMIN_KEY):
            raise ValueError("ADMIN_API_KEY must be set to a real secret when ENVIRONMENT=production")
        return self

    @model_validator(mode="after")
    def _celery_needs_postgresql(self) -> Settings:
        # SQLite serializes writers per file and its user-write locks live in one process:
        # the workers and API processes of the celery mode need a server database.
        if self.worker_mode == "celery" and self.is_sqlite:
            raise ValueError("WORKER_MODE=celery needs a PostgreSQL DATABASE_URL; SQLite serves one process")
        return self

    @model_validator(mode="after")
    def _scale_ordered(self) -> Settings:
        if not self.rating_min < self.rating_max:
            raise ValueError("RATING_MIN must be below RATING_MAX")
        return self

    @model_validator(mode="after")
    def _hit_threshold_on_the_scale(self) -> Settings:
        threshold = self.experiment_hit_threshold
        if threshold is not None and not self.rating_min <= threshold <= self.rating_max:
            raise ValueError("EXPERIMENT_HIT_THRESHOLD must be on the rating scale (RATING_MIN..RATING_MAX)")
        return self

    @property
    def hit_threshold(self) -> float:
        from recsys_core.evaluation import default_threshold

        if self.experiment_hit_threshold is not None:
            return self.experiment_hit_threshold
        return default_threshold((self.rating_min, self.rating_max))

    @property
    def is_sqlite(self) -> bool:
        return self.database_url.startswith("sqlite")

    @property
    def async_database_url(self) -> str:
        return _with_driver(self.database_url, "aiosqlite" if self.is_sqlite else "psycopg")

    @property
    def sync_database_url(self) -> str:
        return _with_driver(self.database_url, "pysqlite" if self.is_sqlite else "psycopg")


def _with_driver(url: str, driver: str) -> str:
    scheme, rest = url.split("://", 1)
    dialect = scheme.split("+", 1)[0]
    if dialect == "postgres":
        dialect = "postgresql"
    return f"{dialect}+{driver}://{rest}"


def generate_key() -> str:
    return secrets.token_urlsafe(24)


@lru_cache
def get_settings() -> Settings:
    return Settings()
