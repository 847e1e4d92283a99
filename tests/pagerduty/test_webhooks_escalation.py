"""Webhooks v3 out (signed, retried) and escalation by timeout, against real servers."""

from __future__ import annotations

import hashlib
import hmac
import json
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import httpx2
import pytest

from ads.sources.pagerduty import PagerDuty
from pagerduty_local import LocalPagerDuty


class Receiver:
    """A real HTTP server on 127.0.0.1 recording what it receives; fails the first N posts."""

    def __init__(self, fail_first: int = 0) -> None:
        self.received: list[tuple[dict[str, str], bytes]] = []
        self.fail_first = fail_first
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers["Content-Length"]))
                receiver.received.append((dict(self.headers), body))
                failing = len(receiver.received) <= receiver.fail_first
                self.send_response(503 if failing else 202)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/pagerduty"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def wait_for(self, count: int, timeout: float = 10.0) -> None:
        deadline = time.monotonic() + timeout
        while len(self.received) < count and time.monotonic() < deadline:
            time.sleep(0.02)


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    r = Receiver(fail_first=1)
    yield r
    r.server.shutdown()


def _verify(secret: str, body: bytes, header: str) -> bool:
    expected = hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()
    return any(
        hmac.compare_digest(sig.removeprefix("v1="), expected)
        for sig in header.split(",")
        if sig.startswith("v1=")
    )


def test_signed_incident_triggered_webhook_is_retried_and_verifies(
    local_pagerduty: LocalPagerDuty, pagerduty_client: PagerDuty, receiver: Receiver
) -> None:
    with httpx2.Client(verify=local_pagerduty.ssl_context()) as http:
        created = http.post(
            f"{local_pagerduty.api_url}/webhook_subscriptions",
            headers={"Authorization": f"Token token={local_pagerduty.token}"},
            json={
                "webhook_subscription": {
                    "type": "webhook_subscription",
                    "delivery_method": {"type": "http_delivery_method", "url": receiver.url},
                    "events": ["incident.triggered", "incident.annotated"],
                    "filter": {"type": "account_reference"},
                }
            },
        )
    assert created.status_code == 200
    secret = created.json()["webhook_subscription"]["delivery_method"]["secret"]

    key = local_pagerduty.routing_key("ads-demo-service")
    pagerduty_client.trigger(key, "OOMKilled", "ads-demo-service", dedup_key="hook")
    receiver.wait_for(2)  # the first attempt gets 503, the retry succeeds
    assert len(receiver.received) == 2
    (first_headers, first_body), (headers, body) = receiver.received
    assert first_body == body
    assert first_headers["X-Webhook-Id"] == headers["X-Webhook-Id"]
    assert _verify(secret, body, headers["X-PagerDuty-Signature"])
    assert not _verify("another-secret", body, headers["X-PagerDuty-Signature"])
    event = json.loads(body)["event"]
    [incident] = pagerduty_client.list_incidents()
    assert event["event_type"] == "incident.triggered"
    assert event["resource_type"] == "incident"
    assert event["data"]["id"] == incident.id
    assert event["data"]["service"]["summary"] == "ads-demo-service"
    assert [a["id"] for a in event["data"]["assignees"]] == incident.assignees

    pagerduty_client.add_note(incident.id, "diagnosis attached")
    receiver.wait_for(3)
    note_event = json.loads(receiver.received[2][1])["event"]
    assert note_event["event_type"] == "incident.annotated"
    assert note_event["data"]["content"] == "diagnosis attached"


def test_runner_subscription_gets_acknowledged_and_resolved(
    local_pagerduty: LocalPagerDuty, pagerduty_client: PagerDuty
) -> None:
    receiver = Receiver()
    try:
        _, secret = local_pagerduty.add_webhook_subscription(
            receiver.url, events=["incident.acknowledged", "incident.resolved"]
        )
        key = local_pagerduty.routing_key("ads-demo-service")
        pagerduty_client.trigger(key, "OOMKilled", "ads-demo-service", dedup_key="ar")
        pagerduty_client.acknowledge_event(key, "ar")
        pagerduty_client.resolve_event(key, "ar")
        receiver.wait_for(2)
        events = [json.loads(body)["event"] for _, body in receiver.received]
        assert [e["event_type"] for e in events] == ["incident.acknowledged", "incident.resolved"]
        assert [e["data"]["status"] for e in events] == ["acknowledged", "resolved"]
        assert all(
            _verify(secret, body, headers["X-PagerDuty-Signature"])
            for headers, body in receiver.received
        )
    finally:
        receiver.server.shutdown()


def test_unacknowledged_incident_escalates_to_level_two(tmp_path: Path) -> None:
    # 30 minutes of escalation delay pass in 0.3 s at this time scale
    with LocalPagerDuty(tmp_path / "pd", time_scale=6000) as server:
        client = PagerDuty(
            server.token,
            api_url=server.api_url,
            events_url=server.events_url,
            verify=server.ssl_context(),
        )
        key = server.routing_key("ads-demo-service")
        client.trigger(key, "OOMKilled", "ads-demo-service", dedup_key="slow")
        client.trigger(key, "Another", "ads-demo-service", dedup_key="acked")
        first, second = client.list_incidents()
        client.acknowledge(second.id)
        assert first.service_id is not None
        by_level = {o.level: o.user_id for o in client.oncalls_for_service(first.service_id)}
        assert first.assignees == [by_level[1]]
        deadline = time.monotonic() + 5
        while time.monotonic() < deadline:
            if client.get_incident(first.id).assignees == [by_level[2]]:
                break
            time.sleep(0.05)
        escalated = client.get_incident(first.id)
        assert escalated.assignees == [by_level[2]]
        assert "escalate_log_entry" in [e.type for e in escalated.log_entries]
        assert client.get_incident(second.id).assignees == [by_level[1]]  # acknowledged: stays
