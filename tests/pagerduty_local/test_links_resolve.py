"""Every link the local server hands out leads somewhere: each ``self`` is an API answer (200,
JSON) and each ``html_url`` a page (200, HTML) — incidents with their timeline, notes and alerts;
services with their open incidents; schedules with who is on call."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import httpx2

from pagerduty_local import LocalPagerDuty

LISTS = [
    "/incidents", "/services", "/users", "/teams", "/schedules", "/escalation_policies",
    "/oncalls", "/priorities", "/log_entries", "/change_events", "/webhook_subscriptions",
]  # fmt: skip


def links(value: Any) -> Iterator[tuple[str, str]]:
    if isinstance(value, dict):
        for key, item in value.items():
            if key in ("self", "html_url") and isinstance(item, str):
                yield key, item
            else:
                yield from links(item)
    elif isinstance(value, list):
        for item in value:
            yield from links(item)


def test_every_self_and_html_url_resolves(local_pagerduty: LocalPagerDuty) -> None:
    server = local_pagerduty
    key = server.routing_key("ads-demo-service")
    with httpx2.Client(
        base_url=server.api_url,
        verify=server.ssl_context(),
        headers={"Authorization": f"Token token={server.token}", "From": server.from_email},
    ) as http:
        http.post("/v2/change/enqueue", json={"routing_key": key, "payload": {"summary": "deploy"}})
        http.post("/v2/enqueue", json={
            "routing_key": key, "event_action": "trigger",
            "payload": {"summary": "OOMKilled: worker", "source": "w", "severity": "critical"},
        }).raise_for_status()  # fmt: skip
        incident = http.get("/incidents").json()["incidents"][0]
        http.post(f"/incidents/{incident['id']}/notes", json={"note": {"content": "leak at 26"}})
        answers = [http.get(path).json() for path in LISTS]
        answers += [
            http.get(f"/incidents/{incident['id']}/{part}").json()
            for part in ("alerts", "notes", "log_entries")
        ]
        answers += [http.get("/users/PU0ALCE/contact_methods").json()]
        answers += [http.get("/users/PU0ALCE/notification_rules").json()]
        answers += [http.get("/services/PV0DEMO").json(), http.get("/schedules/PS0PRIM").json()]
        found = {link for answer in answers for link in links(answer)}
        assert len(found) > 40

        broken = []
        for kind, url in sorted(found):
            assert url.startswith(server.api_url), url  # never a path only, never elsewhere
            response = http.get(url, follow_redirects=True)
            wanted = "application/json" if kind == "self" else "text/html"
            if response.status_code != 200 or wanted not in response.headers["content-type"]:
                broken.append((kind, url, response.status_code))
        assert broken == []

        page = http.get(incident["html_url"]).text
        assert "leak at 26" in page and "OOMKilled: worker" in page  # note, alert
        assert "trigger_log_entry" in page and "assign_log_entry" in page  # timeline
        service_page = http.get(incident["service"]["html_url"]).text
        assert "Open incidents (1)" in service_page and incident["summary"] in service_page
        oncall = http.get("/oncalls", params={"schedule_ids[]": "PS0PRIM"}).json()["oncalls"][0]
        schedule_page = http.get(oncall["schedule"]["html_url"]).text
        assert f"On call now: <b>{oncall['user']['summary']}" in schedule_page.replace(
            f'<a href="{oncall["user"]["html_url"]}">', ""
        ).replace("</a>", "")
