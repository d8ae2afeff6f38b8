"""The FastAPI application: routers, error handlers and the lifespan that keeps the model fresh."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator

from fastapi import FastAPI

from service.api.cached_reads import CachedReadsMiddleware
from service.api.limits import BodyLimitMiddleware
from service.api.openapi import install_error_docs
from service.api.routes import (
    api_docs,
    dashboard,
    experiments,
    health,
    imports,
    models,
    movies,
    ratings,
    recommendations,
    stats,
    training,
    tuning,
)
from service.core.config import Settings, get_settings
from service.core.errors import install_error_handlers
from service.db.session import async_session_factory, build_async_engine
from service.services.experiment_store import ExposureLog
from service.services.import_uploads import remove_stale_uploads
from service.services.model_registry import ModelRegistry
from service.services.rating_batcher import RatingBatcher
from service.serving.state import ServingState, build_feed
from service.training.dispatch import build_dispatcher
from service.training.reaper import reap_forever

log = logging.getLogger(__name__)


def create_app(settings: Settings | None = None) -> FastAPI:
    settings = settings or get_settings()

    @contextlib.asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        engine = build_async_engine(settings)
        app.state.settings = settings
        app.state.engine = engine
        app.state.sessions = async_session_factory(engine)
        app.state.read_sessions = async_session_factory(engine.execution_options(isolation_level="AUTOCOMMIT"))
        app.state.registry = ModelRegistry(app.state.sessions)
        app.state.serving = ServingState(app.state.read_sessions, build_feed(settings), app.state.registry, settings)
        app.state.rating_batcher = RatingBatcher(app.state.sessions, app.state.serving)
        app.state.exposures = ExposureLog(app.state.sessions)
        app.state.dispatcher = build_dispatcher(settings)
        remove_stale_uploads(settings)  # uploads of API processes killed mid-import
        with contextlib.suppress(Exception):
            await app.state.registry.refresh()
        await app.state.serving.start()  # before the first request: reads are served from memory
        background = [
            asyncio.create_task(app.state.registry.poll_forever(settings.model_poll_seconds)),
            asyncio.create_task(reap_forever(app.state.sessions, settings, app.state.dispatcher.dispatch,
                                             app.state.dispatcher.dispatch_finish)),
        ]
        try:
            yield
        finally:
            for task in background:
                task.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await task
            await app.state.serving.stop()
            app.state.dispatcher.shutdown()
            await engine.dispose()

    app = FastAPI(
        title="recsys",
        version="0.1.0",
        summary="Explicit-rating recommendations: versioned MF models, honest metrics, real-time fold-in, explanations.",
        lifespan=lifespan,
        docs_url=None,  # served by api_docs from installed assets: FastAPI's pages need a CDN
        redoc_url=None,
    )
    install_error_handlers(app)
    install_error_docs(app)
    app.add_middleware(BodyLimitMiddleware, limit=settings.max_body_bytes, import_limit=settings.max_import_bytes)
    app.add_middleware(CachedReadsMiddleware)  # added last: runs first
    # Routes are matched in order, one regular expression each: the hot ones go first.
    for module in (recommendations, ratings, health, movies, training, tuning, models, experiments, stats, dashboard,
                   api_docs):
        app.include_router(module.router)
    app.include_router(imports.router)
    return app
