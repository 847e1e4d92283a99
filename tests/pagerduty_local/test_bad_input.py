"""Every bad input of the issue gets PagerDuty's status and error shape, and changes nothing."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx2
import pytest
import yaml

from pagerduty_local import DEMO_SEED, LocalPagerDuty
from pagerduty_local.store import IncidentQuery


@pytest.fixture
def http(local_pagerduty: LocalPagerDuty) -> Iterator[httpx2.Client]:
    with httpx2.Client(
        base_url=local_pagerduty.api_url,
        verify=local_pagerduty.ssl_context(),
        headers={"Authorization": f"Token token={local_pagerduty.token}"},
    ) as client:
        yield client


def _state(server: LocalPagerDuty) -> dict[str, Any]:
    store = server.app.state.pd.account.store
    tables = ("incidents", "alerts", "log_entries", "notes", "change_events")
    incidents, _ = store.query_incidents(IncidentQuery(), 0, 10000)
    return {"counts": {t: store.count(t) for t in tables}, "incidents": incidents}


def _event(server: LocalPagerDuty, **changes: Any) -> dict[str, Any]:
    event: dict[str, Any] = {
        "routing_key": server.routing_key("ads-demo-service"),
        "event_action": "trigger",
        "dedup_key": "bad-input",
        "payload": {"summary": "OOMKilled", "source": "worker", "severity": "critical"},
    }
    event.update(changes)
    return event


def _events_error(response: httpx2.Response) -> None:
    assert response.status_code == 400, response.text
    body = response.json()
    assert isinstance(body["status"], str) and isinstance(body["message"], str)
    assert body["errors"] and all(isinstance(e, str) for e in body["errors"])


EVENT_CASES = {
    "unknown routing key": lambda s: _event(s, routing_key="X" * 32),
    "short routing key": lambda s: _event(s, routing_key="short"),
    "missing summary": lambda s: _event(s, payload={"source": "w", "severity": "critical"}),
    "invalid severity": lambda s: _event(
        s, payload={"summary": "x", "source": "w", "severity": "fatal"}
    ),
    "missing payload": lambda s: _event(s, payload=None),
    "bad event_action": lambda s: _event(s, event_action="explode"),
    "resolve without dedup_key": lambda s: _event(s, event_action="resolve", dedup_key=None),
    "oversize payload": lambda s: _event(
        s,
        payload={
            "summary": "x",
            "source": "w",
            "severity": "critical",
            "custom_details": {"blob": "x" * (600 * 1024)},
        },
    ),
}


@pytest.mark.parametrize("case", sorted(EVENT_CASES))
def test_bad_events_are_400_and_change_nothing(
    local_pagerduty: LocalPagerDuty, http: httpx2.Client, case: str
) -> None:
    http.post("/v2/enqueue", json=_event(local_pagerduty))  # one incident exists already
    before = _state(local_pagerduty)
    response = http.post("/v2/enqueue", json=EVENT_CASES[case](local_pagerduty))
    _events_error(response)
    assert _state(local_pagerduty) == before


def test_malformed_json_event(local_pagerduty: LocalPagerDuty, http: httpx2.Client) -> None:
    before = _state(local_pagerduty)
    for path in ("/v2/enqueue", "/v2/change/enqueue"):
        response = http.post(
            path, content=b'{"routing_key": ', headers={"Content-Type": "application/json"}
        )
        _events_error(response)
        assert response.json()["errors"] == ["JSON parse error"]
    assert _state(local_pagerduty) == before


def _rest_error(response: httpx2.Response, status: int, code: int) -> None:
    assert response.status_code == status, response.text
    error = response.json()["error"]
    assert error["code"] == code and isinstance(error["message"], str)


@pytest.mark.parametrize(
    "params",
    [
        {"offset": "-1"},
        {"limit": "zero"},
        {"limit": "0"},
        {"offset": "9990", "limit": "100"},
        {"statuses[]": "sleeping"},
        {"since": "yesterday"},
    ],
)
def test_bad_pagination_and_filters(http: httpx2.Client, params: dict[str, str]) -> None:
    _rest_error(http.get("/incidents", params=params), 400, 2001)


def test_unknown_incident_id_everywhere(
    local_pagerduty: LocalPagerDuty, http: httpx2.Client
) -> None:
    before = _state(local_pagerduty)
    for method, path, body in [
        ("GET", "/incidents/PNOSUCH", None),
        (
            "PUT",
            "/incidents/PNOSUCH",
            {"incident": {"type": "incident_reference", "status": "resolved"}},
        ),
        ("GET", "/incidents/PNOSUCH/alerts", None),
        ("GET", "/incidents/PNOSUCH/log_entries", None),
        ("GET", "/incidents/PNOSUCH/notes", None),
        ("POST", "/incidents/PNOSUCH/notes", {"note": {"content": "x"}}),
        ("GET", "/services/PNOSUCH", None),
        ("GET", "/users/PNOSUCH", None),
        ("GET", "/no/such/path", None),
    ]:
        response = http.request(method, path, content=json.dumps(body) if body else None)
        _rest_error(response, 404, 2100)
    assert _state(local_pagerduty) == before


def test_bad_updates_and_notes_change_nothing(
    local_pagerduty: LocalPagerDuty, http: httpx2.Client
) -> None:
    http.post("/v2/enqueue", json=_event(local_pagerduty))
    incident = http.get("/incidents").json()["incidents"][0]["id"]
    before = _state(local_pagerduty)
    for body in [
        b"{not json",
        json.dumps({"incident": {"status": "sleeping"}}).encode(),
        json.dumps({"incident": {"escalation_level": 9}}).encode(),
        json.dumps({"incident": {"assignments": [{"assignee": {"id": "PNOBODY"}}]}}).encode(),
        json.dumps({}).encode(),
    ]:
        _rest_error(http.put(f"/incidents/{incident}", content=body), 400, 2001)
    for note in [{"note": {"content": "  "}}, {"note": {}}, {"nothing": 1}]:
        _rest_error(http.post(f"/incidents/{incident}/notes", json=note), 400, 2001)
    assert _state(local_pagerduty) == before


@pytest.mark.parametrize(
    ("path", "params", "needle"),
    [
        ("/oncalls", {"until": "9999-12-31T00:00:00Z"}, "at most 90 days in the future"),
        ("/oncalls", {"since": "2026-01-01T00:00:00Z", "until": "2027-01-01T00:00:00Z"},
         "may not exceed 90 days"),
        ("/oncalls", {"since": "0001-01-01T00:00:00Z"}, "may not exceed 90 days"),
        ("/schedules/PS0PRIM", {"since": "2026-01-01T00:00:00Z", "until": "9999-12-31T00:00:00Z"},
         "may not exceed 90 days"),
        ("/schedules/PS0PRIM", {"since": "9999-12-25T00:00:00Z"}, "since/until"),
        ("/schedules/PS0PRIM", {"until": "0001-01-02T00:00:00Z"}, "since must be before until"),
    ],
)  # fmt: skip
def test_time_ranges_are_bounded(
    http: httpx2.Client, path: str, params: dict[str, str], needle: str
) -> None:
    response = http.get(path, params=params)
    _rest_error(response, 400, 2001)
    assert needle in " ".join(response.json()["error"]["errors"]), response.text


def test_a_fine_grained_schedule_is_refused_not_rendered(tmp_path: Path) -> None:
    seed = yaml.safe_load(DEMO_SEED.read_text())
    for schedule in seed["schedules"]:
        schedule["rotation_turn_length_seconds"] = 1
    path = tmp_path / "seed.yaml"
    path.write_text(yaml.safe_dump(seed))
    with (
        LocalPagerDuty(tmp_path / "pd", seed=path) as server,
        httpx2.Client(
            base_url=server.api_url,
            verify=server.ssl_context(),
            headers={"Authorization": f"Token token={server.token}"},
        ) as client,
    ):
        week = client.get("/schedules/PS0PRIM")  # 7 days of one-second turns
        _rest_error(week, 400, 2001)
        assert "more than 10000 on-call turns" in " ".join(week.json()["error"]["errors"])
        assert client.get("/oncalls").status_code == 200  # now: one turn each
