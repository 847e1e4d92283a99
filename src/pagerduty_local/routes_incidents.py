"""REST v2 incident reads: list/get incidents, log entries, notes, related change events
(writes are in ``routes_incident_actions``)."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from .http import (
    ApiError,
    Server,
    api_route,
    list_param,
    ok,
    page_params,
    read_json,
    time_param,
)
from .oncall import format_time, parse_time
from .present import INCIDENT_INCLUDES, in_time_zone, includes, time_zone, with_included
from .store import SORTABLE, IncidentQuery

__all__ = ["routes"]

Doc = dict[str, Any]
_STATUSES = {"triggered", "acknowledged", "resolved"}
_URGENCIES = {"high", "low"}


def _incident(server: Server, request: Request) -> Doc:
    found = server.account.store.get_incident(request.path_params["id"])
    if found is None:
        raise ApiError.not_found()
    return found[0]


async def list_incidents(request: Request, server: Server) -> Response:
    page = page_params(request)
    statuses = list_param(request, "statuses")
    if statuses and not set(statuses) <= _STATUSES:
        raise ApiError.invalid("statuses must be triggered, acknowledged or resolved")
    urgencies = list_param(request, "urgencies")
    if urgencies and not set(urgencies) <= _URGENCIES:
        raise ApiError.invalid("urgencies must be high or low")
    since, until = time_param(request, "since"), time_param(request, "until")
    if since and until and since > until:
        raise ApiError(400, "Invalid Input Provided", 2001, ["since must be before until"])
    everything = request.query_params.get("date_range") == "all"
    order, descending = _sort(request)
    wanted = includes(request, INCIDENT_INCLUDES)
    zone = time_zone(request)
    query = IncidentQuery(
        statuses=statuses,
        service_ids=list_param(request, "service_ids"),
        user_ids=list_param(request, "user_ids"),
        urgencies=urgencies,
        dedup_key=request.query_params.get("incident_key"),
        since=None if everything or since is None else format_time(since),
        until=None if everything or until is None else format_time(until),
        order=order,
        descending=descending,
    )
    items, total = server.account.store.query_incidents(query, page.offset, page.limit)
    shown = [with_included(server, i, wanted) for i in items]
    return ok(in_time_zone(page.body("incidents", shown, total), zone), server)


def _sort(request: Request) -> tuple[str, bool]:
    """``sort_by=created_at:desc`` (PagerDuty's fields, ``:asc`` by default)."""
    given = request.query_params.get("sort_by") or "incident_number"
    field, _, direction = given.partition(":")
    if field not in SORTABLE or direction not in ("", "asc", "desc"):
        raise ApiError.invalid(
            f"sort_by must be one of {', '.join(SORTABLE)}, optionally with :asc or :desc"
        )
    return SORTABLE[field], direction == "desc"


async def get_incident(request: Request, server: Server) -> Response:
    wanted = includes(request, INCIDENT_INCLUDES)
    zone = time_zone(request)
    incident = with_included(server, _incident(server, request), wanted)
    return ok(in_time_zone({"incident": incident}, zone), server)


async def incident_log_entries(request: Request, server: Server) -> Response:
    incident = _incident(server, request)
    return await _log_entries(request, server, incident["id"])


async def log_entries(request: Request, server: Server) -> Response:
    return await _log_entries(request, server, None)


async def _log_entries(request: Request, server: Server, incident_id: str | None) -> Response:
    page = page_params(request)
    since, until = time_param(request, "since"), time_param(request, "until")
    items, total = server.account.store.list_log_entries(
        incident_id,
        since=format_time(since) if since else None,
        until=format_time(until) if until else None,
        offset=page.offset,
        limit=page.limit,
    )
    return ok(in_time_zone(page.body("log_entries", items, total), time_zone(request)), server)


async def get_log_entry(request: Request, server: Server) -> Response:
    entry = server.account.store.get_log_entry(request.path_params["id"])
    if entry is None:
        raise ApiError.not_found()
    return ok({"log_entry": entry}, server)


async def list_notes(request: Request, server: Server) -> Response:
    incident = _incident(server, request)
    return ok({"notes": server.account.store.list_notes(incident["id"])}, server)


async def add_note(request: Request, server: Server) -> Response:
    incident = _incident(server, request)
    body = await read_json(request)
    note = body.get("note")
    content = note.get("content") if isinstance(note, dict) else None
    if not isinstance(content, str) or not content.strip():
        raise ApiError.invalid("Note content can't be blank")
    if len(content) > 25000:
        raise ApiError.invalid("Note content is too long (maximum is 25000 characters)")
    created = server.book.add_note(incident["id"], content, server.agent(request))
    return ok({"note": created}, server)  # 200, as PagerDuty's OpenAPI description says


async def related_change_events(request: Request, server: Server) -> Response:
    """Change events on the incident's service in the 24 hours before it was created."""
    incident = _incident(server, request)
    created = parse_time(incident["created_at"])
    events = server.account.store.list_change_events(
        incident["service"]["id"],
        since=format_time(created - timedelta(hours=24)),
        until=format_time(created),
    )
    related = [
        e | {"reasons": ["most_recent"], "correlation_reason": {"reason": "most_recent"}}
        for e in events
    ]
    return ok({"change_events": related}, server)


routes = [
    Route("/incidents", api_route(list_incidents), methods=["GET"]),
    Route("/incidents/{id}", api_route(get_incident), methods=["GET"]),
    Route("/incidents/{id}/log_entries", api_route(incident_log_entries), methods=["GET"]),
    Route("/incidents/{id}/notes", api_route(list_notes), methods=["GET"]),
    Route("/incidents/{id}/notes", api_route(add_note), methods=["POST"]),
    Route(
        "/incidents/{id}/related_change_events",
        api_route(related_change_events),
        methods=["GET"],
    ),
    Route("/log_entries", api_route(log_entries), methods=["GET"]),
    Route("/log_entries/{id}", api_route(get_log_entry), methods=["GET"]),
]
