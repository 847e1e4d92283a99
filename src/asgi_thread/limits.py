"""Bounds on what one HTTP client can make a server hold: body size, time, and its leaving.

Used by ``ads serve`` (through ``http_server``) and the local PagerDuty server:

- ``read_body``: an endpoint's body read with that endpoint's limit — a declared
  ``Content-Length`` over it is refused before a byte is read, a chunked body as soon as it
  passes it — so a 50 MiB body is never held whole.
- ``RequestLimits``: ASGI middleware around a whole app, the backstop for every endpoint (those
  that read with ``request.body()`` too): a body over ``max_body_bytes`` gets 413; a client that
  went away mid-request is one log line, never "Exception in ASGI application" and a traceback.
- ``timed_protocol``: uvicorn's HTTP/1.1 protocol with a deadline for the request's headers and
  another for its body; uvicorn has neither, so one slow client held a connection (and a file
  descriptor) for ever, and a thousand of them starved the deliveries that mattered.
"""

from __future__ import annotations

import asyncio
import json
import logging
from collections.abc import Callable
from typing import Any

import h11
from starlette.requests import ClientDisconnect, Request
from starlette.types import ASGIApp, Message, Receive, Scope, Send
from uvicorn.protocols.http.h11_impl import H11Protocol

__all__ = [
    "DEFAULT_BODY_TIMEOUT",
    "DEFAULT_HEADER_TIMEOUT",
    "BodyTooLarge",
    "RequestLimits",
    "read_body",
    "timed_protocol",
]

DEFAULT_HEADER_TIMEOUT = 10.0  # seconds from connection (or the previous response) to headers
DEFAULT_BODY_TIMEOUT = 30.0  # seconds from the headers to the body's last byte
TIMED_OUT = "asgi_thread.timed_out"  # scope key the protocol sets when it cut a request's body

CLOSE = (b"connection", b"close")

log = logging.getLogger("asgi_thread.http")


class BodyTooLarge(Exception):
    """The request's body is (or declares to be) larger than ``limit`` bytes."""

    def __init__(self, limit: int) -> None:
        super().__init__(f"request body larger than {limit} bytes")
        self.limit = limit


def declared_length(scope: Scope) -> int | None:
    """The ``Content-Length`` the client declared; -1 if it is not a number."""
    for name, value in scope.get("headers") or []:
        if name == b"content-length":
            text = value.decode("latin-1").strip()
            return int(text) if text.isdigit() and len(text) < 20 else -1
    return None


def _chunked(scope: Scope) -> bool:
    return any(
        name == b"transfer-encoding" and b"chunked" in value.lower()
        for name, value in scope.get("headers") or []
    )


async def read_body(request: Request, limit: int) -> bytes:
    """The request's body, refused with ``BodyTooLarge`` once it is known to pass ``limit``."""
    declared = declared_length(request.scope)
    if declared is not None and (declared < 0 or declared > limit):
        raise BodyTooLarge(limit)
    chunks: list[bytes] = []
    size = 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > limit:
            raise BodyTooLarge(limit)
        chunks.append(chunk)
    return b"".join(chunks)


def _default_error(message: str) -> dict[str, Any]:
    return {"error": message}


class RequestLimits:
    """Pure ASGI: bodies over ``max_body_bytes`` get 413, and a client that goes away is one
    line in the log.

    The body is counted as the app receives it; once it passes the limit the app is told the
    client disconnected (it never sees the rest), whatever it answers is dropped, and the client
    gets the 413 with ``Connection: close``. ``error_body`` shapes the 413's JSON body in the
    API's own error format.
    """

    def __init__(
        self,
        app: ASGIApp,
        *,
        max_body_bytes: int,
        error_body: Callable[[str], dict[str, Any]] = _default_error,
    ) -> None:
        self.app = app
        self.max_body_bytes = max_body_bytes
        self.error_body = error_body

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        declared = declared_length(scope)
        if declared is not None and (declared < 0 or declared > self.max_body_bytes):
            await self._too_large(send)
            return
        received = 0
        over = False
        started = False
        unread = bool(declared) or _chunked(scope)  # a body the app has not had in full yet

        async def limited_receive() -> Message:
            nonlocal received, over, unread
            if over:
                return {"type": "http.disconnect"}
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > self.max_body_bytes:
                    over = True
                    return {"type": "http.disconnect"}
                unread = unread and bool(message.get("more_body", False))
            return message

        async def guarded_send(message: Message) -> None:
            nonlocal started
            if over:
                return  # the app answered a body it never had in full: the 413 says why
            if message["type"] == "http.response.start":
                started = True
                if unread:  # answered early (e.g. refused a body): do not read the rest
                    message = {**message, "headers": [*message.get("headers", []), CLOSE]}
            await send(message)

        try:
            await self.app(scope, limited_receive, guarded_send)
        except ClientDisconnect:
            if not over:
                self._client_gone(scope, received)
                return
        except Exception:
            if not over:
                raise
            # the app failed on the body it was denied; the 413 below is the answer
        if over and not started:
            await self._too_large(send)

    async def _too_large(self, send: Send) -> None:
        message = f"request body larger than {self.max_body_bytes} bytes"
        body = json.dumps(self.error_body(message)).encode()
        await send(
            {
                "type": "http.response.start",
                "status": 413,
                "headers": [
                    (b"content-type", b"application/json"),
                    (b"content-length", str(len(body)).encode()),
                    (b"connection", b"close"),
                ],
            }
        )
        await send({"type": "http.response.body", "body": body})

    @staticmethod
    def _client_gone(scope: Scope, received: int) -> None:
        if scope.get(TIMED_OUT):
            return  # the protocol cut it and said so
        client = scope.get("client") or ("?", 0)
        log.info(
            json.dumps(
                {
                    "event": "http.client_gone",
                    "path": scope.get("path", "")[:200],
                    "client": f"{client[0]}:{client[1]}",
                    "received_bytes": received,
                }
            )
        )


class _TimedH11Protocol(H11Protocol):
    """uvicorn's h11 protocol with deadlines: ``header_timeout`` for a request's headers
    (from the connection, or from the previous response on a kept-alive one) and
    ``body_timeout`` for its body. A client that misses one gets 408 for missing headers, or is
    cut for a body it stopped sending (the app then sees it disconnect), and one log line."""

    header_timeout = DEFAULT_HEADER_TIMEOUT
    body_timeout = DEFAULT_BODY_TIMEOUT

    _phase: str | None = None
    _deadline: asyncio.TimerHandle | None = None

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        super().connection_made(transport)
        self._watch()

    def data_received(self, data: bytes) -> None:
        super().data_received(data)
        self._watch()

    def on_response_complete(self) -> None:
        super().on_response_complete()
        self._watch()

    def connection_lost(self, exc: Exception | None) -> None:
        self._set_phase(None)
        super().connection_lost(exc)

    def _watch(self) -> None:
        """Arm the deadline of what the client owes now: headers, body, or nothing."""
        if self.transport is None or self.transport.is_closing():
            self._set_phase(None)
            return
        state = self.conn.their_state
        if state is h11.IDLE:
            self._set_phase("headers")
        elif state is h11.SEND_BODY:
            self._set_phase("body")
        else:
            self._set_phase(None)

    def _set_phase(self, phase: str | None) -> None:
        if phase == self._phase:
            return
        if self._deadline is not None:
            self._deadline.cancel()
            self._deadline = None
        self._phase = phase
        if phase is not None:
            seconds = self.header_timeout if phase == "headers" else self.body_timeout
            self._deadline = self.loop.call_later(seconds, self._expired, phase, seconds)

    def _expired(self, phase: str, seconds: float) -> None:
        self._deadline = None
        if self.transport.is_closing():
            return
        client = f"{self.client[0]}:{self.client[1]}" if self.client else "?"
        log.info(
            json.dumps(
                {"event": "http.timeout", "client": client, "waited_for": phase,
                 "seconds": seconds}
            )
        )  # fmt: skip
        if phase == "headers":
            self.transport.write(
                b"HTTP/1.1 408 Request Timeout\r\ncontent-length: 0\r\nconnection: close\r\n\r\n"
            )
        elif self.scope is not None:
            self.scope[TIMED_OUT] = phase  # type: ignore[literal-required]
        self.transport.close()


def timed_protocol(
    header_timeout: float = DEFAULT_HEADER_TIMEOUT, body_timeout: float = DEFAULT_BODY_TIMEOUT
) -> type[H11Protocol]:
    """The protocol class to give ``uvicorn.Config(http=...)`` for these deadlines."""
    return type(
        "TimedH11Protocol",
        (_TimedH11Protocol,),
        {"header_timeout": header_timeout, "body_timeout": body_timeout},
    )
