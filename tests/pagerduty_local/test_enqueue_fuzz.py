"""Junk at the local PagerDuty's Events API (issue 12 point 9): never a 5xx, never a change.

``/v2/enqueue`` needs no token, so anything can reach it. Hypothesis mutates a good trigger
event (one field replaced by arbitrary JSON, removed, or nested deep; or arbitrary JSON, or
bytes), posts it to the real server over HTTPS, and checks: every answer is a 202 or a 400 in
the Events API's shape, and a 400 changed nothing in the account. Deep nesting is a 400 on the
REST routes (notes) too, and a body over the limit is refused before it is read whole.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import httpx2
import pytest
from hypothesis import given, settings

from pagerduty_local import LocalPagerDuty
from pagerduty_local.store import IncidentQuery
from tests.strategies import FUZZ, mutated


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LocalPagerDuty]:
    with LocalPagerDuty(tmp_path_factory.mktemp("pd") / "pagerduty") as local:
        yield local


@pytest.fixture(scope="module")
def http(server: LocalPagerDuty) -> Iterator[httpx2.Client]:
    with httpx2.Client(
        base_url=server.api_url,
        verify=server.ssl_context(),
        headers={"Authorization": f"Token token={server.token}"},
        timeout=30,
    ) as client:
        yield client


def state(server: LocalPagerDuty) -> dict[str, Any]:
    store = server.app.state.pd.account.store
    tables = ("incidents", "alerts", "log_entries", "notes", "change_events")
    incidents, _ = store.query_incidents(IncidentQuery(), 0, 10000)
    return {"counts": {t: store.count(t) for t in tables}, "incidents": incidents}


def valid_event(server: LocalPagerDuty) -> dict[str, Any]:
    return {
        "routing_key": server.routing_key("ads-demo-service"),
        "event_action": "trigger",
        "dedup_key": "fuzz",
        "payload": {
            "summary": "OOMKilled",
            "source": "worker",
            "severity": "critical",
            "timestamp": "2026-11-25T04:00:00Z",
            "custom_details": {"memory_limit": "64Mi", "exit_code": 137},
        },
    }


def acceptable(event: Any, routing_key: str) -> bool:
    """What a 202 needs at least: the right routing key, a known action, and for a trigger a
    payload with a summary, a source and a known severity."""
    if not isinstance(event, dict) or event.get("routing_key") != routing_key:
        return False
    action = event.get("event_action")
    if action != "trigger":
        return action in ("acknowledge", "resolve") and isinstance(event.get("dedup_key"), str)
    payload = event.get("payload")
    return (
        isinstance(payload, dict)
        and all(
            isinstance(payload.get(k), str) and payload[k].strip() for k in ("summary", "source")
        )
        and payload.get("severity") in ("critical", "error", "warning", "info")
    )


def test_junk_events_are_never_a_5xx_nor_a_change(
    server: LocalPagerDuty, http: httpx2.Client
) -> None:
    routing_key = server.routing_key("ads-demo-service")

    @settings(FUZZ, max_examples=150)
    @given(case=mutated(valid_event(server)))
    def post_one(case: tuple[Any, bytes, str]) -> None:
        document, body, what = case
        before = state(server)
        response = http.post("/v2/enqueue", content=body)
        assert response.status_code in (202, 400), (what, response.status_code, response.text)
        reply = response.json()
        if response.status_code == 400:
            assert isinstance(reply["message"], str) and reply["errors"], reply
            assert state(server) == before, what
        else:
            assert document is not None and acceptable(document, routing_key), (what, reply)

    post_one()


def _nested(depth: int) -> bytes:
    return b'{"a":' * depth + b"1" + b"}" * depth


@pytest.mark.parametrize("depth", [65, 1000, 30_000])
def test_deep_nesting_is_400_everywhere(
    server: LocalPagerDuty, http: httpx2.Client, depth: int
) -> None:
    before = state(server)
    for path in ("/v2/enqueue", "/v2/change/enqueue"):
        event = http.post(path, content=b'{"routing_key": ' + _nested(depth) + b"}")
        assert event.status_code == 400, event.text
        assert event.json()["errors"] == ["JSON nested deeper than 64 levels"]
    assert http.post("/v2/enqueue", json=valid_event(server)).status_code == 202
    before = state(server)
    incident_id = before["incidents"][0]["id"]
    note = http.post(
        f"/incidents/{incident_id}/notes",
        content=b'{"note": {"content": ' + _nested(depth) + b"}}",
        headers={"From": "alice@example.com", "Content-Type": "application/json"},
    )
    assert note.status_code == 400, note.text
    assert "nested deeper than 64 levels" in " ".join(note.json()["error"]["errors"])
    assert state(server) == before


def test_a_50_mib_note_is_refused_before_it_is_read(
    server: LocalPagerDuty, http: httpx2.Client
) -> None:
    assert http.post("/v2/enqueue", json=valid_event(server)).status_code == 202
    incident_id = state(server)["incidents"][0]["id"]
    sent = 0

    def body() -> Iterator[bytes]:
        nonlocal sent
        yield b'{"note": {"content": "'
        for _ in range(50 * 16):  # 50 MiB in 64 KiB chunks
            sent += 64 * 1024
            yield b"x" * (64 * 1024)
        yield b'"}}'

    before = state(server)
    try:
        response = http.post(
            f"/incidents/{incident_id}/notes", content=body(), headers={"From": "alice@example.com"}
        )
        assert response.status_code == 413, response.text
    except httpx2.TransportError:
        pass  # the server may close the connection as soon as it has answered
    assert sent < 8 * 1024 * 1024, f"the server read {sent} bytes before refusing"
    assert state(server) == before


def test_a_declared_50_mib_body_is_refused_at_once(server: LocalPagerDuty) -> None:
    import socket

    host, port = server.api_url.removeprefix("https://").split(":")
    context = server.ssl_context()
    with (
        socket.create_connection((host, int(port)), timeout=10) as raw,
        context.wrap_socket(raw, server_hostname=host) as tls,
    ):
        tls.sendall(
            b"POST /v2/enqueue HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
            b"Content-Length: 52428800\r\n\r\n{"
        )
        answer = tls.recv(65536).decode()
    assert answer.startswith("HTTP/1.1 413"), answer
