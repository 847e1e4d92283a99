"""The local PagerDuty's request bounds: the shared ones (``asgi_thread.limits``: body size,
header and body deadlines, one log line for a client that went away) and ``RequestIds``.
"""

from __future__ import annotations

import uuid

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from asgi_thread.limits import (
    DEFAULT_BODY_TIMEOUT,
    DEFAULT_HEADER_TIMEOUT,
    BodyTooLarge,
    RequestLimits,
    read_body,
    timed_protocol,
)

__all__ = [
    "DEFAULT_BODY_TIMEOUT",
    "DEFAULT_HEADER_TIMEOUT",
    "BodyTooLarge",
    "RequestIds",
    "RequestLimits",
    "read_body",
    "timed_protocol",
]


class RequestIds:
    """ASGI middleware: every answer carries an ``x-request-id`` (a fresh id, as PagerDuty sends
    one to quote to its support), errors and pages included."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        request_id = uuid.uuid4().hex

        async def send_with_id(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = list(message.get("headers", []))
                headers.append((b"x-request-id", request_id.encode()))
                message = {**message, "headers": headers}
            await send(message)

        await self.app(scope, receive, send_with_id)
