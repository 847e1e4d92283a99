"""Every implemented operation's responses, success and error, validate against PagerDuty's own
OpenAPI descriptions (../shared/reference/pagerduty-openapi/, from PagerDuty/api-schema).

Three places of the published REST description contradict themselves so that no real object can
validate; ``SPEC_DEFECTS`` lists them with the smallest repair. Nothing else is changed.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import httpx2
import pytest
from openapi_core import Config, OpenAPI
from openapi_core.testing import MockRequest, MockResponse

from ads.sources.pagerduty import PagerDuty
from pagerduty_local import LocalPagerDuty


def _one_of_as_any_of(node: dict[str, Any]) -> None:
    node["anyOf"] = node.pop("oneOf")


def _acknowledge_type(node: dict[str, Any]) -> None:
    node["properties"]["type"]["enum"] = ["acknowledge_log_entry"]


# Where PagerDuty's published description contradicts itself, so no real object can validate.
SPEC_DEFECTS: list[tuple[tuple[str | int, ...], Callable[[dict[str, Any]], None]]] = [
    # NagiosChannel/APIChannel/...: no required field, no discriminator → every channel matches all
    (("schemas", "Channel"), _one_of_as_any_of),
    # the two alternatives share all properties and require none
    (
        ("schemas", "Service", "allOf", 1, "properties", "alert_grouping_parameters"),
        _one_of_as_any_of,
    ),
    # LogEntry's own enum says acknowledge_log_entry (PagerDuty's real type); this says otherwise
    (("schemas", "AcknowledgeLogEntry", "allOf", 1), _acknowledge_type),
]


def _load(path: Path, *, defects: bool = False) -> OpenAPI:
    spec = json.loads(path.read_text())
    for where, fix in SPEC_DEFECTS if defects else []:
        node = spec["components"]
        for key in where:
            node = node[key]
        fix(node)
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
        # lists no 400: check the body has PagerDuty's generic error shape instead
        error = response.json()["error"]
        assert response.status_code == 400 and request.method == "PUT", str(exc)
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
