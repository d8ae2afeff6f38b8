"""Request body size limits, enforced while the body arrives, answered in the usual error shape.

FastAPI's own ``max_body_size`` answers a declared oversize body with a plain-text 413;
this keeps every error in one JSON shape.
"""

from __future__ import annotations

import json

from starlette.exceptions import HTTPException
from starlette.types import ASGIApp, Message, Receive, Scope, Send

IMPORT_PATH_PREFIX = "/api/import/"


class BodyLimitMiddleware:
    """Refuse bodies over ``limit`` bytes (``import_limit`` for archive uploads), whether the
    client declares a Content-Length or streams chunks."""

    def __init__(self, app: ASGIApp, limit: int, import_limit: int) -> None:
        self.app = app
        self.limit = limit
        self.import_limit = import_limit

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        limit = self.import_limit if scope["path"].startswith(IMPORT_PATH_PREFIX) else self.limit
        declared = dict(scope.get("headers") or []).get(b"content-length", b"")
        if declared.isdigit() and int(declared) > limit:
            await _reject(send, limit)
            return
        received = 0

        async def counting_receive() -> Message:
            nonlocal received
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > limit:
                    # FastAPI re-raises an HTTPException from the body read, so the
                    # service's error handler answers it.
                    raise HTTPException(413, f"request body exceeds {limit} bytes")
            return message

        await self.app(scope, counting_receive, send)


async def _reject(send: Send, limit: int) -> None:
    error = {"code": "payload_too_large", "message": f"request body exceeds {limit} bytes", "field": "body"}
    body = json.dumps({"error": error}).encode()
    headers = [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode())]
    await send({"type": "http.response.start", "status": 413, "headers": headers})
    await send({"type": "http.response.body", "body": body})
