"""Correctly signed junk at ``ads serve``'s webhook endpoint: never a 5xx, never a job.

Issue 12 point 6: 82 of 4,000 fuzzed, correctly signed bodies were 500s (a non-object
``data.service``, a missing ``data.id``, JSON nested 1,000 deep), which PagerDuty retries for
48 hours. Here Hypothesis mutates a good ``incident.triggered`` (one field replaced by arbitrary
JSON, removed, or nested deep; or arbitrary JSON, or bytes), signs it, posts it to the real
receiver over loopback, and checks the answer and the job store: every answer is a 202 or a
400 with a reason; a job exists only for a body that is an ``incident.triggered`` of the
configured service with a usable incident id. ``bench/fuzz_webhooks.py`` runs 10^5 of them.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from typing import Any

import httpx2
import pytest
from hypothesis import given, settings

from ads.interfaces.http_server import BackgroundServer
from ads.interfaces.webhook import WebhookService, sign
from ads.sources.storage import Store
from tests.strategies import FUZZ, mutated

SECRET = "whsec-fuzz"
SERVICE = "ads-demo-service"
VALID: dict[str, Any] = {
    "event": {
        "id": "01EVENT",
        "event_type": "incident.triggered",
        "resource_type": "incident",
        "occurred_at": "2026-11-25T04:00:00Z",
        "agent": None,
        "client": None,
        "data": {
            "id": "PINC001",
            "type": "incident",
            "number": 1,
            "title": "OOMKilled",
            "service": {"id": "PSVC1", "summary": SERVICE, "type": "service_reference"},
        },
    }
}


def triggered_incident(document: Any) -> str | None:
    """The incident id if ``document`` is an ``incident.triggered`` of the configured service
    whose id could be a PagerDuty id: the only bodies that may make a job."""
    try:
        event = document["event"]
        data = event["data"]
        if event["event_type"] != "incident.triggered" or data["service"]["summary"] != SERVICE:
            return None
        incident_id = data["id"]
    except (KeyError, TypeError, IndexError):
        return None
    ok = isinstance(incident_id, str) and re.fullmatch(r"[A-Za-z0-9]{1,64}", incident_id)
    return incident_id if ok else None


@pytest.fixture(scope="module")
def receiver(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[WebhookService, str]]:
    store = Store(tmp_path_factory.mktemp("fuzz") / "ads.db")
    service = WebhookService(
        store=store, secrets=[SECRET], handler=lambda job: None,
        services=lambda name: name == SERVICE,
    )  # fmt: skip
    with BackgroundServer(service.app()) as server:
        yield service, server.url + "/webhooks/pagerduty"


@pytest.fixture(scope="module")
def http() -> Iterator[httpx2.Client]:
    with httpx2.Client(timeout=30) as client:
        yield client


@settings(FUZZ, max_examples=250)
@given(case=mutated(VALID))
def test_signed_junk_is_never_a_5xx_nor_a_job(
    receiver: tuple[WebhookService, str], http: httpx2.Client, case: tuple[Any, bytes, str]
) -> None:
    service, url = receiver
    document, body, what = case
    before = {j.incident_id for j in service.store.jobs()}
    response = http.post(url, content=body, headers={"x-pagerduty-signature": sign(body, SECRET)})
    after = {j.incident_id for j in service.store.jobs()}
    assert response.status_code in (202, 400), (what, response.status_code, response.text)
    reply = response.json()
    if response.status_code == 400:
        assert reply["error"].startswith("not a PagerDuty v3 webhook: "), reply
    expected = triggered_incident(document) if document is not None else None
    if reply.get("status") in ("queued", "duplicate"):
        assert expected is not None and reply["incident"] == expected, (what, reply)
        assert expected in after
    else:
        assert after == before, (what, reply)
    if what == "valid":
        assert response.status_code == 202 and expected in after


@pytest.mark.parametrize(
    ("change", "reason"),
    [
        ({"service": "ads-demo-service"}, "event.data.service"),
        ({"service": ["ads-demo-service"]}, "event.data.service"),
        ({"service": 7}, "event.data.service"),
        ({"service": True}, "event.data.service"),
        ({"service": {"summary": 7}}, "event.data.service.summary"),
        ({"id": None}, "event.data.id"),
        ({"id": "Q" * 100_000}, "event.data.id"),
        ({"id": "../../etc"}, "event.data.id"),
    ],
)
def test_the_issue_s_bodies_are_400_with_the_field(
    receiver: tuple[WebhookService, str], http: httpx2.Client, change: dict[str, Any], reason: str
) -> None:
    service, url = receiver
    document = json.loads(json.dumps(VALID))
    document["event"]["data"].update(change)
    body = json.dumps(document).encode()
    before = service.store.jobs()
    response = http.post(url, content=body, headers={"x-pagerduty-signature": sign(body, SECRET)})
    assert response.status_code == 400
    assert response.json()["error"].startswith(f"not a PagerDuty v3 webhook: {reason}: ")
    assert len(response.text) < 600
    assert service.store.jobs() == before


@pytest.mark.parametrize("depth", [65, 1000, 100_000])
def test_deep_nesting_is_400(
    receiver: tuple[WebhookService, str], http: httpx2.Client, depth: int
) -> None:
    service, url = receiver
    before = service.store.jobs()
    body = b'{"event": ' + b"[" * depth + b"]" * depth + b"}"
    response = http.post(url, content=body, headers={"x-pagerduty-signature": sign(body, SECRET)})
    assert response.status_code == 400
    assert "nested deeper than 64 levels" in response.json()["error"]
    assert service.store.jobs() == before


def test_missing_data_id_and_unknown_types(
    receiver: tuple[WebhookService, str], http: httpx2.Client
) -> None:
    def post(document: Any) -> httpx2.Response:
        body = json.dumps(document).encode()
        return http.post(url, content=body, headers={"x-pagerduty-signature": sign(body, SECRET)})

    service, url = receiver
    before = service.store.jobs()
    missing = json.loads(json.dumps(VALID))
    del missing["event"]["data"]["id"]
    assert post(missing).status_code == 400
    future = json.loads(json.dumps(VALID))
    future["event"]["event_type"] = "incident.something_new"
    answer = post(future)
    assert answer.status_code == 202 and answer.json()["status"] == "ignored"
    assert service.store.jobs() == before
