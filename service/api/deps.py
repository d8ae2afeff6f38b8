"""Shared dependencies as Annotated aliases: settings, the session, the model, the keys."""

from __future__ import annotations

import hmac
import logging
from collections.abc import AsyncIterator, Callable, Coroutine, Iterator
from typing import Annotated, Any

from fastapi import Depends, Request, Response
from fastapi.dependencies.models import Dependant
from fastapi.routing import APIRoute
from fastapi.security import APIKeyHeader
from sqlalchemy.ext.asyncio import AsyncSession

from service.core.config import Settings
from service.core.errors import Forbidden, Unauthorized
from service.db.transaction import transaction
from service.services.experiment_store import ExposureLog
from service.services.model_registry import ModelRegistry
from service.services.rating_batcher import RatingBatcher
from service.serving.state import ServingState
from service.training.dispatch import JobDispatcher

log = logging.getLogger(__name__)

# Every dependency here is ``async def``: FastAPI runs plain ``def`` dependencies in a
# thread pool, a thread hop per dependency per request that showed up as 19% of the
# recommendations endpoint under load.


async def get_settings_dep(request: Request) -> Settings:
    return request.app.state.settings


SettingsDep = Annotated[Settings, Depends(get_settings_dep)]


async def get_session(request: Request) -> AsyncIterator[AsyncSession]:
    """One transaction per request (see db.transaction.transaction)."""
    async with transaction(request.app.state.sessions) as session:
        yield session


# scope="function": the exit code (commit, then dispatch) runs when the endpoint returns,
# before the response is sent, so a client's next request always sees what it wrote.
# The default scope would commit only after the response has gone out.
SessionDep = Annotated[AsyncSession, Depends(get_session, scope="function")]


async def get_read_session(request: Request) -> AsyncIterator[AsyncSession]:
    """For endpoints that only read: autocommit, so no BEGIN/COMMIT round trips."""
    async with request.app.state.read_sessions() as session:
        yield session


ReadSessionDep = Annotated[AsyncSession, Depends(get_read_session, scope="function")]


async def get_registry(request: Request) -> ModelRegistry:
    return request.app.state.registry


RegistryDep = Annotated[ModelRegistry, Depends(get_registry)]


async def get_serving(request: Request) -> ServingState:
    return request.app.state.serving


ServingDep = Annotated[ServingState, Depends(get_serving)]


async def get_rating_batcher(request: Request) -> RatingBatcher:
    return request.app.state.rating_batcher


RatingBatcherDep = Annotated[RatingBatcher, Depends(get_rating_batcher)]


async def get_exposures(request: Request) -> ExposureLog:
    return request.app.state.exposures


ExposuresDep = Annotated[ExposureLog, Depends(get_exposures)]


async def get_dispatcher(request: Request) -> JobDispatcher:
    return request.app.state.dispatcher


DispatcherDep = Annotated[JobDispatcher, Depends(get_dispatcher)]

API_KEY_HEADER = "X-API-Key"
_api_key_header = APIKeyHeader(name=API_KEY_HEADER, auto_error=False, description="Admin or client API key.")


def _matches(given: str, expected: str) -> bool:
    return bool(expected) and hmac.compare_digest(given.encode(), expected.encode())


async def require_admin(settings: SettingsDep, key: Annotated[str | None, Depends(_api_key_header)]) -> None:
    if not key:
        raise Unauthorized("this action needs the admin API key in the X-API-Key header", field=API_KEY_HEADER)
    if not _matches(key, settings.admin_api_key):
        raise Forbidden("the API key does not allow this action (admin key required)", field=API_KEY_HEADER)


async def require_client(settings: SettingsDep, key: Annotated[str | None, Depends(_api_key_header)]) -> None:
    if not key:
        raise Unauthorized("this action needs a client or admin API key in the X-API-Key header", field=API_KEY_HEADER)
    if not (_matches(key, settings.client_api_key) or _matches(key, settings.admin_api_key)):
        raise Forbidden("the API key does not allow this action", field=API_KEY_HEADER)


async def require_reader(settings: SettingsDep, key: Annotated[str | None, Depends(_api_key_header)]) -> None:
    if settings.require_key_for_reads:
        await require_client(settings, key)


AdminKey = Depends(require_admin)
ClientKey = Depends(require_client)
ReaderKey = Depends(require_reader)

KEY_CHECKS = (require_admin, require_client, require_reader)


class KeyFirstRoute(APIRoute):
    """A route that checks the API key before it reads the body.

    FastAPI reads and validates the body before it runs any dependency, so without this
    an unauthenticated caller could make the service parse up to ``MAX_BODY_BYTES`` of JSON
    and would learn from a 422 what the body should look like. The route's key check runs
    here first; it stays among the dependencies too (where it documents the key in
    OpenAPI and costs one comparison). Routes without a body are left as they are.
    """

    def get_route_handler(self) -> Callable[[Request], Coroutine[Any, Any, Response]]:
        handler = super().get_route_handler()
        checks = [dep.call for dep in _flatten(self.dependant.dependencies) if dep.call in KEY_CHECKS]
        if self.body_field is None or not checks:
            return handler

        async def key_first(request: Request) -> Response:
            key = request.headers.get("x-api-key")
            for check in checks:
                await check(request.app.state.settings, key)
            return await handler(request)

        return key_first


def _flatten(dependencies: list[Dependant]) -> Iterator[Dependant]:
    for dependant in dependencies:
        yield dependant
        yield from _flatten(dependant.dependencies)
