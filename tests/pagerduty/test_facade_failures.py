"""How the facade meets a failing PagerDuty: retried 429/5xx, then a clear ADS error.

The failing PagerDuty is a real HTTPS server on 127.0.0.1 (its certificate from a ``trustme``
CA) that answers from a script of status codes; the local PagerDuty server is not used here
because it has no reason to fail.
"""

from __future__ import annotations

import json
import socket
import ssl
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest
import trustme

from ads.config import Secrets
from ads.errors import ConfigError, PagerDutyError, PagerDutyUnavailableError
from ads.sources.pagerduty import PagerDuty, incident_from_api

INCIDENTS = {"incidents": [], "offset": 0, "limit": 100, "more": False, "total": None}


class ScriptedPagerDuty:
    """Answers each request with the next status of ``script`` (then 200 with no incidents)."""

    def __init__(self, ca: trustme.CA, script: list[int]) -> None:
        self.script = list(script)
        self.requests = 0
        owner = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                owner.requests += 1
                status = owner.script.pop(0) if owner.script else 200
                body = json.dumps(
                    INCIDENTS if status == 200 else {"error": {"message": "busy", "code": 5001}}
                ).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        ca.issue_cert("127.0.0.1").configure_cert(context)
        self.server.socket = context.wrap_socket(self.server.socket, server_side=True)
        self.url = f"https://127.0.0.1:{self.server.server_address[1]}"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()


@pytest.fixture
def ca() -> trustme.CA:
    return trustme.CA()


@pytest.fixture
def scripted(ca: trustme.CA, request: pytest.FixtureRequest) -> Iterator[ScriptedPagerDuty]:
    server = ScriptedPagerDuty(ca, request.param)
    yield server
    server.server.shutdown()


def _client(ca: trustme.CA, url: str) -> PagerDuty:
    context = ssl.create_default_context()
    ca.configure_trust(context)
    return PagerDuty("t0ken", api_url=url, events_url=url, verify=context, retry_sleep_seconds=0.01)


@pytest.mark.parametrize("scripted", [[503, 502, 429]], indirect=True)
def test_429_and_5xx_are_retried(ca: trustme.CA, scripted: ScriptedPagerDuty) -> None:
    assert _client(ca, scripted.url).list_incidents() == []
    assert scripted.requests == 4


@pytest.mark.parametrize("scripted", [[503] * 20], indirect=True)
def test_persistent_5xx_is_unavailable(ca: trustme.CA, scripted: ScriptedPagerDuty) -> None:
    with pytest.raises(PagerDutyUnavailableError, match="503"):
        _client(ca, scripted.url).list_incidents()
    assert 1 < scripted.requests < 20


def test_unreachable_host_is_unavailable(ca: trustme.CA) -> None:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]  # closed again: nothing listens there
    with pytest.raises(PagerDutyUnavailableError, match="could not be reached"):
        _client(ca, f"https://127.0.0.1:{port}").list_incidents()


class TlsListener:
    """A TLS server whose certificate comes from ``ca``: counts the connections clients make."""

    def __init__(self, ca: trustme.CA) -> None:
        self.connections = 0
        self.context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        ca.issue_cert("127.0.0.1").configure_cert(self.context)
        self.sock = socket.create_server(("127.0.0.1", 0))
        self.url = f"https://127.0.0.1:{self.sock.getsockname()[1]}"
        threading.Thread(target=self._serve, daemon=True).start()

    def _serve(self) -> None:
        while True:
            try:
                conn, _ = self.sock.accept()
            except OSError:
                return  # closed
            self.connections += 1
            try:
                self.context.wrap_socket(conn, server_side=True).close()
            except OSError:
                conn.close()  # the client refused the certificate


def test_untrusted_certificate_is_permanent_at_once_and_names_the_ca_variable() -> None:
    server = TlsListener(trustme.CA())  # a CA the client has never heard of
    client = _client(trustme.CA(), server.url)
    try:
        with pytest.raises(PagerDutyError, match="not trusted") as raised:
            client.list_incidents()
        assert not isinstance(raised.value, PagerDutyUnavailableError)
        assert "ADS_PAGERDUTY_CA" in str(raised.value) and server.url in str(raised.value)
        assert server.connections == 1  # no retry: the same certificate would come back
        with pytest.raises(PagerDutyError, match="ADS_PAGERDUTY_CA"):
            client.trigger("R" * 32, "OOMKilled", "test")  # the Events API too
        assert server.connections == 2
    finally:
        server.sock.close()


def test_from_secrets_needs_a_token_and_reads_the_eu_host() -> None:
    with pytest.raises(ConfigError, match="PAGERDUTY_API_TOKEN"):
        PagerDuty.from_secrets(Secrets())
    eu = PagerDuty.from_secrets(
        Secrets(pagerduty_token="x", pagerduty_host="https://api.eu.pagerduty.com")
    )
    assert (eu.api_url, eu.events_url) == (
        "https://api.eu.pagerduty.com",
        "https://events.eu.pagerduty.com",
    )
    assert "x" not in repr(Secrets(pagerduty_token="x"))


def test_incident_from_a_saved_api_body() -> None:
    body = {
        "incident": {
            "id": "PT4KHLK",
            "incident_number": 1234,
            "title": "OOMKilled",
            "status": "triggered",
            "created_at": "2015-10-06T21:30:42Z",
            "service": {
                "id": "PIJ90N7",
                "type": "service_reference",
                "summary": "ads-demo-service",
            },
            "assignments": [{"assignee": {"id": "PU1", "type": "user_reference"}}],
        }
    }
    incident = incident_from_api(body)
    assert (incident.id, incident.number, incident.service_name) == (
        "PT4KHLK",
        1234,
        "ads-demo-service",
    )
    assert incident.assignees == ["PU1"] and incident_from_api(body["incident"]) == incident
    with pytest.raises(ConfigError, match="missing created_at"):
        incident_from_api({"incident": {"id": "P1"}})
    with pytest.raises(ConfigError, match="expected a JSON object"):
        incident_from_api(["not", "an", "incident"])
