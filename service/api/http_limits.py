"""uvicorn's httptools protocol with a cap on the request head (request line and headers).

httptools has no limit of its own, and it joins the pieces of a header value by bytes
concatenation, so one endless header costs quadratic CPU on the event loop: a 200 MB
header took 49 s and slowed every other request on the process meanwhile. This subclass
counts the head's bytes before they reach the parser and answers 431, then closes, once a
request's head exceeds ``MAX_HEADER_BYTES`` or it has more than ``MAX_HEADER_COUNT``
headers. httptools stays the parser because it is much faster than h11 under load.

``recsys serve`` passes this class to uvicorn by its import path, so every worker process
of ``--workers N`` loads it; the limits are read from the settings in each process.
"""

from __future__ import annotations

import json
import logging
from typing import Any

from uvicorn.protocols.http.httptools_impl import STATUS_LINE, HttpToolsProtocol

from service.core.config import get_settings

PROTOCOL_PATH = "service.api.http_limits:HeadLimitedHttpToolsProtocol"

log = logging.getLogger(__name__)


class _HeadRefused(Exception):
    """Raised from a parser callback to stop parsing a head already answered with 431."""


class HeadLimitedHttpToolsProtocol(HttpToolsProtocol):
    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        settings = get_settings()
        self.max_head_bytes = settings.max_header_bytes
        self.max_header_count = settings.max_header_count
        self.head_bytes = 0  # bytes fed to the parser since the current head began
        self.reading_head = True  # until the parser reports the head complete
        self.heads_completed = 0
        self.refused = False

    def data_received(self, data: bytes) -> None:
        if self.reading_head:
            if len(data) > self.max_head_bytes - self.head_bytes:
                self._receive_past_budget(data)
                return
            self.head_bytes += len(data)
        super().data_received(data)

    def _receive_past_budget(self, data: bytes) -> None:
        # The parser is fed at most the rest of the budget at a time; unless a head completes
        # within it, the head is too large. After a head completes, the rest of that read (a
        # body, or pipelined requests) is fed with the next head's count started afresh, so
        # a head may run over the limit by at most one read (256 KB).
        while data and not self.refused and not self.transport.is_closing():
            budget = self.max_head_bytes - self.head_bytes
            if not self.reading_head or len(data) <= budget:
                self.head_bytes += len(data) if self.reading_head else 0
                super().data_received(data)
                return
            head, data = data[:budget], data[budget:]
            completed = self.heads_completed
            self.head_bytes += len(head)
            if head:
                super().data_received(head)
            if self.heads_completed == completed and not self.refused and not self.transport.is_closing():
                self.refuse(f"the request line and headers exceed {self.max_head_bytes} bytes")

    def on_headers_complete(self) -> None:
        # Counted once the head is complete rather than per header, which would cost a call
        # per header on every request; the byte limit bounds what was parsed meanwhile.
        if len(self.headers) > self.max_header_count:
            self.refuse(f"the request has more than {self.max_header_count} headers")
            raise _HeadRefused  # stops the parser: no ASGI task for this request
        self.heads_completed += 1
        self.reading_head = False
        self.head_bytes = 0
        super().on_headers_complete()

    def on_message_complete(self) -> None:
        super().on_message_complete()
        self.reading_head = True

    def send_400_response(self, msg: str) -> None:
        # A callback that raised _HeadRefused surfaces as a parser error; 431 already went out.
        if not self.refused:
            super().send_400_response(msg)

    def refuse(self, message: str) -> None:
        """Answer 431 in the service's error shape and close the connection."""
        self.refused = True
        log.warning("refused a request from %s: %s", self.client, message)
        if self.cycle is not None and not self.cycle.response_complete:
            # A response to an earlier request on this connection is still being written;
            # ours would interleave with it.
            self.transport.close()
            return
        error = {"code": "headers_too_large", "message": message, "field": "headers"}
        body = json.dumps({"error": error}).encode()
        content = [STATUS_LINE[431]]
        for name, value in self.server_state.default_headers:
            content += [name, b": ", value, b"\r\n"]
        content += [
            b"content-type: application/json\r\n",
            b"content-length: " + str(len(body)).encode() + b"\r\n",
            b"connection: close\r\n\r\n",
            body,
        ]
        self.transport.write(b"".join(content))
        self.transport.close()
