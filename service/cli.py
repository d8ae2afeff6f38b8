"""The ``recsys`` command: serve, worker, beat, migrate, import-movielens, train, tune, bootstrap, experiment."""

from __future__ import annotations

import argparse
import logging
import os
import sys
import time
from pathlib import Path
from typing import TYPE_CHECKING

from recsys_core.types import DEFAULT_MODEL_TYPE, MODEL_TYPES
from service.core.config import Settings, generate_key, get_settings
from service.training.status import JobStatus

if TYPE_CHECKING:
    from celery import Celery

KEY_FILES = {"ADMIN_API_KEY": Path("var/admin-api-key"), "CLIENT_API_KEY": Path("var/client-api-key")}
CELERY_APP = "workers.celery_app:celery_app"  # an import path, like uvicorn's app below


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="recsys", description=__doc__)
    commands = parser.add_subparsers(dest="command", required=True)

    serve = commands.add_parser("serve", help="run the HTTP API with uvicorn")
    serve.add_argument("--host", default="127.0.0.1")
    serve.add_argument("--port", type=int, default=8000)
    serve.add_argument("--workers", type=int, default=1, help="uvicorn worker processes (celery mode only)")
    serve.add_argument("--access-log", action="store_true", help="log every request (off: it costs throughput)")

    commands.add_parser("worker", help="run a Celery worker for training jobs")
    beat = commands.add_parser("beat", help="run Celery beat (scheduled retrain, housekeeping)")
    beat.add_argument("--schedule-file", default="var/celerybeat-schedule",
                      help="where beat keeps when each entry last ran (one file per beat)")
    commands.add_parser("migrate", help="apply the database migrations (alembic upgrade head)")

    importer = commands.add_parser("import-movielens", help="import a MovieLens folder, zip, URL or name (ml-100k)")
    importer.add_argument("source")
    importer.add_argument("--download-dir", default="var/data")
    importer.add_argument("--base-url", default=None, help="GroupLens mirror for names like ml-100k")
    importer.add_argument("--split", default=None, help="import only the training part of an official split (u1..u5)")
    importer.add_argument("--movies", choices=["keep", "overwrite"], default="keep",
                          help="movies already in the catalogue: keep them (default) or take the archive's")

    bootstrap = commands.add_parser(
        "bootstrap", help="import MovieLens unless the database holds ratings, then train unless a model is active",
    )
    bootstrap.add_argument("source", help="a MovieLens folder, zip, URL or GroupLens name (ml-100k)")
    bootstrap.add_argument("--download-dir", default="var/data")
    bootstrap.add_argument("--base-url", default=None, help="GroupLens mirror for names like ml-100k")

    train = commands.add_parser("train", help="queue a training job with default hyperparameters")
    train.add_argument("--wait", action="store_true", help="block until the job finishes")
    train.add_argument("--model-type", default=DEFAULT_MODEL_TYPE, choices=MODEL_TYPES,
                       help=f"model type to train (default {DEFAULT_MODEL_TYPE})")
    train.add_argument("--hyperparams", default="{}", help="JSON object of hyperparameters")
    train.add_argument("--engine", default="numpy", choices=("numpy", "spark"),
                       help="what trains it: numpy (default) or spark (matrix_factorization and ials; SPARK_MASTER_URL)")

    tune = commands.add_parser("tune", help="start a hyperparameter search; its best trial becomes a gated version")
    tune.add_argument("model_type", choices=MODEL_TYPES, help="model type to tune")
    tune.add_argument("--trials", type=int, default=None, help="trial budget (default 30 without --timeout)")
    tune.add_argument("--timeout", type=float, default=None, help="time budget in seconds: no trial starts after it")
    tune.add_argument("--objective", choices=["ndcg@10", "rmse"], default=None,
                      help="validation metric to optimize (default: the one the type is gated on)")
    tune.add_argument("--space", default=None, help="JSON search space (default: the type's, GET /api/ml/tune/spaces)")
    tune.add_argument("--hyperparams", default="{}", help="JSON hyperparameters every trial shares")
    tune.add_argument("--folds", type=int, default=1, help="validation splits each trial is scored on (1 to 5)")
    tune.add_argument("--wait", action="store_true", help="block until the study ends (celery mode)")

    from service import cli_experiments

    cli_experiments.add_parser(commands)
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
        "tune": _tune,
        "bootstrap": _bootstrap,
        "experiment": _experiment,
    }[args.command]
    return handler(args, settings)


def _experiment(args: argparse.Namespace, settings: Settings) -> int:
    from service import cli_experiments

    return cli_experiments.run(args, settings)


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
    # Outside production a missing key is made once (production refuses to start without
    # an admin key, and a deployment without a client key means only the admin may write).
    local = settings.environment != "production"
    for variable, unset in (("ADMIN_API_KEY", not settings.admin_api_key), ("CLIENT_API_KEY", not settings.client_api_key)):
        if unset and local:
            os.environ[variable] = _local_key(variable)
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


def _local_key(variable: str) -> str:
    """The embedded quick start makes each key once, prints it once, and reuses it."""
    key_file = KEY_FILES[variable]
    if key_file.exists():
        return key_file.read_text().strip()
    key_file.parent.mkdir(parents=True, exist_ok=True)
    key = generate_key()
    key_file.write_text(key + "\n")
    key_file.chmod(0o600)
    role = variable.split("_")[0].lower()
    print(f"\n  Generated {role} API key (stored in {key_file}, shown only this once):\n\n    {key}\n", flush=True)
    return key


def _celery_app() -> Celery:
    """The workers' Celery app, loaded by its import path as ``celery -A`` would: the
    service never imports the workers' package."""
    from celery.utils.imports import symbol_by_name

    return symbol_by_name(CELERY_APP)


def _worker(_: argparse.Namespace, settings: Settings) -> int:
    from service.training.broker import TRAINING_QUEUE
    from service.training.dispatch import CeleryDispatcher
    from service.training.reaper import reap_now

    app = _celery_app()
    reap_now(settings, CeleryDispatcher(settings, app).dispatch)
    app.worker_main(["worker", "--loglevel=INFO", "--concurrency=1", "-Q", TRAINING_QUEUE])
    return 0


def _beat(args: argparse.Namespace, settings: Settings) -> int:
    schedule_file = Path(args.schedule_file)
    schedule_file.parent.mkdir(parents=True, exist_ok=True)
    _celery_app().start(["beat", "--loglevel=INFO", f"--schedule={schedule_file}"])
    return 0


def _import(args: argparse.Namespace, settings: Settings) -> int:
    from service.core.errors import ServiceError
    from service.importer import import_movielens

    try:
        counts = import_movielens(args.source, Path(args.download_dir), args.base_url, args.split, args.movies)
    except ServiceError as exc:  # the API's 4xx answer, word for word
        print(f"import refused: {exc.message}" + (f" (field {exc.field})" if exc.field else ""), file=sys.stderr)
        return 1
    except (OSError, ValueError) as exc:  # no network, no such path, not a MovieLens release
        logging.getLogger(__name__).debug("import of %s failed", args.source, exc_info=exc)
        print(f"import failed: {exc}\n{WHERE_TO_GET_MOVIELENS}", file=sys.stderr)
        return 1
    print(f"imported {counts['movies']} movies and {counts['ratings']} ratings")
    return 0


WHERE_TO_GET_MOVIELENS = """\
Point MOVIELENS (for ./scripts/quickstart.sh) or the import's source at a local copy: a
MovieLens folder holding u.data (ml-100k) or ratings.csv (ml-latest-small), or its zip:
    MOVIELENS=~/Downloads/ml-100k.zip ./scripts/quickstart.sh
Without one, the import downloads ml-100k from files.grouplens.org, which needs network."""


def _bootstrap(args: argparse.Namespace, settings: Settings) -> int:
    """The quick start's data and first model, decided from the database itself: a new
    DATABASE_URL gets both, a database that has them is left alone."""
    from sqlalchemy import func, select

    from service.db import statements
    from service.db.models import Rating
    from service.db.session import sync_session

    with sync_session() as session:
        ratings = session.scalar(select(func.count()).select_from(Rating)) or 0
        active = session.scalars(statements.active_version()).first()
    if ratings:
        print(f"the database holds {ratings} ratings: not importing")
    else:
        imported = _import(argparse.Namespace(
            source=args.source, download_dir=args.download_dir, base_url=args.base_url, split=None, movies="keep",
        ), settings)
        if imported:
            return imported
    if active is not None:
        print(f"model version {active.version} is active: not training")
        return 0
    return _train(argparse.Namespace(model_type=DEFAULT_MODEL_TYPE, hyperparams="{}", wait=True), settings)


def _train(args: argparse.Namespace, settings: Settings) -> int:
    """Create and queue a job as ``POST /api/ml/train`` does; in-process mode runs it here."""
    import json

    from pydantic import TypeAdapter, ValidationError

    from recsys_core.types import ModelSpec
    from service.core.errors import Unavailable
    from service.training import jobs
    from service.training.dispatch import CeleryDispatcher
    from service.training.pipeline import run_training_job

    try:
        spec = TypeAdapter(ModelSpec).validate_python(
            {"model_type": args.model_type, "hyperparams": json.loads(args.hyperparams),
             "engine": getattr(args, "engine", "numpy")}
        )
    except (ValidationError, json.JSONDecodeError) as exc:
        print(f"invalid --hyperparams or --engine: {exc}", file=sys.stderr)
        return 2
    inprocess = settings.worker_mode == "inprocess"
    send = run_training_job if inprocess else CeleryDispatcher(settings).dispatch

    def dispatch(job_id: str) -> None:
        print(f"job {job_id} queued", flush=True)
        send(job_id)

    try:
        job_id = jobs.queue_job(jobs.new_job(spec.model_type, spec.hyperparams, engine=spec.engine), dispatch)
    except Unavailable as exc:  # the job is marked failed, as the API's 503 says
        print(exc.message, file=sys.stderr)
        return 1
    if inprocess:
        status, _, _, version = _job_state(job_id)
        print(f"job {job_id} {status}" + (f": model version {version}" if version else ""))
        return 0 if status == JobStatus.succeeded else 1
    if not args.wait:
        return 0
    while True:
        status, progress, error, version = _job_state(job_id)
        print(f"  {status} {progress:.0%}", flush=True)
        if JobStatus(status).is_terminal:
            if error:
                print(f"  error: {error}")
            if version:
                print(f"job {job_id} succeeded: model version {version}")
            return 0 if status == JobStatus.succeeded else 1
        time.sleep(1)


def _tune(args: argparse.Namespace, settings: Settings) -> int:
    """Start a study as ``POST /api/ml/tune`` does; in-process mode runs it here."""
    import json

    from pydantic import ValidationError

    from service.core.errors import InvalidInput, Unavailable
    from service.schemas.tuning import TuneRequest
    from service.training.dispatch import CeleryDispatcher
    from service.training.pipeline import run_training_job
    from service.tuning import runner
    from service.tuning.scheduled import queue_study

    try:
        request = TuneRequest(
            model_type=args.model_type, objective=args.objective,
            n_trials=args.trials if args.trials is not None or args.timeout is not None else 30,
            timeout_seconds=args.timeout, space=json.loads(args.space) if args.space else None,
            base_hyperparams=json.loads(args.hyperparams), validation_folds=args.folds,
        )
    except (ValidationError, json.JSONDecodeError) as exc:
        print(f"invalid study: {exc}", file=sys.stderr)
        return 2
    inprocess = settings.worker_mode == "inprocess"
    finished: list[str] = []
    dispatch_trial = finished.append if inprocess else CeleryDispatcher(settings).dispatch_trial
    try:
        study_id = queue_study(request, settings, dispatch_trial, "cli")
    except InvalidInput as exc:
        print(f"invalid study: {exc.message} (field {exc.field})", file=sys.stderr)
        return 2
    except Unavailable as exc:
        print(exc.message, file=sys.stderr)
        return 1
    print(f"study {study_id} started", flush=True)
    if inprocess:  # the trials the queue would have run, one after the other, here
        for _ in finished:
            outcome = runner.run_trial(study_id, lambda sid: runner.finish_study(sid, run_training_job))
            print(f"  trial: {outcome}", flush=True)
    elif not args.wait:
        return 0
    while (study := _study_state(study_id)).status not in runner.StudyStatus.terminal:
        time.sleep(1)
    print(f"study {study_id} {study.status}: best {study.objective} {study.best_value}"
          + (f", model version {study.model_version}" if study.model_version else "")
          + (f" ({study.error})" if study.error else ""))
    return 0 if study.status == runner.StudyStatus.succeeded else 1


def _study_state(study_id: str):  # -> TuningStudy
    from service.db.models import TuningStudy
    from service.db.session import sync_session

    with sync_session() as session:
        study = session.get(TuningStudy, study_id)
        assert study is not None
        return study


def _job_state(job_id: str) -> tuple[str, float, str | None, int | None]:
    from service.db.models import TrainingJob
    from service.db.session import sync_session

    with sync_session() as session:
        job = session.get(TrainingJob, job_id)
        assert job is not None
        return job.status, job.progress, job.error, job.model_version


def _redacted(url: str) -> str:
    if "@" in url and "://" in url:
        scheme, rest = url.split("://", 1)
        return f"{scheme}://***@{rest.split('@', 1)[1]}"
    return url


if __name__ == "__main__":
    raise SystemExit(main())
