"""Serve an ASGI app with uvicorn in a background thread: the runner behind ``ads serve``,
``ads mcp --transport streamable-http``, ``ads demo`` and ``LocalPagerDuty``.

- The socket is bound and listening before uvicorn starts, so the URL is known at once, port 0
  gets a free port with no race, and an address in use fails at once, in the caller's thread,
  as ``ServerStartError`` naming ``host:port``.
- ``start`` returns once uvicorn serves (the app's lifespan startup done); a server that dies
  on the way or does not come up in time is a ``ServerStartError`` too, with the reason.
- Every connection has deadlines (``limits.timed_protocol``): ``header_timeout`` seconds for a
  request's headers, ``body_timeout`` for its body; uvicorn itself has neither.
- ``stop`` stops accepting, gives requests in flight up to ``shutdown_timeout`` to finish, cuts
  idle keep-alive connections at once, and returns when the thread has ended.

``ads.interfaces.http_server`` and ``pagerduty_local.runner`` turn ``ServerStartError`` into
their own errors.
"""

from __future__ import annotations

import asyncio
import logging
import socket
import threading
import time
from types import TracebackType
from typing import Any, Literal

import uvicorn

from .limits import DEFAULT_BODY_TIMEOUT, DEFAULT_HEADER_TIMEOUT, timed_protocol

__all__ = ["DEFAULT_SHUTDOWN_TIMEOUT", "BackgroundServer", "ServerStartError", "listen"]

DEFAULT_SHUTDOWN_TIMEOUT = 5  # seconds

log = logging.getLogger(__name__)


class ServerStartError(RuntimeError):
    """The server cannot listen on its address, or did not come up."""


def listen(host: str = "127.0.0.1", port: int = 0) -> socket.socket:
    """A TCP socket listening on ``host:port`` (0: a free port); ``ServerStartError`` if the
    address is in use or cannot be had, naming it."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)  # inherited by connections
    try:
        sock.bind((host, port))
        sock.listen(socket.SOMAXCONN)
    except OSError as exc:
        sock.close()
        raise ServerStartError(f"cannot listen on {host}:{port}: {exc.strerror or exc}") from None
    return sock


def _one_line(exc: BaseException) -> str:
    text = str(exc).strip().splitlines()[0] if str(exc).strip() else ""
    return f"{type(exc).__name__}: {text}" if text else type(exc).__name__


class _Server(uvicorn.Server):
    """uvicorn's server, except that shutting down cuts idle keep-alive connections.

    uvicorn closes an idle connection gracefully; over TLS that waits for the client's
    close_notify, which a client keeping the connection in its pool never sends, so the
    shutdown would wait for ``shutdown_timeout`` (or asyncio's 30 s TLS shutdown timeout).
    Every request on an idle connection has been answered: aborting it loses nothing. A
    connection still answering a request is cut as soon as its response is complete.

    The first cut runs before uvicorn's own shutdown: that closes every idle connection, and a
    TLS transport closed twice (one already closing after ``Connection: close``) forgets its
    TLS layer, after which ``abort`` does nothing and the connection waits out the timeout.
    """

    async def shutdown(self, sockets: list[socket.socket] | None = None) -> None:
        self._cut_idle_connections()
        cutter = asyncio.ensure_future(self._keep_cutting())
        try:
            await super().shutdown(sockets)
        finally:
            cutter.cancel()

    def _cut_idle_connections(self) -> None:
        for connection in list(self.server_state.connections):
            cycle = getattr(connection, "cycle", None)
            transport = getattr(connection, "transport", None)
            if transport is not None and (cycle is None or cycle.response_complete):
                transport.abort()

    async def _keep_cutting(self) -> None:
        while True:
            await asyncio.sleep(0.01)
            self._cut_idle_connections()


class BackgroundServer:
    """``with BackgroundServer(app) as server: server.url``: started, then stopped cleanly.

    ``sock`` is a socket from ``listen`` to serve on (then ``host`` and ``port`` are its own):
    a caller that must know its URL before it makes the app binds first.
    """

    def __init__(
        self,
        app: Any,
        *,
        host: str = "127.0.0.1",
        port: int = 0,
        sock: socket.socket | None = None,
        ssl_certfile: str | None = None,
        ssl_keyfile: str | None = None,
        log_level: str = "warning",
        lifespan: Literal["auto", "on", "off"] = "auto",
        shutdown_timeout: int = DEFAULT_SHUTDOWN_TIMEOUT,
        header_timeout: float = DEFAULT_HEADER_TIMEOUT,
        body_timeout: float = DEFAULT_BODY_TIMEOUT,
        name: str = "http-server",
    ) -> None:
        if sock is None:
            sock = listen(host, port)
        else:
            host = sock.getsockname()[0]
        self.socket = sock
        self.host = host
        self.port = int(sock.getsockname()[1])
        self.scheme = "https" if ssl_certfile else "http"
        self.shutdown_timeout = shutdown_timeout
        config = uvicorn.Config(
            app,
            log_level=log_level,
            ssl_certfile=ssl_certfile,
            ssl_keyfile=ssl_keyfile,
            lifespan=lifespan,
            access_log=False,
            timeout_graceful_shutdown=shutdown_timeout,
            http=timed_protocol(header_timeout, body_timeout),
        )
        self.server = _Server(config)
        self.thread = threading.Thread(target=self._serve, daemon=True, name=name)
        self._error: BaseException | None = None

    def _serve(self) -> None:
        try:
            self.server.run(sockets=[self.socket])
        except BaseException as exc:  # uvicorn exits (SystemExit) on e.g. unreadable TLS files
            self._error = exc

    @property
    def url(self) -> str:
        return f"{self.scheme}://{self.host}:{self.port}"

    def start(self, timeout: float = 10.0) -> BackgroundServer:
        """Start serving; returns once the server accepts requests."""
        self.thread.start()
        deadline = time.monotonic() + timeout
        while not self.server.started:
            if not self.thread.is_alive():
                self.socket.close()
                why = f": {_one_line(self._error)}" if self._error is not None else ""
                raise ServerStartError(f"server on {self.url} did not start{why}") from self._error
            if time.monotonic() > deadline:
                self.stop()
                raise ServerStartError(f"server on {self.url} did not start in {timeout:g} s")
            time.sleep(0.005)
        return self

    def stop(self) -> None:
        """Stop accepting, let requests in flight finish (``shutdown_timeout`` at most), cut
        idle keep-alive connections, and wait for the server's thread to end."""
        if self.thread.is_alive():
            self.server.should_exit = True
            self.thread.join(self.shutdown_timeout + 5)  # + the app's lifespan shutdown
            if self.thread.is_alive():
                self.server.force_exit = True
                self.thread.join(1)
            if self.thread.is_alive():
                log.warning("server on %s did not stop; its thread is left behind", self.url)
        self.socket.close()

    def __enter__(self) -> BackgroundServer:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()
