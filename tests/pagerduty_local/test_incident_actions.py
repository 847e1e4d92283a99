"""What merge, snooze, bulk updates and webhook subscriptions do, as a responder sees it through
the REST API, with a real webhook receiver."""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Iterator
from datetime import datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import httpx2
import pytest

from pagerduty_local import LocalPagerDuty, sign


@pytest.fixture
def http(local_pagerduty: LocalPagerDuty) -> Iterator[httpx2.Client]:
    with httpx2.Client(
        base_url=local_pagerduty.api_url,
        verify=local_pagerduty.ssl_context(),
        headers={"Authorization": f"Token token={local_pagerduty.token}"},
    ) as client:
        yield client


def page(http: httpx2.Client, server: LocalPagerDuty, dedup_key: str) -> dict[str, Any]:
    http.post("/v2/enqueue", json={
        "routing_key": server.routing_key("ads-demo-service"), "event_action": "trigger",
        "dedup_key": dedup_key,
        "payload": {"summary": f"OOMKilled {dedup_key}", "source": "w", "severity": "critical"},
    }).raise_for_status()  # fmt: skip
    found = http.get("/incidents", params={"incident_key": dedup_key}).json()["incidents"]
    return dict(found[0])


def test_merge_moves_the_alerts_and_resolves_the_source(
    http: httpx2.Client, local_pagerduty: LocalPagerDuty
) -> None:
    target = page(http, local_pagerduty, "a")
    source = page(http, local_pagerduty, "b")
    sources = [{"id": source["id"], "type": "incident_reference"}]
    merged = http.put(f"/incidents/{target['id']}/merge", json={"source_incidents": sources})
    assert merged.status_code == 200, merged.text
    alerts = http.get(f"/incidents/{target['id']}/alerts").json()["alerts"]
    assert sorted(a["alert_key"] for a in alerts) == ["a", "b"]
    after = http.get(f"/incidents/{source['id']}").json()["incident"]
    assert after["status"] == "resolved"
    assert after["resolve_reason"]["incident"]["id"] == target["id"]
    assert http.get(f"/incidents/{source['id']}/alerts").json()["alerts"] == []
    assert http.get(f"/incidents/{target['id']}").json()["incident"]["alert_counts"]["all"] == 2


def test_a_bulk_update_with_one_bad_change_changes_nothing(
    http: httpx2.Client, local_pagerduty: LocalPagerDuty
) -> None:
    first, second = page(http, local_pagerduty, "a"), page(http, local_pagerduty, "b")
    answer = http.put("/incidents", json={"incidents": [
        {"id": first["id"], "type": "incident_reference", "status": "acknowledged"},
        {"id": second["id"], "type": "incident_reference", "urgency": "sideways"}]})  # fmt: skip
    assert answer.status_code == 400
    assert "urgency" in answer.json()["error"]["errors"][0]
    assert http.get(f"/incidents/{first['id']}").json()["incident"]["status"] == "triggered"


def test_snooze_needs_an_acknowledged_incident_and_schedules_its_return(
    http: httpx2.Client, local_pagerduty: LocalPagerDuty
) -> None:
    incident = page(http, local_pagerduty, "a")
    refused = http.post(f"/incidents/{incident['id']}/snooze", json={"duration": 3600})
    assert refused.status_code == 400 and "acknowledged" in refused.text
    http.put(f"/incidents/{incident['id']}", json={"incident": {
        "type": "incident_reference", "status": "acknowledged"}}).raise_for_status()  # fmt: skip
    snoozed = http.post(f"/incidents/{incident['id']}/snooze", json={"duration": 3600})
    assert snoozed.status_code == 201
    (action,) = snoozed.json()["incident"]["pending_actions"]
    assert action["type"] == "unacknowledge"
    at = datetime.fromisoformat(action["at"].replace("Z", "+00:00"))
    created = datetime.fromisoformat(incident["created_at"].replace("Z", "+00:00"))
    assert 3590 <= (at - created).total_seconds() <= 3600 + 600  # generous: machine load


class Receiver:
    """A real HTTP server on 127.0.0.1 recording the webhooks it receives."""

    def __init__(self) -> None:
        self.received: list[tuple[dict[str, str], bytes]] = []
        received = self.received

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers["Content-Length"]))
                received.append((dict(self.headers), body))
                self.send_response(202)
                self.end_headers()

            def log_message(self, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/hook"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def events(self, count: int, timeout: float = 20.0) -> list[str]:
        deadline = time.monotonic() + timeout
        while len(self.received) < count and time.monotonic() < deadline:
            time.sleep(0.02)
        return [json.loads(body)["event"]["event_type"] for _, body in self.received]


def test_a_webhook_subscription_from_creation_to_deletion(
    http: httpx2.Client, local_pagerduty: LocalPagerDuty
) -> None:
    receiver = Receiver()
    try:
        made = http.post("/webhook_subscriptions", json={"webhook_subscription": {
            "type": "webhook_subscription", "events": ["incident.triggered"],
            "delivery_method": {"type": "http_delivery_method", "url": receiver.url},
            "filter": {"type": "account_reference"}}}).json()["webhook_subscription"]  # fmt: skip
        secret = made["delivery_method"]["secret"]
        hook = f"/webhook_subscriptions/{made['id']}"
        assert "secret" not in http.get(hook).json()["webhook_subscription"]["delivery_method"]

        assert http.post(f"{hook}/ping").status_code == 202
        assert receiver.events(1) == ["pagey.ping"]
        headers, body = receiver.received[0]
        assert headers["X-PagerDuty-Signature"] == sign(body, secret)

        off = http.put(hook, json={"webhook_subscription": {"active": False}})
        assert off.json()["webhook_subscription"]["active"] is False
        page(http, local_pagerduty, "while-off")
        assert http.post(f"{hook}/enable").json()["webhook_subscription"]["active"] is True
        page(http, local_pagerduty, "while-on")
        assert receiver.events(2) == ["pagey.ping", "incident.triggered"]
        delivered = json.loads(receiver.received[1][1])["event"]["data"]
        assert delivered["incident_key"] == "while-on"  # nothing was sent while it was off

        assert http.delete(hook).status_code == 204
        assert http.get(hook).status_code == 404
    finally:
        receiver.server.shutdown()
