"""Schemathesis against the local server with PagerDuty's own REST description: for every
operation the server implements, generated requests (valid ones, from the description's schemas)
never get a 5xx, and every answer the description describes matches its schema.

Bounded: a few examples per operation (``EXAMPLES``), no shrinking, no example database, and a
time budget for the whole run (``BUDGET_SECONDS``; operations left when it is spent are named
in the failure, so a slow machine shows up as a failure, not as a silent pass). The families the
account lacks (402) are left out: they implement nothing.
"""

from __future__ import annotations

import re
import time
from pathlib import Path
from typing import Any

import httpx2
import pytest
import schemathesis
from hypothesis import HealthCheck, Phase, given, settings
from schemathesis.checks import not_a_server_error, response_schema_conformance

from pagerduty_local import LocalPagerDuty
from pagerduty_local.app import create_app
from pagerduty_local.routes_unavailable import FAMILIES

from .openapi_spec import repaired

EXAMPLES = 3
BUDGET_SECONDS = 600  # ~24 s on 2 cores; the bound only stops a runaway, never races the load


def _template(path: str) -> str:
    return re.sub(r"\{[^}]+\}", "{}", path)


def implemented(spec: dict[str, Any]) -> list[tuple[str, str]]:
    """(method, path) of every operation of the description the local server routes, outside
    the families it answers 402 for."""
    app = create_app(":memory:")
    routed = {
        (method, _template(route.path))
        for route in app.routes
        for method in getattr(route, "methods", None) or []
        if not route.path.startswith(("/web", "/v2/"))
    }
    return sorted(
        (method.upper(), path)
        for path, operations in spec["paths"].items()
        for method in operations
        if (method.upper(), _template(path)) in routed and not path.startswith(tuple(FAMILIES))
    )


# The objects the generated requests act on (the demo account's), so that they reach the
# handlers' real work rather than a 404 for a random id.
OBJECTS = {
    "/services/": "PV0DEMO",
    "/users/": "PU0ALCE",
    "/teams/": "PT0SRE1",
    "/schedules/": "PS0PRIM",
    "/escalation_policies/": "PE0DEMO",
    "/service_dependencies/technical_services/": "PV0DEMO",
}


def path_parameters(path: str, known: dict[str, str]) -> dict[str, str]:
    """Real ids for ``path``'s parameters: ``{id}`` by the collection it follows, the others
    by name (``user_id``, ``alert_id``, …); a parameter not known stays generated."""
    found: dict[str, str] = {}
    for prefix, object_id in {**OBJECTS, "/incidents/": known["incident"]}.items():
        if path.startswith(prefix + "{id}"):
            found["id"] = object_id
    for name in re.findall(r"\{([^}]+)\}", path):
        if name in known:
            found[name] = known[name]
    return found


def _objects(server: LocalPagerDuty, headers: dict[str, str]) -> dict[str, str]:
    """An incident (paged through Events API v2) and its alert, and ids of the demo account."""
    with httpx2.Client(base_url=server.api_url, verify=server.ssl_context(), headers=headers) as h:
        h.post("/v2/enqueue", json={
            "routing_key": server.routing_key("ads-demo-service"), "event_action": "trigger",
            "payload": {"summary": "OOMKilled", "source": "w", "severity": "critical"},
        }).raise_for_status()  # fmt: skip
        incident = h.get("/incidents").json()["incidents"][0]["id"]
        alert = h.get(f"/incidents/{incident}/alerts").json()["alerts"][0]["id"]
    return {
        "incident": incident,
        "alert_id": alert,
        "user_id": "PU0BOBB",
        "contact_method_id": "PU0ALCEE",
        "notification_rule_id": "PU0ALCEN",
        "integration_id": "PI0EVT2",
    }


def _fuzz(
    operation: Any,
    method: str,
    path: str,
    server: LocalPagerDuty,
    headers: dict[str, str],
    failures: list[str],
    known: dict[str, str],
) -> Any:
    """A Hypothesis test calling ``operation`` with generated cases, failures recorded."""

    @settings(
        max_examples=EXAMPLES,
        deadline=None,
        database=None,
        derandomize=True,
        phases=[Phase.explicit, Phase.generate],
        suppress_health_check=list(HealthCheck),
    )
    @given(case=operation.as_strategy(path_parameters=path_parameters(path, known)))
    def run(case: Any) -> None:
        response = case.call(base_url=server.api_url, headers=headers, verify=str(server.ca_file))
        try:
            case.validate_response(
                response, checks=[not_a_server_error, response_schema_conformance]
            )
        except Exception as exc:
            failures.append(f"{method} {path} → {response.status_code}: {exc!s:.600}")

    return run


@pytest.mark.timeout(300)
def test_generated_requests_get_no_5xx_and_described_answers(
    pagerduty_reference: Path, tmp_path: Path
) -> None:
    spec = repaired(pagerduty_reference / "pagerduty-openapi" / "rest-v2.openapiv3.json")
    operations = implemented(spec)
    assert len(operations) >= 60, operations  # the incident-response surface is all there
    schema = schemathesis.openapi.from_dict(spec)
    failures: list[str] = []
    started = time.monotonic()
    with LocalPagerDuty(tmp_path / "pd", rate_limit=1_000_000) as server:
        headers = {
            "Authorization": f"Token token={server.token}",
            "From": server.from_email,
            "Accept": "application/vnd.pagerduty+json;version=2",
        }
        known = _objects(server, headers)
        # deletes last: what they remove, the other operations use
        left = sorted(operations, key=lambda op: op[0] == "DELETE")
        while left and time.monotonic() - started < BUDGET_SECONDS:
            method, path = left.pop(0)
            operation = schema[path][method]

            run = _fuzz(operation, method, path, server, headers, failures, known)
            try:
                run()
            except Exception as exc:
                if "Unsatisfiable" not in type(exc).__name__:
                    failures.append(f"{method} {path}: {type(exc).__name__}: {exc!s:.300}")
    assert failures == [], "\n\n".join(failures)
    assert left == [], f"time budget spent before {len(left)} operations: {left}"
