"""``ads serve`` under slow, large and vanishing clients (issue 12 points 7 and 5), over real
sockets: deadlines for headers and body, 413 before a large body is read, one log line for a
client that went away, and ``/jobs`` behind the admin token beyond loopback.
"""

from __future__ import annotations

import logging
import socket
from collections.abc import Iterator
from pathlib import Path

import anyio
import httpx2
import pytest

from ads.interfaces.http_server import BackgroundServer, is_loopback
from ads.interfaces.webhook import WebhookService
from ads.sources.storage import Store

GENEROUS = 20.0  # seconds: a bound on the test, not a measurement


@pytest.fixture
def service(tmp_path: Path) -> WebhookService:
    return WebhookService(
        store=Store(tmp_path / "ads.db"), secrets=["s"], handler=lambda job: None,
        services=lambda name: True,
    )  # fmt: skip


@pytest.fixture
def server(service: WebhookService) -> Iterator[BackgroundServer]:
    with BackgroundServer(service.app(), header_timeout=0.5, body_timeout=0.5) as running:
        yield running


def connect(server: BackgroundServer) -> socket.socket:
    sock = socket.create_connection((server.host, server.port), timeout=GENEROUS)
    return sock


def read_all(sock: socket.socket) -> bytes:
    chunks = []
    while chunk := sock.recv(65536):
        chunks.append(chunk)
    return b"".join(chunks)


def no_tracebacks(caplog: pytest.LogCaptureFixture) -> None:
    assert not [r for r in caplog.records if r.exc_info], "a traceback was logged"


def test_a_client_that_sends_no_headers_gets_408_and_is_closed(
    server: BackgroundServer, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO)
    with connect(server) as sock:
        sock.sendall(b"POST /webhooks/pagerduty HTTP/1.1\r\nHost: x\r\n")  # and never the rest
        answer = read_all(sock)  # returns once the server closes
    assert answer.startswith(b"HTTP/1.1 408")
    timeouts = [r.getMessage() for r in caplog.records if "http.timeout" in r.getMessage()]
    assert len(timeouts) == 1 and '"waited_for": "headers"' in timeouts[0]
    no_tracebacks(caplog)


def test_a_stalled_upload_is_cut_with_one_log_line(
    server: BackgroundServer, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO)
    with connect(server) as sock:
        sock.sendall(
            b'POST /webhooks/pagerduty HTTP/1.1\r\nHost: x\r\nContent-Length: 1000\r\n\r\n{"ev'
        )
        assert read_all(sock) == b""  # cut: no answer for a body that never came
    lines = [r for r in caplog.records if r.name == "asgi_thread.http"]
    assert len(lines) == 1 and '"waited_for": "body"' in lines[0].getMessage()
    no_tracebacks(caplog)
    assert httpx2.get(f"{server.url}/healthz").status_code == 200


def test_a_dropped_upload_logs_one_line(
    server: BackgroundServer, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO)
    with connect(server) as sock:
        sock.sendall(
            b'POST /webhooks/pagerduty HTTP/1.1\r\nHost: x\r\nContent-Length: 1000\r\n\r\n{"ev'
        )
    # the server notices when it reads the end of the stream; healthz answers meanwhile
    assert httpx2.get(f"{server.url}/healthz").status_code == 200
    for _ in range(200):
        if any(r.name == "asgi_thread.http" for r in caplog.records):
            break
        httpx2.get(f"{server.url}/healthz")
    lines = [r.getMessage() for r in caplog.records if r.name == "asgi_thread.http"]
    assert len(lines) == 1 and "http.client_gone" in lines[0], lines
    no_tracebacks(caplog)


def test_a_declared_large_body_is_refused_before_it_is_sent(server: BackgroundServer) -> None:
    with connect(server) as sock:
        sock.sendall(
            b"POST /webhooks/pagerduty HTTP/1.1\r\nHost: x\r\nContent-Length: 52428800\r\n\r\n{"
        )
        answer = read_all(sock)
    assert answer.startswith(b"HTTP/1.1 413")


def test_jobs_needs_the_token_beyond_loopback(tmp_path: Path) -> None:
    def jobs(service: WebhookService, **headers: str) -> httpx2.Response:
        transport = httpx2.ASGITransport(app=service.app())

        async def get() -> httpx2.Response:
            async with httpx2.AsyncClient(transport=transport, base_url="http://ads") as client:
                return await client.get("/jobs", headers=headers)

        return anyio.run(get)

    def made(host: str, token: str | None) -> WebhookService:
        return WebhookService(
            store=Store(tmp_path / f"{host}-{token}.db"), secrets=["s"], handler=lambda job: None,
            services=lambda name: True, host=host, admin_token=token,
        )  # fmt: skip

    assert jobs(made("127.0.0.1", None)).status_code == 200
    assert jobs(made("0.0.0.0", None)).status_code == 403
    assert "ADS_MCP_TOKEN" in jobs(made("0.0.0.0", None)).json()["error"]
    public = made("0.0.0.0", "admin-token-123")
    assert jobs(public).status_code == 401
    assert jobs(public, authorization="Bearer wrong").status_code == 401
    assert jobs(public, authorization="Bearer admin-token-123").status_code == 200
    assert jobs(public).json() == {"error": jobs(public).json()["error"]}  # no job data
    assert all(is_loopback(h) for h in ("127.0.0.1", "127.0.0.2", "localhost", "::1"))
    assert not any(is_loopback(h) for h in ("0.0.0.0", "10.0.0.1", "::", "example.com"))
