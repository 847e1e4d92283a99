"""Every implemented operation's responses, success and error, validate against PagerDuty's own
OpenAPI descriptions (../shared/reference/pagerduty-openapi/, from PagerDuty/api-schema).

Four places of the published REST description contradict themselves so that no real object can
validate; ``openapi_spec.SPEC_DEFECTS`` lists them with the smallest repair. Nothing else is
changed.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx2
import pytest
from openapi_core import Config, OpenAPI
from openapi_core.testing import MockRequest, MockResponse

from ads.sources.pagerduty import PagerDuty
from pagerduty_local import LocalPagerDuty

from .openapi_spec import repaired


def _load(path: Path, *, defects: bool = False) -> OpenAPI:
    spec = repaired(path) if defects else json.loads(path.read_text())
    # the description itself fails the spec validator (a string default on an integer); we
    # validate responses against it, not the description against the OpenAPI meta-schema
    return OpenAPI.from_dict(spec, config=Config(spec_validator_cls=None))


@pytest.fixture(scope="module")
def rest_spec(pagerduty_reference: Path) -> OpenAPI:
    return _load(pagerduty_reference / "pagerduty-openapi" / "rest-v2.openapiv3.json", defects=True)


@pytest.fixture(scope="module")
def events_spec(pagerduty_reference: Path) -> OpenAPI:
    return _load(pagerduty_reference / "pagerduty-openapi" / "events-v2.openapiv3.json")


@pytest.fixture
def http(local_pagerduty: LocalPagerDuty) -> Iterator[httpx2.Client]:
    with httpx2.Client(
        base_url=local_pagerduty.api_url,
        verify=local_pagerduty.ssl_context(),
        headers={
            "Authorization": f"Token token={local_pagerduty.token}",
            "Accept": "application/vnd.pagerduty+json;version=2",
        },
    ) as client:
        yield client


def _check(spec: OpenAPI, host: str, response: httpx2.Response, path: str) -> None:
    request = response.request
    query = {k: v for k, v in request.url.params.multi_items()}
    mock_request = MockRequest(
        host,
        request.method.lower(),
        path,
        args=query,
        headers={
            "Accept": "application/vnd.pagerduty+json;version=2",
            "Authorization": "Token token=x",
            "Content-Type": "application/json",
        },
        data=request.content or None,
    )
    mock_response = MockResponse(
        response.content, status_code=response.status_code, content_type="application/json"
    )
    try:
        spec.validate_response(mock_request, mock_response)
    except Exception as exc:
        if "Unknown response http status" not in str(exc):
            _fail(request.method, path, response, exc)
            return
        # PUT /incidents/{id} answers 400 to a bad change, as PagerDuty does, but its description
        # lists no 400; a family this account lacks answers 402 (the description's
        # PaymentRequired) where its operation lists only 403: check the body has PagerDuty's
        # generic error shape instead
        error = response.json()["error"]
        assert (response.status_code, request.method) in {(400, "PUT"), (402, "GET")}, str(exc)
        assert isinstance(error["code"], int) and isinstance(error["message"], str)


def _fail(method: str, path: str, response: httpx2.Response, exc: Exception) -> None:
    """A readable failure: the schema errors deep inside openapi-core's exception."""
    details = [
        (list(sub.absolute_path), sub.message[:200])
        for e in getattr(exc.__cause__, "schema_errors", [])
        for sub in (e.context or [e])
    ][:6]
    pytest.fail(f"{method} {path} → {response.status_code}: {exc!s:.300} {details}")


def test_rest_operations_match_pagerduty_openapi(
    local_pagerduty: LocalPagerDuty,
    pagerduty_client: PagerDuty,
    http: httpx2.Client,
    rest_spec: OpenAPI,
) -> None:
    key = local_pagerduty.routing_key("ads-demo-service")
    pagerduty_client.change_event(key, "deploy abc123", source="ci", custom_details={"sha": "a"})
    pagerduty_client.trigger(
        key, "OOMKilled", "ads-demo-service", dedup_key="oa", custom_details={"exit_code": 137}
    )
    pagerduty_client.trigger(key, "OOMKilled again", "ads-demo-service", dedup_key="oa")
    incident = http.get("/incidents").json()["incidents"][0]["id"]
    host = "https://api.pagerduty.com"
    calls: list[tuple[str, str, dict[str, Any] | None, int]] = [
        ("GET", "/incidents", None, 200),
        ("GET", "/incidents?statuses[]=triggered&limit=1&total=true", None, 200),
        ("GET", f"/incidents/{incident}", None, 200),
        ("GET", f"/incidents/{incident}/alerts", None, 200),
        ("GET", f"/incidents/{incident}/log_entries", None, 200),
        ("POST", f"/incidents/{incident}/notes", {"note": {"content": "diagnosis"}}, 200),
        ("GET", f"/incidents/{incident}/notes", None, 200),
        ("GET", f"/incidents/{incident}/related_change_events", None, 200),
        (
            "PUT",
            f"/incidents/{incident}",
            {"incident": {"type": "incident_reference", "escalation_level": 2}},
            200,
        ),
        (
            "PUT",
            f"/incidents/{incident}",
            {"incident": {"type": "incident_reference", "status": "acknowledged"}},
            200,
        ),
        ("GET", "/services", None, 200),
        ("GET", "/services/PV0DEMO", None, 200),
        ("GET", "/services/PV0DEMO/change_events", None, 200),
        ("GET", "/escalation_policies", None, 200),
        ("GET", "/escalation_policies/PE0DEMO", None, 200),
        ("GET", "/oncalls?escalation_policy_ids[]=PE0DEMO&earliest=true", None, 200),
        ("GET", "/schedules", None, 200),
        ("GET", "/schedules/PS0PRIM", None, 200),
        ("GET", "/users", None, 200),
        ("GET", "/users/PU0ALCE?include[]=contact_methods", None, 200),
        ("GET", "/users/me", None, 200),
        ("GET", "/users/PU0ALCE/contact_methods", None, 200),
        ("GET", "/teams", None, 200),
        ("GET", "/teams/PT0SRE1", None, 200),
        ("GET", "/change_events", None, 200),
        ("GET", "/log_entries", None, 200),
        ("GET", "/webhook_subscriptions", None, 200),
        (
            "POST",
            "/webhook_subscriptions",
            {
                "webhook_subscription": {
                    "type": "webhook_subscription",
                    "delivery_method": {
                        "type": "http_delivery_method",
                        "url": "https://example.com/h",
                    },
                    "events": ["incident.triggered"],
                    "filter": {"type": "account_reference"},
                }
            },
            200,
        ),
        # errors
        ("GET", "/incidents/PNOSUCH", None, 404),
        ("GET", "/incidents?offset=-1", None, 400),
        ("PUT", f"/incidents/{incident}", {"incident": {"status": "sleeping"}}, 400),
        ("POST", f"/incidents/{incident}/notes", {"note": {"content": ""}}, 400),
        ("GET", "/services/PNOSUCH", None, 404),
        ("GET", "/users/PNOSUCH", None, 404),
        (
            "PUT",
            f"/incidents/{incident}",
            {"incident": {"type": "incident_reference", "status": "resolved"}},
            200,
        ),
    ]
    for method, url, body, status in calls:
        response = http.request(method, url, json=body)
        assert response.status_code == status, (method, url, response.text)
        _check(rest_spec, host, response, url.split("?")[0])
    unauthorized = http.get("/incidents", headers={"Authorization": "Token token=wrong"})
    assert unauthorized.status_code == 401
    _check(rest_spec, host, unauthorized, "/incidents")


def test_events_operations_match_pagerduty_openapi(
    local_pagerduty: LocalPagerDuty, http: httpx2.Client, events_spec: OpenAPI
) -> None:
    key = local_pagerduty.routing_key("ads-demo-service")
    payload = {"summary": "OOMKilled", "source": "w", "severity": "critical"}
    cases: list[tuple[str, dict[str, Any], int]] = [
        ("/enqueue", {"routing_key": key, "event_action": "trigger", "payload": payload}, 202),
        (
            "/enqueue",
            {"routing_key": key, "event_action": "trigger", "dedup_key": "d", "payload": payload},
            202,
        ),
        ("/enqueue", {"routing_key": key, "event_action": "acknowledge", "dedup_key": "d"}, 202),
        ("/enqueue", {"routing_key": key, "event_action": "resolve", "dedup_key": "d"}, 202),
        ("/change/enqueue", {"routing_key": key, "payload": {"summary": "deploy"}}, 202),
        (
            "/enqueue",
            {
                "routing_key": key,
                "event_action": "trigger",
                "payload": {**payload, "severity": "fatal"},
            },
            400,
        ),
        ("/change/enqueue", {"routing_key": "x" * 32, "payload": {"summary": "deploy"}}, 400),
    ]
    for path, body, status in cases:
        response = http.post(f"/v2{path}", json=body)
        assert response.status_code == status, (path, response.text)
        _check(events_spec, "https://events.pagerduty.com/v2", response, f"/v2{path}")


def test_incident_response_writes_match_pagerduty_openapi(
    local_pagerduty: LocalPagerDuty, http: httpx2.Client, rest_spec: OpenAPI
) -> None:
    """Every write of the incident-response surface, and the reads they make possible, with
    real objects: each answer validates against PagerDuty's description."""
    host = "https://api.pagerduty.com"
    key = local_pagerduty.routing_key("ads-demo-service")
    event = {
        "routing_key": key,
        "event_action": "trigger",
        "links": [{"href": "https://grafana.example.com/d/1", "text": "memory"}],
        "images": [{"src": "https://grafana.example.com/m.png", "alt": "memory"}],
        "payload": {"summary": "OOMKilled", "source": "w", "severity": "critical"},
    }
    http.post("/v2/enqueue", json=event).raise_for_status()
    http.post("/v2/change/enqueue", json={"routing_key": key, "payload": {"summary": "deploy"}})

    def call(method: str, url: str, body: dict[str, Any] | None = None, status: int = 200) -> Any:
        response = http.request(method, url, json=body, headers={"From": "alice@example.com"})
        assert response.status_code == status, (method, url, response.text)
        if response.content:
            _check(rest_spec, host, response, url.split("?")[0])
            return response.json()
        return None

    paged = call("GET", "/incidents")["incidents"][0]["id"]
    alert = call("GET", f"/incidents/{paged}/alerts")["alerts"][0]
    assert [c["type"] for c in alert["body"]["contexts"]] == ["link", "image"]
    call("GET", f"/incidents/{paged}/alerts/{alert['id']}")
    call("PUT", f"/incidents/{paged}/alerts/{alert['id']}",
         {"alert": {"type": "alert", "status": "resolved"}})  # fmt: skip
    service = {"id": "PV0DEMO", "type": "service_reference"}
    made = call("POST", "/incidents", {"incident": {
        "type": "incident", "title": "Checkout slow", "service": service, "urgency": "low",
        "body": {"type": "incident_body", "details": "p99 4 s"}}}, 201)["incident"]  # fmt: skip
    again = {"type": "incident", "title": "Checkout slow again", "service": service}
    other = call("POST", "/incidents", {"incident": again}, 201)["incident"]
    call("PUT", f"/incidents/{made['id']}", {"incident": {
        "type": "incident_reference", "title": "Checkout very slow", "urgency": "high",
        "priority": {"id": "PPRIO02", "type": "priority_reference"},
        "escalation_policy": {"id": "PE0DEMO", "type": "escalation_policy_reference"},
    }})  # fmt: skip
    call("PUT", "/incidents", {"incidents": [
        {"id": made["id"], "type": "incident_reference", "status": "acknowledged"},
        {"id": other["id"], "type": "incident_reference", "urgency": "low"}]})  # fmt: skip
    call("POST", f"/incidents/{made['id']}/snooze", {"duration": 600}, 201)
    call("POST", f"/incidents/{made['id']}/responder_requests", {
        "requester_id": "PU0ALCE", "message": "join?",
        "responder_request_targets": [{"responder_request_target": {
            "id": "PU0BOBB", "type": "user_reference"}}]})  # fmt: skip
    call("PUT", f"/incidents/{made['id']}/merge",
         {"source_incidents": [{"id": other["id"], "type": "incident_reference"}]})  # fmt: skip
    call("GET", f"/incidents/{made['id']}/past_incidents?limit=3&total=true")
    call("GET", f"/incidents/{made['id']}/related_incidents")
    call("GET", f"/incidents/{made['id']}/outlier_incident")
    call("GET", "/priorities")
    change = call("GET", "/change_events")["change_events"][0]["id"]
    call("GET", f"/change_events/{change}")
    integration = call("GET", "/services/PV0DEMO")["service"]["integrations"][0]["id"]
    call("GET", f"/services/PV0DEMO/integrations/{integration}")

    team = call("POST", "/teams", {"team": {"type": "team", "name": "Payments"}}, 201)["team"]
    call("PUT", f"/teams/{team['id']}", {"team": {"type": "team", "name": "Payments SRE"}})
    call("PUT", f"/teams/{team['id']}/users/PU0ALCE", {"role": "responder"}, 204)
    call("GET", f"/teams/{team['id']}/members")
    call("DELETE", f"/teams/{team['id']}/users/PU0ALCE", None, 204)
    policy_body = {"escalation_policy": {
        "type": "escalation_policy", "name": "Payments", "escalation_rules": [{
            "escalation_delay_in_minutes": 10,
            "targets": [{"id": "PU0ALCE", "type": "user_reference"}]}]}}  # fmt: skip
    policy = call("POST", "/escalation_policies", policy_body, 201)["escalation_policy"]
    call("PUT", f"/escalation_policies/{policy['id']}",
         {"escalation_policy": {"type": "escalation_policy", "name": "Payments 24/7"}})  # fmt: skip
    created = call("POST", "/services", {"service": {
        "type": "service", "name": "checkout",
        "escalation_policy": {"id": policy["id"], "type": "escalation_policy_reference"}}},
        201)["service"]  # fmt: skip
    call("PUT", f"/services/{created['id']}",
         {"service": {"type": "service", "description": "checkout API"}})  # fmt: skip
    call("GET", f"/service_dependencies/technical_services/{created['id']}")
    call("DELETE", f"/services/{created['id']}", None, 204)
    call("DELETE", f"/escalation_policies/{policy['id']}", None, 204)
    call("DELETE", f"/teams/{team['id']}", None, 204)
    user = call("POST", "/users", {"user": {
        "type": "user", "name": "Dana", "email": "dana@example.com"}}, 201)["user"]  # fmt: skip
    call("PUT", f"/users/{user['id']}", {"user": {"type": "user", "job_title": "SRE"}})
    call("GET", f"/users/{user['id']}/contact_methods/{user['id']}E")
    call("GET", f"/users/{user['id']}/notification_rules")
    call("DELETE", f"/users/{user['id']}", None, 204)
    schedule = call("POST", "/schedules", {"schedule": {
        "type": "schedule", "name": "Weekend", "time_zone": "UTC", "schedule_layers": [{
            "start": "2026-11-30T00:00:00Z", "rotation_virtual_start": "2026-11-30T00:00:00Z",
            "rotation_turn_length_seconds": 86400,
            "users": [{"user": {"id": "PU0ALCE", "type": "user_reference"}}]}]}},
        201)["schedule"]  # fmt: skip
    call("PUT", f"/schedules/{schedule['id']}",
         {"schedule": {"type": "schedule", "name": "Weekend cover"}})  # fmt: skip
    call("GET", f"/schedules/{schedule['id']}/users")
    call("POST", f"/schedules/{schedule['id']}/overrides", {"overrides": [{
        "start": "2026-12-05T00:00:00Z", "end": "2026-12-06T00:00:00Z",
        "user": {"id": "PU0BOBB", "type": "user_reference"}}]}, 201)  # fmt: skip
    call("GET", f"/schedules/{schedule['id']}/overrides?since=2026-12-01&until=2026-12-31")
    call("DELETE", f"/schedules/{schedule['id']}", None, 204)

    hook = call("POST", "/webhook_subscriptions", {"webhook_subscription": {
        "type": "webhook_subscription", "events": ["incident.triggered"],
        "delivery_method": {"type": "http_delivery_method", "url": "https://example.com/h"},
        "filter": {"type": "account_reference"}}})["webhook_subscription"]  # fmt: skip
    call("GET", f"/webhook_subscriptions/{hook['id']}")
    call("PUT", f"/webhook_subscriptions/{hook['id']}",
         {"webhook_subscription": {"description": "bridge", "active": False}})  # fmt: skip
    call("POST", f"/webhook_subscriptions/{hook['id']}/enable")
    call("POST", f"/webhook_subscriptions/{hook['id']}/ping", None, 202)
    call("DELETE", f"/webhook_subscriptions/{hook['id']}", None, 204)
    call("GET", "/abilities")
    # errors, and the families this account lacks
    call("POST", "/incidents", {"incident": {"type": "incident", "title": ""}}, 400)
    call("PUT", "/incidents", {"incidents": [{"id": "PNOSUCH", "status": "resolved"}]}, 400)
    call("GET", "/event_orchestrations", None, 402)
    call("GET", "/status_pages", None, 402)
    call("GET", "/business_services", None, 402)
