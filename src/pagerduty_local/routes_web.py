"""Minimal read-only web pages, so that every ``html_url`` the local server hands out (in
pull requests, notes, ``ads incidents`` and ``ads run --page``) opens something useful.

``Account.render`` turns a stored object's relative ``html_url`` (``/incidents/Q1``,
``/users/P1``, ``/services/P2/integrations/P3``, ``/alerts/A1``) into ``<base>/web<path>``; this
module serves each of those paths, plus ``/web/incidents`` (the list, newest first) and ``/web``.
"""

from __future__ import annotations

import json
from datetime import timedelta
from html import escape
from typing import Any

from starlette.requests import Request
from starlette.responses import HTMLResponse, RedirectResponse, Response
from starlette.routing import Route

from .http import Server
from .oncall import format_time, turns
from .store import IncidentQuery

__all__ = ["routes"]

KINDS = {  # path segment → stored kind, as ``account._PATHS``
    "users": "user",
    "teams": "team",
    "schedules": "schedule",
    "escalation_policies": "escalation_policy",
    "services": "service",
}
LISTED = 200  # incidents on the list page


def _page(title: str, body: str, status: int = 200) -> HTMLResponse:
    nav = '<p><a href="/web/incidents">Incidents</a> · <a href="/web">Account</a></p>'
    return HTMLResponse(
        f"<!doctype html><meta charset=utf-8><title>{escape(title)}</title>{nav}"
        f"<h1>{escape(title)}</h1>{body}",
        status_code=status,
    )


def _not_found(what: str) -> HTMLResponse:
    return _page(f"{what} not found", "<p>No such object in this local PagerDuty.</p>", 404)


def _link(ref: dict[str, Any]) -> str:
    """A reference (``{"id", "summary", "html_url"}``) as a link to its page."""
    summary = escape(str(ref.get("summary") or ref.get("id") or "?"))
    url = ref.get("html_url")
    return f'<a href="{escape(str(url))}">{summary}</a>' if url else summary


def _server(request: Request) -> Server:
    server: Server = request.app.state.pd
    return server


async def incident_page(request: Request) -> HTMLResponse:
    server = _server(request)
    found = server.account.store.get_incident(request.path_params["id"])
    if found is None:
        return _not_found("Incident")
    incident = server.account.render(found[0])
    store = server.account.store
    notes = store.list_notes(incident["id"])
    alerts = server.account.render(store.list_alerts(incident["id"]))
    entries, _ = store.list_log_entries(incident["id"], limit=100)
    assignees = ", ".join(_link(a["assignee"]) for a in incident["assignments"]) or "nobody"
    rows = "".join(
        f"<li>{escape(e['created_at'])} {escape(e['type'])}: {escape(e['summary'])}</li>"
        for e in reversed(entries)
    )
    note_rows = "".join(
        f"<li><pre>{escape(n['content'])}</pre><small>{escape(n['user']['summary'])}, "
        f"{escape(n['created_at'])}</small></li>"
        for n in notes
    )
    alert_rows = "".join(
        f"<li>{_link(a)} {escape(a.get('status', ''))} · {escape(a.get('created_at', ''))}</li>"
        for a in alerts
    )
    body = (
        f"<p>#{incident['incident_number']} · status <b>{escape(incident['status'])}</b> · "
        f"urgency {escape(incident['urgency'])} · service {_link(incident['service'])} · "
        f"assigned to {assignees}</p><h2>Alerts ({len(alerts)})</h2><ul>{alert_rows}</ul>"
        f"<h2>Notes</h2><ul>{note_rows}</ul><h2>Timeline</h2><ul>{rows}</ul>"
    )
    return _page(incident["summary"], body)


async def incident_list(request: Request) -> HTMLResponse:
    server = _server(request)
    items = server.account.render(server.account.store.recent_incidents(LISTED))
    lines = "".join(
        f"<tr><td>#{i['incident_number']}</td><td>{_link({**i, 'summary': i['summary']})}</td>"
        f"<td>{escape(i['status'])}</td><td>{escape(i['urgency'])}</td>"
        f"<td>{_link(i['service'])}</td><td>{escape(i['created_at'])}</td></tr>"
        for i in items
    )
    head = "<tr><th>#</th><th>title</th><th>status</th><th>urgency</th><th>service</th>"
    body = f"<table>{head}<th>created</th></tr>{lines}</table>" if items else "<p>None yet.</p>"
    return _page("Incidents", body)


def _object_body(doc: dict[str, Any]) -> str:
    """The object's own fields, references as links, the rest as JSON."""
    facts = []
    for key, value in doc.items():
        if key in ("id", "type", "self", "html_url", "summary", "name"):
            continue
        if isinstance(value, dict) and "html_url" in value:
            shown = _link(value)
        elif (
            isinstance(value, list)
            and value
            and all(isinstance(v, dict) and "html_url" in v for v in value)
        ):
            shown = ", ".join(_link(v) for v in value)
        else:
            shown = f"<code>{escape(json.dumps(value, default=str))}</code>"
        facts.append(f"<li><b>{escape(key)}</b>: {shown}</li>")
    kind = escape(str(doc.get("type", "")))
    return f"<p>{kind} {escape(str(doc['id']))}</p><ul>{''.join(facts)}</ul>"


async def object_page(request: Request) -> HTMLResponse:
    server = _server(request)
    kind = KINDS.get(request.path_params["kind"])
    if kind is None:
        return _not_found("Page")
    doc = server.account.store.get_object(kind, request.path_params["id"])
    if doc is None:
        return _not_found(kind.replace("_", " ").capitalize())
    doc = server.account.render(doc)
    return _page(str(doc.get("name") or doc.get("summary") or doc["id"]), _object_body(doc))


async def schedule_page(request: Request) -> HTMLResponse:
    """A schedule: who is on call now, and the turns of the coming week."""
    server = _server(request)
    found = server.account.store.get_object("schedule", request.path_params["id"])
    if found is None:
        return _not_found("Schedule")
    now = server.account.now()
    coming = turns(found, now, now + timedelta(days=7))
    schedule = server.account.render(found)
    current = [t for t in coming if t.start <= now < t.end]
    on_call = ", ".join(_link(server.account.render(t.user)) for t in current) or "nobody"
    rows = "".join(
        f"<tr><td>{escape(format_time(t.start))}</td><td>{escape(format_time(t.end))}</td>"
        f"<td>{_link(server.account.render(t.user))}</td></tr>"
        for t in coming
    )
    body = (
        f"<p>On call now: <b>{on_call}</b> · time zone {escape(str(schedule['time_zone']))}</p>"
        f"<h2>The next 7 days</h2><table><tr><th>from</th><th>to</th><th>who</th></tr>{rows}"
        f"</table><h2>Details</h2>{_object_body(schedule)}"
    )
    return _page(str(schedule["name"]), body)


async def service_page(request: Request) -> HTMLResponse:
    """A service: its open incidents, then its fields."""
    server = _server(request)
    found = server.account.store.get_object("service", request.path_params["id"])
    if found is None:
        return _not_found("Service")
    service = server.account.render(found)
    query = IncidentQuery(statuses=["triggered", "acknowledged"], service_ids=[found["id"]])
    open_items, total = server.account.store.query_incidents(query, 0, LISTED)
    rows = "".join(
        f"<li>{_link(i)} {escape(i['status'])} · {escape(i['created_at'])}</li>"
        for i in server.account.render(open_items)
    )
    body = (
        f"<h2>Open incidents ({total})</h2><ul>{rows or '<li>none</li>'}</ul>"
        f"<h2>Details</h2>{_object_body(service)}"
    )
    return _page(str(service["name"]), body)


async def priority_page(request: Request) -> HTMLResponse:
    server = _server(request)
    for priority in server.account.render(server.account.priorities()):
        if priority["id"] == request.path_params["id"]:
            return _page(str(priority["name"]), _object_body(priority))
    return _not_found("Priority")


async def integration_page(request: Request) -> HTMLResponse:
    server = _server(request)
    service = server.account.store.get_object("service", request.path_params["service"])
    wanted = request.path_params["id"]
    for integration in (service or {}).get("integrations", []):
        if integration.get("id") == wanted:
            rendered = server.account.render({**integration, "service": service})
            return _page(str(integration.get("summary") or wanted), _object_body(rendered))
    return _not_found("Integration")


async def alert_page(request: Request) -> HTMLResponse:
    server = _server(request)
    found = server.account.store.get_alert(request.path_params["id"])
    if found is None:
        return _not_found("Alert")
    alert = server.account.render(found)
    return _page(str(alert.get("summary") or alert["id"]), _object_body(alert))


async def account_page(request: Request) -> HTMLResponse:
    server = _server(request)
    sections = []
    for segment, kind in KINDS.items():
        docs = server.account.render(server.account.store.list_objects(kind))
        links = "".join(
            f"<li>{_link({**d, 'summary': d.get('name') or d.get('summary')})}</li>" for d in docs
        )
        sections.append(
            f"<h2>{escape(segment.replace('_', ' ').capitalize())}</h2><ul>{links}</ul>"
        )
    return _page("Local PagerDuty account", "".join(sections))


async def log_entry_page(request: Request) -> Response:
    """A log entry is a line of its incident's timeline: its page is the incident's."""
    return RedirectResponse(f"/web/incidents/{request.path_params['incident']}")


async def web_root(request: Request) -> Response:
    return RedirectResponse("/web/incidents")


routes = [
    Route("/web", account_page, methods=["GET"]),
    Route("/web/", web_root, methods=["GET"]),
    Route("/web/incidents", incident_list, methods=["GET"]),
    Route("/web/incidents/{id}", incident_page, methods=["GET"]),
    Route("/web/alerts/{id}", alert_page, methods=["GET"]),
    Route("/web/incidents/{incident}/log_entries/{id}", log_entry_page, methods=["GET"]),
    Route("/web/services/{service}/integrations/{id}", integration_page, methods=["GET"]),
    Route("/web/schedules/{id}", schedule_page, methods=["GET"]),
    Route("/web/services/{id}", service_page, methods=["GET"]),
    Route("/web/priorities/{id}", priority_page, methods=["GET"]),
    Route("/web/{kind}/{id}", object_page, methods=["GET"]),
]
