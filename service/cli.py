"""The ``recsys`` command: serve, worker, beat, migrate, import-movielens, train."""

from __future__ import annotations

import argparse
import logging
import os
import sys
import time
from pathlib import Path

from service.core.config import Settings, generate_key, get_settings

KEY_FILE = Path("var/admin-api-key")


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="recsys", description=__doc__)
    commands = parser.add_subparsers(dest="command", required=True)

    serve = commands.add_parser("serve", help="run the HTTP API with uvicorn")
    serve.add_argument("--host", default="127.0.0.1")
    serve.add_argument("--port", type=int, default=8000)
    serve.add_argument("--workers", type=int, default=1, help="uvicorn worker processes (celery mode only)")
    serve.add_argument("--access-log", action="store_true", help="log every request (off: it costs throughput)")

    commands.add_parser("worker", help="run a Celery worker for training jobs")
    commands.add_parser("beat", help="run Celery beat (scheduled retrain, housekeeping)")
    commands.add_parser("migrate", help="apply the database migrations (alembic upgrade head)")

    importer = commands.add_parser("import-movielens", help="import a MovieLens folder, zip, URL or name (ml-100k)")
    importer.add_argument("source")
    importer.add_argument("--download-dir", default="var/data")
    importer.add_argument("--base-url", default=None, help="GroupLens mirror for names like ml-100k")
    importer.add_argument("--split", default=None, help="import only the training part of an official split (u1..u5)")
    importer.add_argument("--movies", choices=["keep", "overwrite"], default="keep",
                          help="movies already in the catalogue: keep them (default) or take the archive's")

    train = commands.add_parser("train", help="queue a training job with default hyperparameters")
    train.add_argument("--wait", action="store_true", help="block until the job finishes")
    train.add_argument("--hyperparams", default="{}", help="JSON object of hyperparameters")
    return parser


def main(argv: list[str] | None = None) -> int:
    logging.basicConfig(level=os.environ.get("LOG_LEVEL", "INFO"), format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    args = build_parser().parse_args(argv)
    settings = get_settings()
    handler = {
        "serve": _serve,
        "worker": _worker,
        "beat": _beat,
        "migrate": _migrate,
        "import-movielens": _import,
        "train": _train,
    }[args.command]
    return handler(args, settings)


def _migrate(_: argparse.Namespace, settings: Settings) -> int:
    from service.db.migrate import upgrade_to_head

    upgrade_to_head(settings.sync_database_url)
    print(f"database at head: {_redacted(settings.database_url)}")
    return 0


def _serve(args: argparse.Namespace, settings: Settings) -> int:
    import uvicorn

    if settings.worker_mode == "inprocess" and args.workers != 1:
        print("the in-process worker runs inside the API process: use --workers 1 or WORKER_MODE=celery", file=sys.stderr)
        return 2
    if not settings.admin_api_key:
        os.environ["ADMIN_API_KEY"] = _local_admin_key()
        get_settings.cache_clear()
    from service.api.http_limits import PROTOCOL_PATH

    uvicorn.run(
        "service.api.main:create_app",
        factory=True,
        host=args.host,
        port=args.port,
        workers=args.workers,
        access_log=args.access_log,
        http=PROTOCOL_PATH,  # httptools with a cap on headers; an import path, so each worker loads it
    )
    return 0


def _local_admin_key() -> str:
    """The embedded quick start makes an admin key once, prints it once, and reuses it."""
    if KEY_FILE.exists():
        return KEY_FILE.read_text().strip()
    KEY_FILE.parent.mkdir(parents=True, exist_ok=True)
    key = generate_key()
    KEY_FILE.write_text(key + "\n")
    KEY_FILE.chmod(0o600)
    print(f"\n  Generated admin API key (stored in {KEY_FILE}, shown only this once):\n\n    {key}\n", flush=True)
    return key


def _worker(_: argparse.Namespace, settings: Settings) -> int:
    from workers.celery_app import TRAINING_QUEUE, celery_app
    from workers.housekeeping import reap_stale_jobs

    reap_stale_jobs()
    celery_app.worker_main(["worker", "--loglevel=INFO", "--concurrency=1", "-Q", TRAINING_QUEUE])
    return 0


def _beat(_: argparse.Namespace, settings: Settings) -> int:
    from workers.celery_app import celery_app

    Path("var").mkdir(exist_ok=True)
    celery_app.start(["beat", "--loglevel=INFO", "--schedule=var/celerybeat-schedule"])
    return 0


def _import(args: argparse.Namespace, settings: Settings) -> int:
    from service.core.errors import ServiceError
    from service.importer import import_movielens

    try:
        counts = import_movielens(args.source, Path(args.download_dir), args.base_url, args.split, args.movies)
    except ServiceError as exc:  # the API's 4xx answer, word for word
        print(f"import refused: {exc.message}" + (f" (field {exc.field})" if exc.field else ""), file=sys.stderr)
        return 1
    print(f"imported {counts['movies']} movies and {counts['ratings']} ratings")
    return 0


def _train(args: argparse.Namespace, settings: Settings) -> int:
    import json

    from service.core.model_types import MODEL_TYPES
    from service.db.models import TrainingJob
    from service.db.session import sync_session
    from workers.training import run_training_job

    params = MODEL_TYPES["matrix_factorization"].model_validate(json.loads(args.hyperparams))
    with sync_session() as session:
        job = TrainingJob.new(kind="train", model_type="matrix_factorization", hyperparams=params.model_dump(mode="json"))
        session.add(job)
        job_id = job.id
    print(f"job {job_id} queued")
    if settings.worker_mode == "inprocess":
        outcome = run_training_job(job_id)
        print(f"job {job_id} {outcome.status}" + (f": model version {outcome.model_version}" if outcome.model_version else ""))
        return 0 if outcome.status == "succeeded" else 1
    from service.queue import CeleryDispatcher, QueueUnavailable

    try:
        CeleryDispatcher(settings).dispatch(job_id)
    except QueueUnavailable:
        # The job row stays queued; the API's upkeep re-sends it once the queue is back.
        print(f"job {job_id}: the job queue is unavailable; it will be re-sent", file=sys.stderr)
        return 1
    if not args.wait:
        return 0
    while True:
        with sync_session() as session:
            job = session.get(TrainingJob, job_id)
            assert job is not None
            status, progress, error, version = job.status, job.progress, job.error, job.model_version
        print(f"  {status} {progress:.0%}", flush=True)
        if status in ("succeeded", "failed", "cancelled"):
            if error:
                print(f"  error: {error}")
            if version:
                print(f"job {job_id} succeeded: model version {version}")
            return 0 if status == "succeeded" else 1
        time.sleep(1)


def _redacted(url: str) -> str:
    if "@" in url and "://" in url:
        scheme, rest = url.split("://", 1)
        return f"{scheme}://***@{rest.split('@', 1)[1]}"
    return url


if __name__ == "__main__":
    raise SystemExit(main())
