"""A minimal read-only web page per incident, so that ``html_url`` links (in pull requests and
notes written by ADS) open something useful on the local server."""

from __future__ import annotations

from html import escape

from starlette.requests import Request
from starlette.responses import HTMLResponse
from starlette.routing import Route

from .http import Server

__all__ = ["routes"]


async def incident_page(request: Request) -> HTMLResponse:
    server: Server = request.app.state.pd
    found = server.account.store.get_incident(request.path_params["id"])
    if found is None:
        return HTMLResponse("<h1>Incident not found</h1>", status_code=404)
    incident = found[0]
    notes = server.account.store.list_notes(incident["id"])
    entries, _ = server.account.store.list_log_entries(incident["id"], limit=100)
    assignees = ", ".join(a["assignee"]["summary"] for a in incident["assignments"]) or "nobody"
    rows = "".join(
        f"<li>{escape(e['created_at'])} {escape(e['type'])}: {escape(e['summary'])}</li>"
        for e in reversed(entries)
    )
    note_rows = "".join(
        f"<li><pre>{escape(n['content'])}</pre><small>{escape(n['user']['summary'])}, "
        f"{escape(n['created_at'])}</small></li>"
        for n in notes
    )
    body = (
        f"<!doctype html><meta charset=utf-8><title>{escape(incident['summary'])}</title>"
        f"<h1>{escape(incident['summary'])}</h1>"
        f"<p>Status <b>{escape(incident['status'])}</b> · urgency {escape(incident['urgency'])}"
        f" · service {escape(incident['service']['summary'])} · assigned to {escape(assignees)}"
        f"</p><h2>Notes</h2><ul>{note_rows}</ul><h2>Timeline</h2><ul>{rows}</ul>"
    )
    return HTMLResponse(body)


routes = [Route("/web/incidents/{id}", incident_page, methods=["GET"])]
