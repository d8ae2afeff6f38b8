"""What a worker needs to train through Spark: its one SparkSession, the job's Parquet
snapshots, and a watcher that turns a cancel request into a cancelled Spark job group.

The model side (mapping our objectives onto Spark's ALS, the final exact user step) is
recsys_core.spark_als; this module knows the settings and the job row.
"""

from __future__ import annotations

import logging
import os
import threading
import time
from typing import TYPE_CHECKING, Any

from sqlalchemy import select, update

from service.core.config import Settings
from service.db.models import TrainingJob, utcnow
from service.db.session import sync_session

if TYPE_CHECKING:
    from pyspark.sql import SparkSession

log = logging.getLogger(__name__)

# Defaults a setting in SPARK_CONF overrides. Spark's 200 shuffle partitions cost more
# in task overhead than a rating set of a few million needs.
DEFAULT_CONF = {
    "spark.app.name": "recsys-trainer",
    "spark.sql.shuffle.partitions": "16",
    "spark.ui.showConsoleProgress": "false",
    # ALS checkpoints its factors every 10 epochs once a checkpoint folder is set (below), so
    # a fit of many epochs does not grow a lineage deep enough to overflow the stack.
    "spark.cleaner.referenceTracking.cleanCheckpoints": "true",
}

_session: SparkSession | None = None
_session_lock = threading.Lock()


def spark_session(settings: Settings) -> SparkSession:
    """This process's SparkSession, created on first use (a forked Celery child makes its
    own: a JVM gateway does not survive a fork)."""
    global _session
    with _session_lock:
        if _session is None or _session.sparkContext._jsc is None:  # none yet, or stopped by someone
            _session = _start(settings)
        return _session


def _start(settings: Settings) -> SparkSession:
    try:
        from pyspark.sql import SparkSession
    except ImportError as exc:
        raise ValueError("engine spark needs pyspark in the worker: pip install 'recsys-service[spark]'") from exc
    builder = SparkSession.builder.master(settings.spark_master_url)
    for key, value in {**DEFAULT_CONF, **settings.spark_conf}.items():
        builder = builder.config(key, value)
    started = time.perf_counter()
    try:
        session = builder.getOrCreate()
    except Exception as exc:  # the gateway's own errors name paths and ports: say what to check
        log.exception("could not start Spark on %s", settings.spark_master_url)
        raise ValueError(
            f"could not start Spark on SPARK_MASTER_URL={settings.spark_master_url} "
            "(is Java 17+ installed and the master reachable?)"
        ) from exc
    session.sparkContext.setLogLevel("WARN")
    session.sparkContext.setCheckpointDir(f"{_absolute(settings.spark_snapshot_url)}/checkpoints")
    log.info("Spark %s on %s started in %.1fs", session.version, settings.spark_master_url, time.perf_counter() - started)
    return session


def snapshot_folder(settings: Settings, job_id: str) -> str:
    """The job's own folder under SPARK_SNAPSHOT_URL; a relative local path is made
    absolute, so Spark's executors read what the driver wrote."""
    return f"{_absolute(settings.spark_snapshot_url)}/job-{job_id}"


def _absolute(url: str) -> str:
    from recsys_core.spark_als import is_local_path

    url = url.rstrip("/")
    return os.path.abspath(url) if is_local_path(url) and not url.startswith("file:") else url


class CancelWatcher:
    """While a Spark fit runs, poll the job row: a cancel request cancels the job group
    (interrupting its tasks), and the heartbeat is kept fresh so the reaper does not
    take a long fit for a dead worker.

    ``with CancelWatcher(...) as watcher:``; ``watcher.cancelled`` says whether the
    exception a fit raised came from the cancel."""

    def __init__(self, job_id: str, spark: SparkSession, group: str, *, interval: float = 0.5,
                 heartbeat_every: float = 10.0) -> None:
        self.job_id, self.spark, self.group = job_id, spark, group
        self.interval, self.heartbeat_every = interval, heartbeat_every
        self.cancelled = False
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name=f"spark-cancel-{job_id}", daemon=True)

    def __enter__(self) -> CancelWatcher:
        # Job groups are per thread (pyspark pins a JVM thread to each Python thread): the
        # fits that follow in this thread run under the group.
        self.spark.sparkContext.setJobGroup(self.group, f"recsys training job {self.job_id}", interruptOnCancel=True)
        self._thread.start()
        return self

    def __exit__(self, *exc: Any) -> None:
        self._stop.set()
        self._thread.join(timeout=5)
        self.spark.sparkContext.setLocalProperty("spark.jobGroup.id", None)  # type: ignore[arg-type]

    def _run(self) -> None:
        last_beat = 0.0
        while not self._stop.wait(self.interval):
            try:
                if self._cancel_requested():
                    # Again on every poll: a cancel reaches only the group's running jobs, and
                    # a fit between two of them would go on to start the next.
                    if not self.cancelled:
                        log.info("job %s: cancel requested, cancelling Spark job group %s", self.job_id, self.group)
                    self.cancelled = True
                    self.spark.sparkContext.cancelJobGroup(self.group)
                    continue
                if time.monotonic() - last_beat >= self.heartbeat_every:
                    self._beat()
                    last_beat = time.monotonic()
            except Exception:  # a database blip must not kill the watcher: try again next poll
                log.warning("job %s: cancel watcher poll failed", self.job_id, exc_info=True)

    def _cancel_requested(self) -> bool:
        with sync_session() as session:
            requested = session.scalar(select(TrainingJob.cancel_requested).where(TrainingJob.id == self.job_id))
        return requested is None or bool(requested)

    def _beat(self) -> None:
        with sync_session() as session:
            session.execute(update(TrainingJob).where(TrainingJob.id == self.job_id).values(heartbeat_at=utcnow()))
