"""``include[]``, ``sort_by`` and ``time_zone`` as a PagerDuty client uses them, and a schedule
override putting its user on call."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import httpx2
import pytest

from pagerduty_local import LocalPagerDuty


@pytest.fixture
def http(local_pagerduty: LocalPagerDuty) -> Iterator[httpx2.Client]:
    with httpx2.Client(
        base_url=local_pagerduty.api_url,
        verify=local_pagerduty.ssl_context(),
        headers={"Authorization": f"Token token={local_pagerduty.token}"},
    ) as client:
        for title, urgency in (("first", "high"), ("second", "low"), ("third", "high")):
            service = {"id": "PV0DEMO", "type": "service_reference"}
            incident = {"type": "incident", "title": title, "urgency": urgency, "service": service}
            client.post("/incidents", json={"incident": incident}).raise_for_status()
        yield client


def test_include_expands_references_into_objects(http: httpx2.Client) -> None:
    plain = http.get("/incidents").json()["incidents"][0]
    full = http.get("/incidents", params={"include[]": ["services", "assignees"]}).json()
    incident = full["incidents"][0]
    assert plain["service"]["type"] == "service_reference"
    assert incident["service"]["type"] == "service" and incident["service"]["name"]
    assert {a["assignee"]["type"] for a in incident["assignments"]} == {"user"}
    assert all("@" in a["assignee"]["email"] for a in incident["assignments"])
    one = http.get(f"/incidents/{plain['id']}", params={"include[]": "escalation_policies"})
    assert one.json()["incident"]["escalation_policy"]["escalation_rules"]
    bad = http.get("/incidents", params={"include[]": "everything"})
    assert bad.status_code == 400 and "everything" in bad.json()["error"]["errors"][0]


def test_sort_by_orders_as_asked(http: httpx2.Client) -> None:
    def titles(sort_by: str) -> list[str]:
        answer = http.get("/incidents", params={"sort_by": sort_by}).json()
        return [i["title"] for i in answer["incidents"]]

    assert titles("incident_number") == ["first", "second", "third"]
    assert titles("incident_number:desc") == ["third", "second", "first"]
    assert titles("urgency:asc") == ["first", "third", "second"]  # high before low
    assert http.get("/incidents", params={"sort_by": "colour"}).status_code == 400


def test_time_zone_shows_times_in_that_zone(http: httpx2.Client) -> None:
    utc = http.get("/incidents").json()["incidents"][0]["created_at"]
    tokyo = http.get("/incidents", params={"time_zone": "Asia/Tokyo"}).json()
    shown = tokyo["incidents"][0]["created_at"]
    assert shown.endswith("+09:00")
    assert datetime.fromisoformat(shown) == datetime.fromisoformat(utc.replace("Z", "+00:00"))
    bad = http.get("/incidents", params={"time_zone": "Mars/Olympus"})
    assert bad.status_code == 400 and "time_zone" in bad.json()["error"]["errors"][0]


def test_an_override_puts_its_user_on_call(http: httpx2.Client) -> None:
    now = datetime.now(UTC).replace(microsecond=0)
    before = http.get("/oncalls", params={"schedule_ids[]": "PS0PRIM"}).json()["oncalls"]
    usual = before[0]["user"]["id"]
    other = next(u["id"] for u in http.get("/users").json()["users"] if u["id"] != usual)
    made = http.post("/schedules/PS0PRIM/overrides", json={"overrides": [{
        "start": (now - timedelta(minutes=5)).isoformat(),
        "end": (now + timedelta(hours=1)).isoformat(),
        "user": {"id": other, "type": "user_reference"}}]})  # fmt: skip
    assert made.status_code == 201 and made.json()[0]["status"] == 201
    after = http.get("/oncalls", params={"schedule_ids[]": "PS0PRIM"}).json()["oncalls"]
    assert [o["user"]["id"] for o in after] == [other]
