"""``ads serve``'s webhook receiver, over real HTTP: signatures, bad input, one job per incident.

The job handler here is ADS's own handler protocol (a callable taking a Job) recording what it
was given; the end-to-end test with the real ``workflow.respond`` lives with the demo flow.
"""

from __future__ import annotations

import json
import ssl
import threading
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import httpx2
import pytest

from ads.errors import TemporaryError
from ads.interfaces.http_server import BackgroundServer
from ads.interfaces.webhook import WebhookService, sign, verify_signature
from ads.sources.storage import Job, Store
from pagerduty_local import sign as local_pagerduty_sign

SECRET = "whsec-current"
OLD_SECRET = "whsec-previous"


def envelope(event_type: str = "incident.triggered", service: str = "ads-demo-service") -> bytes:
    return json.dumps(
        {
            "event": {
                "id": "01EVENT",
                "event_type": event_type,
                "resource_type": "incident",
                "occurred_at": "2026-11-25T04:00:00Z",
                "data": {
                    "id": "PINC001",
                    "type": "incident",
                    "number": 1,
                    "service": {"id": "PSVC1", "summary": service, "type": "service_reference"},
                },
            }
        }
    ).encode()


class Recorder:
    def __init__(self, fail_first: int = 0) -> None:
        self.jobs: list[Job] = []
        self.fail_first = fail_first
        self.lock = threading.Lock()

    def __call__(self, job: Job) -> None:
        with self.lock:
            if self.fail_first > 0:
                self.fail_first -= 1
                raise TemporaryError("PagerDuty unreachable", delay=0.0)
            self.jobs.append(job)


@pytest.fixture
def service(tmp_path: Path) -> WebhookService:
    return WebhookService(
        store=Store(tmp_path / "ads.db"),
        secrets=[SECRET, OLD_SECRET],
        handler=Recorder(),
        services=lambda name: name == "ads-demo-service",
        poll_interval=0.02,
    )


@pytest.fixture
def url(service: WebhookService) -> Iterator[str]:
    with BackgroundServer(service.app()) as server:
        yield server.url + "/webhooks/pagerduty"


VERIFY = ssl.create_default_context()  # once: a client made per post would load the CAs again


def post(url: str, body: bytes, signature: str | None) -> httpx2.Response:
    headers = {"content-type": "application/json"}
    if signature is not None:
        headers["x-pagerduty-signature"] = signature
    return httpx2.post(url, content=body, headers=headers, timeout=10, verify=VERIFY)


def test_signature_rules() -> None:
    body = envelope()
    assert verify_signature(body, sign(body, SECRET), [SECRET])
    assert verify_signature(body, f"v1=deadbeef,{sign(body, SECRET)}", [SECRET])
    assert not verify_signature(body, sign(body, "wrong"), [SECRET])
    assert not verify_signature(body + b" ", sign(body, SECRET), [SECRET])
    assert not verify_signature(body, sign(body, SECRET).replace("v1=", "v0="), [SECRET])
    assert not verify_signature(body, None, [SECRET])
    assert not verify_signature(body, sign(body, SECRET), [])


def test_the_local_pagerduty_signs_as_ads_verifies() -> None:
    body = envelope()
    header = local_pagerduty_sign(body, SECRET)
    assert header == sign(body, SECRET)
    assert verify_signature(body, f"{local_pagerduty_sign(body, 'old')},{header}", [SECRET])


@pytest.mark.parametrize(
    ("case", "body", "signer", "status"),
    [
        ("forged", envelope(), lambda b: "v1=" + "0" * 64, 401),
        ("missing header", envelope(), lambda b: None, 401),
        ("wrong secret", envelope(), lambda b: sign(b, "not-ours"), 401),
        ("malformed json", b"{not json", lambda b: sign(b, SECRET), 400),
        ("unknown event type", envelope("incident.exploded"), lambda b: sign(b, SECRET), 202),
        ("oversize", b"x" * (600 * 1024), lambda b: sign(b, SECRET), 413),
        ("unknown service", envelope(service="billing"), lambda b: sign(b, SECRET), 202),
        ("not handled", envelope("incident.resolved"), lambda b: sign(b, SECRET), 202),
    ],
)
def test_bad_deliveries_do_nothing(
    service: WebhookService, url: str, case: str, body: bytes, signer: object, status: int
) -> None:
    response = post(url, body, signer(body))  # type: ignore[operator]
    assert response.status_code == status, case
    assert service.store.jobs() == []


def test_rotated_secret_is_accepted(service: WebhookService, url: str) -> None:
    body = envelope()
    assert post(url, body, sign(body, OLD_SECRET)).status_code == 202
    assert [j.incident_id for j in service.store.jobs()] == ["PINC001"]


def test_twenty_concurrent_deliveries_make_one_job_worked_once(
    service: WebhookService, url: str
) -> None:
    body = envelope()
    with ThreadPoolExecutor(max_workers=20) as pool:
        statuses = list(pool.map(lambda _: post(url, body, sign(body, SECRET)).json()["status"],
                                 range(20)))  # fmt: skip
    assert sorted(set(statuses)) == ["duplicate", "queued"] and statuses.count("queued") == 1
    while service.work_one():
        pass
    recorder = service.handler
    assert isinstance(recorder, Recorder)
    assert [j.incident_id for j in recorder.jobs] == ["PINC001"]
    (job,) = service.store.jobs()
    assert (job.status, job.deliveries) == ("done", 20)


def test_temporary_failure_is_retried_not_lost(tmp_path: Path) -> None:
    recorder = Recorder(fail_first=1)
    service = WebhookService(
        store=Store(tmp_path / "ads.db"), secrets=[SECRET], handler=recorder,
        services=lambda name: True, retry_seconds=0.0,
    )  # fmt: skip
    service.store.enqueue_job("PINC9", "incident.triggered", {})
    assert service.work_one()  # fails temporarily, retry_job with delay 0
    assert service.work_one()  # worked
    assert [j.incident_id for j in recorder.jobs] == ["PINC9"]
    assert service.store.jobs()[0].status == "done"


def test_retries_back_off_honour_the_asked_delay_and_are_bounded(tmp_path: Path) -> None:
    service = WebhookService(
        store=Store(tmp_path / "ads.db"), secrets=[SECRET], handler=Recorder(fail_first=99),
        services=lambda name: True, retry_seconds=10.0, max_retry_seconds=3600.0,
    )  # fmt: skip
    assert [service.retry_delay(n, 0.0) for n in (1, 2, 3)] == [10.0, 20.0, 40.0]
    assert service.retry_delay(1, 600.0) == 600.0  # GitHub's Retry-After wins when longer
    assert service.retry_delay(1, 10**6) == 3600.0
    service.retry_seconds = 0.0
    service.store.enqueue_job("PINC10", "incident.triggered", {})
    while service.work_one():
        pass
    (job,) = service.store.jobs()
    assert (job.status, job.attempts) == ("failed", 5)
    assert job.error == "gave up after 5 attempts: PagerDuty unreachable"


def test_health_and_jobs_listing(service: WebhookService, url: str) -> None:
    body = envelope()
    post(url, body, sign(body, SECRET))
    base = url.removesuffix("/webhooks/pagerduty")
    assert httpx2.get(base + "/healthz").json()["status"] == "ok"
    assert httpx2.get(base + "/jobs").json()["jobs"][0]["incident"] == "PINC001"
