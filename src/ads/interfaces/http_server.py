"""The HTTP server of ``ads serve`` and ``ads demo``: the shared background runner
(``asgi_thread``) raising ADS's errors, with its request limits (body size, header and body
deadlines, one log line for a client that went away).

It serves an ASGI app with uvicorn in a background thread, on loopback and a free port unless
told otherwise; the tests use it to talk to real servers rather than in-process fakes. An
address in use, or a server that does not come up, is a ``ConfigError`` that names the address.
"""

from __future__ import annotations

import ipaddress
import socket
from typing import Any

import asgi_thread as background
from asgi_thread import DEFAULT_SHUTDOWN_TIMEOUT, ServerStartError
from asgi_thread.limits import (
    DEFAULT_BODY_TIMEOUT,
    DEFAULT_HEADER_TIMEOUT,
    BodyTooLarge,
    RequestLimits,
    read_body,
)

from ..errors import ConfigError

__all__ = [
    "BackgroundServer",
    "BodyTooLarge",
    "RequestLimits",
    "free_port",
    "is_loopback",
    "read_body",
]


def is_loopback(host: str) -> bool:
    """True if only this machine can reach ``host`` (localhost, 127.0.0.0/8, ::1)."""
    if host.strip().lower() == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip().strip("[]")).is_loopback
    except ValueError:
        return False  # a name: it may resolve to anything


def free_port(host: str = "127.0.0.1") -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((host, 0))
        return int(sock.getsockname()[1])


class BackgroundServer(background.BackgroundServer):
    """``with BackgroundServer(app) as server: server.url``: started, then stopped cleanly."""

    def __init__(
        self,
        app: Any,
        *,
        host: str = "127.0.0.1",
        port: int = 0,
        ssl_certfile: str | None = None,
        ssl_keyfile: str | None = None,
        log_level: str = "warning",
        shutdown_timeout: int = DEFAULT_SHUTDOWN_TIMEOUT,
        header_timeout: float = DEFAULT_HEADER_TIMEOUT,
        body_timeout: float = DEFAULT_BODY_TIMEOUT,
    ) -> None:
        try:
            super().__init__(
                app,
                host=host,
                port=port,
                ssl_certfile=ssl_certfile,
                ssl_keyfile=ssl_keyfile,
                log_level=log_level,
                shutdown_timeout=shutdown_timeout,
                header_timeout=header_timeout,
                body_timeout=body_timeout,
                name="ads-http",
            )
        except ServerStartError as exc:
            raise ConfigError(str(exc)) from None

    def start(self, timeout: float = 10.0) -> BackgroundServer:
        try:
            super().start(timeout)
        except ServerStartError as exc:
            raise ConfigError(str(exc)) from exc.__cause__
        return self
