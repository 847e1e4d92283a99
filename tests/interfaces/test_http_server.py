"""The one background server runner, as its two users get it: ``BackgroundServer`` (``ads serve``,
``ads demo``) and ``LocalPagerDuty``. Both stop promptly with a client's idle TLS keep-alive
connection open, and both refuse an address in use with the same one-line ``ConfigError``."""

from __future__ import annotations

import asyncio
import socket
import ssl
import threading
import time
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import AbstractContextManager, contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import httpx2
import pytest
from click.testing import CliRunner

from ads.errors import ConfigError
from ads.interfaces.cli_pagerduty import pagerduty
from ads.interfaces.http_server import BackgroundServer
from asgi_thread import BackgroundServer as Runner
from asgi_thread import ServerStartError
from pagerduty_local import LocalPagerDuty
from pagerduty_local import ServerStartError as LocalStartError
from pagerduty_local.tls import ensure_tls

# Long enough that a stop waiting for an idle connection instead of cutting it (until this
# bound, or asyncio's 30 s TLS shutdown timeout) cannot pass for a prompt one.
SHUTDOWN_TIMEOUT = 30
PROMPT_STOP_SECONDS = 10.0


async def hello(
    scope: dict[str, Any], receive: Callable[..., Any], send: Callable[..., Any]
) -> None:
    if scope["type"] != "http":
        return
    await send({"type": "http.response.start", "status": 200, "headers": []})
    await send({"type": "http.response.body", "body": b"hello"})


@dataclass
class Served:
    """A running server of either user: a URL on it, the CA to trust, and how to stop it."""

    url: str
    ca_file: Path
    runner: Runner
    stop: Callable[[], None]


def _ads_server(tmp_path: Path) -> Served:
    files = ensure_tls(tmp_path)
    server = BackgroundServer(
        hello,
        ssl_certfile=str(files.cert_file),
        ssl_keyfile=str(files.key_file),
        shutdown_timeout=SHUTDOWN_TIMEOUT,
    ).start()
    return Served(server.url, files.ca_file, server, server.stop)


def _local_pagerduty(tmp_path: Path) -> Served:
    pd = LocalPagerDuty(tmp_path / "pd", shutdown_timeout=SHUTDOWN_TIMEOUT).start()
    assert pd.runner is not None and pd.ca_file is not None
    # a 401 without a token: any answered request leaves the connection idle in the pool
    return Served(pd.api_url + "/services", pd.ca_file, pd.runner, pd.stop)


USERS = {"ads serve": _ads_server, "local PagerDuty": _local_pagerduty}


@pytest.mark.parametrize("user", USERS)
def test_stop_cuts_an_idle_keep_alive_connection(tmp_path: Path, user: str) -> None:
    served = USERS[user](tmp_path)
    verify = ssl.create_default_context(cafile=str(served.ca_file))
    with httpx2.Client(verify=verify) as client:  # keeps its TLS connection in the pool
        client.get(served.url)
        started = time.monotonic()
        served.stop()
        took = time.monotonic() - started
    assert not served.runner.thread.is_alive()
    assert took < PROMPT_STOP_SECONDS, f"stop took {took:.1f} s: the idle connection was waited for"


@pytest.mark.parametrize("user", USERS)
def test_stop_cuts_a_closed_connection_the_client_keeps_open(tmp_path: Path, user: str) -> None:
    """A client that asked for ``Connection: close``, read its answer and never sends TLS's
    close_notify: the server has closed its side once already, and its shutdown closes it
    again. It must still be cut, not waited for until the shutdown timeout."""
    served = USERS[user](tmp_path)
    verify = ssl.create_default_context(cafile=str(served.ca_file))
    url = urlsplit(served.url)
    assert url.hostname is not None and url.port is not None
    raw = socket.create_connection((url.hostname, url.port), timeout=10)
    with verify.wrap_socket(raw, server_hostname=url.hostname) as tls:
        request = (
            f"GET {url.path or '/'} HTTP/1.1\r\nHost: {url.netloc}\r\nConnection: close\r\n\r\n"
        )
        tls.sendall(request.encode())
        assert tls.recv(65536).startswith(b"HTTP/1.1 ")
        started = time.monotonic()
        served.stop()
        took = time.monotonic() - started
    assert not served.runner.thread.is_alive()
    assert took < PROMPT_STOP_SECONDS, (
        f"stop took {took:.1f} s: the closed connection was waited for"
    )


def test_stop_lets_a_request_in_flight_finish() -> None:
    arrived = threading.Event()

    async def slow(
        scope: dict[str, Any], receive: Callable[..., Any], send: Callable[..., Any]
    ) -> None:
        if scope["type"] == "http":
            arrived.set()
            await asyncio.sleep(0.5)
            await hello(scope, receive, send)

    server = BackgroundServer(slow).start()
    with ThreadPoolExecutor(1) as pool:
        answer = pool.submit(httpx2.get, server.url, timeout=30)
        assert arrived.wait(10)
        server.stop()
        assert answer.result().text == "hello"
    assert not server.thread.is_alive()


@contextmanager
def _listening() -> Iterator[int]:
    with socket.socket() as other:
        other.bind(("127.0.0.1", 0))
        other.listen()
        yield other.getsockname()[1]


@contextmanager
def _made_not_started() -> Iterator[int]:
    """A server made but not started holds its port already: with SO_REUSEADDR a second bind
    would succeed, so only listening at once tells the next server that the port is taken."""
    other = Runner(hello)
    try:
        yield other.port
    finally:
        other.stop()


HOLDERS: dict[str, Callable[[], AbstractContextManager[int]]] = {
    "a listening socket": _listening,
    "a server not started yet": _made_not_started,
}


@pytest.mark.parametrize("holder", HOLDERS)
def test_port_in_use_is_the_same_config_error_for_both_users(tmp_path: Path, holder: str) -> None:
    with HOLDERS[holder]() as port:
        expected = f"cannot listen on 127.0.0.1:{port}: Address already in use"
        with pytest.raises(ServerStartError, match=f"^{expected}$"):
            Runner(hello, port=port)
        with pytest.raises(ConfigError, match=f"^{expected}$"):
            BackgroundServer(hello, port=port)
        with pytest.raises(LocalStartError, match=f"^{expected}$"):
            LocalPagerDuty(tmp_path / "pd", port=port).start()
        result = CliRunner().invoke(
            pagerduty, ["serve", "--port", str(port), "--state-dir", str(tmp_path / "cli")]
        )
        assert result.exit_code == 2 and expected in result.output
        assert "Traceback" not in result.output


def test_a_server_that_does_not_come_up_is_a_config_error_saying_why(tmp_path: Path) -> None:
    missing = str(tmp_path / "no-such-cert.pem")
    server = BackgroundServer(hello, ssl_certfile=missing, ssl_keyfile=missing)
    with pytest.raises(ConfigError, match=r"^server on https://127\.0\.0\.1:\d+ did not start: "):
        server.start()
    assert not server.thread.is_alive()
