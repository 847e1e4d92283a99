"""The issue's acceptance path, driven through PagerDuty's own client via the ADS facade."""

from __future__ import annotations

import httpx2

from ads.sources.pagerduty import PagerDuty
from pagerduty_local import LocalPagerDuty


def test_trigger_dedup_note_resolve(
    local_pagerduty: LocalPagerDuty, pagerduty_client: PagerDuty
) -> None:
    key = local_pagerduty.routing_key("ads-demo-service")
    dedup = pagerduty_client.trigger(
        key,
        "OOMKilled: ads-demo-service/worker",
        "ads-demo-service",
        dedup_key="oomkilled/default/ads-demo-service/worker",
        custom_details={"exit_code": 137, "memory_limit": "64Mi"},
        component="worker",
    )
    assert dedup == "oomkilled/default/ads-demo-service/worker"

    [incident] = pagerduty_client.list_incidents()
    service = pagerduty_client.find_service("ads-demo-service")
    level1 = [o for o in pagerduty_client.oncalls_for_service(service["id"]) if o.level == 1]
    assert incident.status == "triggered"
    assert incident.assignees == [level1[0].user_id]
    assert incident.service_name == "ads-demo-service"

    pagerduty_client.trigger(key, "OOMKilled again", "ads-demo-service", dedup_key=dedup)
    assert len(pagerduty_client.list_incidents()) == 1
    full = pagerduty_client.get_incident(incident.id)
    assert len(full.alerts) == 2
    assert full.alerts[0].custom_details == {"exit_code": 137, "memory_limit": "64Mi"}
    types = [e.type for e in full.log_entries]
    assert types[0] == "trigger_log_entry" and "assign_log_entry" in types

    assert incident.urgency == "high"  # critical → high under the severity-based urgency rule
    added = pagerduty_client.add_note(incident.id, "ADS: leak in worker.c controller() line 26-27")
    assert incident.html_url == local_pagerduty.web_url(incident.id)
    page = httpx2.get(incident.html_url, verify=local_pagerduty.ssl_context())
    assert page.status_code == 200 and "controller() line 26-27" in page.text
    notes = pagerduty_client.list_notes(incident.id)
    assert [n.content for n in notes] == ["ADS: leak in worker.c controller() line 26-27"]
    assert [n.id for n in notes] == [added.id] and notes[0].user == "Alice Nguyen"

    pagerduty_client.resolve_event(key, dedup)
    resolved = pagerduty_client.get_incident(incident.id)
    assert resolved.status == "resolved"
    assert "resolve_log_entry" in [e.type for e in resolved.log_entries]
    # a new trigger with the same key after resolution opens a new incident
    pagerduty_client.trigger(key, "OOMKilled after fix?", "ads-demo-service", dedup_key=dedup)
    assert len(pagerduty_client.list_incidents()) == 2


def test_oncalls_carry_github_handles(
    local_pagerduty: LocalPagerDuty, pagerduty_client: PagerDuty
) -> None:
    service = pagerduty_client.find_service("ads-demo-service")
    oncalls = pagerduty_client.oncalls_for_service(service["id"])
    assert [o.level for o in oncalls] == [1, 2]
    assert {o.github for o in oncalls} == {"alice-sre", "bob-oncall"}
    assert oncalls[0].user_id != oncalls[1].user_id
    assert all(o.email and o.email.endswith("@example.com") for o in oncalls)


def test_acknowledge_escalate_and_rest_resolve(
    local_pagerduty: LocalPagerDuty, pagerduty_client: PagerDuty
) -> None:
    key = local_pagerduty.routing_key("ads-demo-service")
    pagerduty_client.trigger(
        key, "Memory at 80%", "ads-demo-service", dedup_key="k1", severity="warning"
    )
    [incident] = pagerduty_client.list_incidents(statuses=["triggered"])
    assert incident.urgency == "low"  # warning → low under the severity-based urgency rule
    service_id = incident.service_id
    assert service_id is not None
    level2 = [o for o in pagerduty_client.oncalls_for_service(service_id) if o.level == 2]

    escalated = pagerduty_client.escalate(incident.id, 2)
    assert escalated.assignees == [level2[0].user_id]
    assert pagerduty_client.acknowledge(incident.id).status == "acknowledged"
    assert pagerduty_client.list_incidents(statuses=["triggered"]) == []
    assert pagerduty_client.resolve(incident.id).status == "resolved"
    types = [e.type for e in pagerduty_client.log_entries(incident.id)]
    for expected in ("escalate_log_entry", "acknowledge_log_entry", "resolve_log_entry"):
        assert expected in types


def test_change_events_are_related_to_the_next_incident(
    local_pagerduty: LocalPagerDuty, pagerduty_client: PagerDuty
) -> None:
    key = local_pagerduty.routing_key("ads-demo-service")
    pagerduty_client.change_event(
        key,
        "Deploy abc123 of ads-demo-service",
        source="ci",
        custom_details={"sha": "abc123"},
        links=[{"href": "https://example.com", "text": "ci"}],
    )
    pagerduty_client.trigger(key, "OOMKilled", "ads-demo-service", dedup_key="k2")
    [incident] = pagerduty_client.list_incidents()
    [related] = pagerduty_client.related_change_events(incident.id)
    assert related["summary"] == "Deploy abc123 of ads-demo-service"
    assert related["custom_details"] == {"sha": "abc123"}
    assert incident.service_id is not None
    assert len(pagerduty_client.change_events_for_service(incident.service_id)) == 1


def test_reassign_through_rest(
    local_pagerduty: LocalPagerDuty, pagerduty_client: PagerDuty
) -> None:
    key = local_pagerduty.routing_key("ads-demo-service")
    pagerduty_client.trigger(key, "OOMKilled", "ads-demo-service", dedup_key="r")
    [incident] = pagerduty_client.list_incidents()
    other = next(u for u in ("PU0ALCE", "PU0BOBB") if [u] != incident.assignees)
    response = httpx2.put(
        f"{local_pagerduty.api_url}/incidents/{incident.id}",
        json={
            "incident": {
                "type": "incident_reference",
                "assignments": [{"assignee": {"id": other, "type": "user_reference"}}],
            }
        },
        headers={
            "Authorization": f"Token token={local_pagerduty.token}",
            "From": "bob@example.com",
        },
        verify=local_pagerduty.ssl_context(),
    )
    assert response.status_code == 200
    assert pagerduty_client.get_incident(incident.id).assignees == [other]
