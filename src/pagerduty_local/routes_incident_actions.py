"""REST v2 incident writes beyond the lifecycle: create, bulk and single update, merge, snooze,
responder requests, alerts, and the similar-incident views (past, related, outlier).

Past and outlier incidents are computed from this account's own history on the incident's
service (title similarity and how often the same title occurred); related incidents, which
PagerDuty infers across services with machine learning, are an empty list here, as PagerDuty
answers for an incident it found nothing related to.
"""

from __future__ import annotations

import re
from datetime import timedelta
from typing import Any

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from .account import reference
from .http import ApiError, Server, api_route, list_param, ok, page_params, read_json
from .incident_changes import apply_change, apply_checked, check_change, priority_ref, user_refs
from .incidents import Rejected
from .oncall import format_time, parse_time
from .store import IncidentQuery

__all__ = ["routes"]

Doc = dict[str, Any]
MAX_BULK = 500  # PagerDuty's limit on incidents in one bulk update


def _incident(server: Server, incident_id: str) -> Doc:
    found = server.account.store.get_incident(incident_id)
    if found is None:
        raise ApiError.not_found()
    return found[0]


async def create_incident(request: Request, server: Server) -> Response:
    body = await read_json(request)
    given = body.get("incident")
    if not isinstance(given, dict):
        raise ApiError.invalid("incident is required")
    title = given.get("title")
    if not isinstance(title, str) or not title.strip():
        raise ApiError.invalid("Incident title can't be blank")
    service_ref = given.get("service")
    service_id = service_ref.get("id") if isinstance(service_ref, dict) else None
    service = server.account.store.get_object("service", str(service_id))
    if service is None:
        raise ApiError.invalid(f"Service {service_id!r} not found")
    urgency = given.get("urgency")
    if urgency is not None and urgency not in ("high", "low"):
        raise ApiError.invalid("urgency must be high or low")
    fields: Doc = {"title": title[:1024], "urgency": urgency}
    if given.get("priority") is not None:
        fields["priority"] = priority_ref(server, given["priority"])
    if given.get("assignments") is not None:
        fields["assignments"] = user_refs(server, given["assignments"])
    policy = given.get("escalation_policy")
    if policy is not None:
        found = server.account.store.get_object(
            "escalation_policy", str(policy.get("id") if isinstance(policy, dict) else None)
        )
        if found is None:
            raise ApiError.invalid("Escalation policy not found")
        fields["escalation_policy"] = found
    details = given.get("body", {}).get("details") if isinstance(given.get("body"), dict) else None
    if details is not None:
        fields["details"] = details if isinstance(details, str) else str(details)
    key = given.get("incident_key")
    if key is not None:
        fields["incident_key"] = str(key)
    try:
        created = server.book.create(service, fields, server.agent(request))
    except Rejected as exc:
        raise ApiError(400, "Invalid Input Provided", 2001, [str(exc)]) from None
    return ok({"incident": created}, server, status=201)


async def update_incident(request: Request, server: Server) -> Response:
    incident = _incident(server, request.path_params["id"])
    body = await read_json(request)
    changed = apply_change(server, incident["id"], body.get("incident"), server.agent(request))
    return ok({"incident": changed}, server)


async def update_incidents(request: Request, server: Server) -> Response:
    """Bulk ``PUT /incidents``: each listed incident gets its own change; every id and every
    change is checked first, so one unknown id or bad field changes nothing."""
    body = await read_json(request)
    changes = body.get("incidents")
    if not isinstance(changes, list) or not changes:
        raise ApiError.invalid("incidents must be a non-empty list")
    if len(changes) > MAX_BULK:
        raise ApiError.invalid(f"At most {MAX_BULK} incidents can be updated at once")
    for change in changes:
        if not isinstance(change, dict) or not isinstance(change.get("id"), str):
            raise ApiError.invalid("each incident needs an id")
        if server.account.store.get_incident(change["id"]) is None:
            raise ApiError.invalid(f"Incident {change['id']!r} not found")
    checked = [(change["id"], check_change(server, change)) for change in changes]
    agent = server.agent(request)
    updated = [apply_checked(server, incident_id, one, agent) for incident_id, one in checked]
    return ok({"incidents": updated}, server)


async def merge_incidents(request: Request, server: Server) -> Response:
    target = _incident(server, request.path_params["id"])
    body = await read_json(request)
    sources = body.get("source_incidents")
    if not isinstance(sources, list) or not sources:
        raise ApiError.invalid("source_incidents must be a non-empty list")
    ids = [s.get("id") if isinstance(s, dict) else None for s in sources]
    for source_id in ids:
        _incident(server, str(source_id))
    try:
        merged = server.book.merge(target["id"], [str(i) for i in ids], server.agent(request))
    except Rejected as exc:
        raise ApiError.invalid(str(exc)) from None
    # PagerDuty's description answers a merge with the target as an incident_reference
    return ok({"incident": reference("incident", merged["id"], merged["summary"])}, server)


async def snooze_incident(request: Request, server: Server) -> Response:
    incident = _incident(server, request.path_params["id"])
    body = await read_json(request)
    duration = body.get("duration")
    if not isinstance(duration, int) or isinstance(duration, bool) or not 1 <= duration <= 604800:
        raise ApiError.invalid("duration must be an integer from 1 to 604800 seconds")
    try:
        snoozed = server.book.snooze(incident["id"], duration, server.agent(request))
    except Rejected as exc:
        raise ApiError.invalid(str(exc)) from None
    return ok({"incident": snoozed}, server, status=201)


def _target(server: Server, given: Any) -> Doc:
    inner = given.get("responder_request_target", given) if isinstance(given, dict) else None
    kind = inner.get("type") if isinstance(inner, dict) else None
    target_id = str(inner.get("id")) if isinstance(inner, dict) else ""
    if kind in ("user_reference", "user"):
        user = server.account.store.get_object("user", target_id)
        if user is not None:
            return reference("user", user["id"], user["name"])
    elif kind in ("escalation_policy_reference", "escalation_policy"):
        policy = server.account.store.get_object("escalation_policy", target_id)
        if policy is not None:
            return reference("escalation_policy", policy["id"], policy["name"])
    raise ApiError.invalid(f"Responder request target {target_id!r} is not a user or policy")


async def request_responders(request: Request, server: Server) -> Response:
    incident = _incident(server, request.path_params["id"])
    body = await read_json(request)
    requester_id = body.get("requester_id")
    requester = server.account.store.get_object("user", str(requester_id))
    if requester is None:
        raise ApiError.invalid(f"Requester {requester_id!r} is not a user")
    targets = body.get("responder_request_targets")
    if not isinstance(targets, list) or not targets:
        raise ApiError.invalid("responder_request_targets must be a non-empty list")
    message = body.get("message")
    if not isinstance(message, str) or not message.strip():
        raise ApiError.invalid("message can't be blank")
    checked = [_target(server, t) for t in targets]
    try:
        made = server.book.request_responders(
            incident["id"],
            reference("user", requester["id"], requester["name"]),
            message[:1000],
            checked,
        )
    except Rejected as exc:
        raise ApiError.invalid(str(exc)) from None
    return ok({"responder_request": made}, server)


def _alert(server: Server, request: Request) -> Doc:
    incident = _incident(server, request.path_params["id"])
    alert = server.account.store.get_alert(request.path_params["alert_id"])
    if alert is None or alert["incident"]["id"] != incident["id"]:
        raise ApiError.not_found()
    return alert


async def get_alert(request: Request, server: Server) -> Response:
    return ok({"alert": _alert(server, request)}, server)


def _alert_status(given: Any) -> str:
    status = given.get("status") if isinstance(given, dict) else None
    if status not in ("resolved", "triggered"):
        raise ApiError.invalid("alert status must be resolved or triggered")
    return str(status)


async def update_alert(request: Request, server: Server) -> Response:
    alert = _alert(server, request)
    body = await read_json(request)
    status = _alert_status(body.get("alert"))
    changed = server.book.set_alert_status(request.path_params["id"], alert["id"], status)
    return ok({"alert": changed}, server)


async def update_alerts(request: Request, server: Server) -> Response:
    incident = _incident(server, request.path_params["id"])
    body = await read_json(request)
    given = body.get("alerts")
    if not isinstance(given, list) or not given:
        raise ApiError.invalid("alerts must be a non-empty list")
    known = {a["id"] for a in server.account.store.list_alerts(incident["id"])}
    wanted = [(a.get("id") if isinstance(a, dict) else None, _alert_status(a)) for a in given]
    for alert_id, _ in wanted:
        if alert_id not in known:
            raise ApiError.invalid(f"Alert {alert_id!r} is not an alert of this incident")
    changed = [
        server.book.set_alert_status(incident["id"], str(alert_id), status)
        for alert_id, status in wanted
    ]
    return ok({"alerts": changed}, server)


def _words(title: str) -> set[str]:
    return set(re.findall(r"[a-z0-9]+", title.lower()))


def _similar(server: Server, incident: Doc) -> list[tuple[float, Doc]]:
    """Earlier incidents of the same service in the 6 months before, by title similarity
    (Jaccard of the words, 0–1), most similar first."""
    created = parse_time(incident["created_at"])
    query = IncidentQuery(
        service_ids=[incident["service"]["id"]],
        since=format_time(created - timedelta(days=183)),
        until=incident["created_at"],
    )
    earlier, _ = server.account.store.query_incidents(query, 0, 1000)
    words = _words(incident["title"])
    scored = []
    for other in earlier:
        if other["id"] == incident["id"]:
            continue
        theirs = _words(other["title"])
        score = len(words & theirs) / len(words | theirs) if words | theirs else 0.0
        if score > 0:
            scored.append((round(score, 3), other))
    scored.sort(key=lambda pair: (-pair[0], pair[1]["created_at"]))
    return scored


async def past_incidents(request: Request, server: Server) -> Response:
    incident = _incident(server, request.path_params["id"])
    try:
        limit = int(request.query_params.get("limit", "5"))
    except ValueError:
        raise ApiError.invalid("limit must be an integer") from None
    if not 1 <= limit <= 999:
        raise ApiError.invalid("limit must be between 1 and 999")
    scored = _similar(server, incident)
    body: Doc = {
        "past_incidents": [
            {
                "incident": {
                    "id": other["id"],
                    "created_at": other["created_at"],
                    "self": other["self"],
                    "title": other["title"],
                },
                "score": score,
            }
            for score, other in scored[:limit]
        ],
        "limit": limit,
    }
    if request.query_params.get("total", "false").lower() == "true":
        body["total"] = len(scored)
    return ok(body, server)


async def related_incidents(request: Request, server: Server) -> Response:
    _incident(server, request.path_params["id"])
    return ok({"related_incidents": []}, server)


async def outlier_incident(request: Request, server: Server) -> Response:
    """How often this incident's title occurred on its service: ``new`` the first time,
    ``rare`` under a fifth of the service's incidents, ``frequent`` above."""
    incident = _incident(server, request.path_params["id"])
    created = parse_time(incident["created_at"])
    since = created - timedelta(days=30)
    query = IncidentQuery(
        service_ids=[incident["service"]["id"]],
        since=format_time(since),
        until=format_time(created + timedelta(seconds=1)),
    )
    window, total = server.account.store.query_incidents(query, 0, 10000)
    same = sum(1 for other in window if other["title"] == incident["title"])
    frequency = same / total if total else 0.0
    category = "new" if same <= 1 else ("rare" if frequency < 0.2 else "frequent")
    template = incident["id"] + "T"
    body = {
        "outlier_incident": {
            "incident": {
                "id": incident["id"],
                "created_at": incident["created_at"],
                "self": incident["self"],
                "title": incident["title"],
                "occurrence": {
                    "count": same,
                    "frequency": round(frequency, 3),
                    "category": category,
                    "since": format_time(since),
                    "until": incident["created_at"],
                },
            },
            "incident_template": {
                "id": template,
                "cluster_id": incident["service"]["id"],
                "mined_text": incident["title"],
            },
        }
    }
    return ok(body, server)


async def list_incident_alerts_filtered(request: Request, server: Server) -> Response:
    incident = _incident(server, request.path_params["id"])
    page = page_params(request)
    alerts = server.account.store.list_alerts(incident["id"])
    statuses = list_param(request, "statuses")
    if statuses:
        alerts = [a for a in alerts if a["status"] in statuses]
    key = request.query_params.get("alert_key")
    if key:
        alerts = [a for a in alerts if a.get("alert_key") == key]
    return ok(page.slice("alerts", alerts), server)


routes = [
    Route("/incidents", api_route(create_incident), methods=["POST"]),
    Route("/incidents", api_route(update_incidents), methods=["PUT"]),
    Route("/incidents/{id}", api_route(update_incident), methods=["PUT"]),
    Route("/incidents/{id}/merge", api_route(merge_incidents), methods=["PUT"]),
    Route("/incidents/{id}/snooze", api_route(snooze_incident), methods=["POST"]),
    Route("/incidents/{id}/responder_requests", api_route(request_responders), methods=["POST"]),
    Route("/incidents/{id}/alerts", api_route(list_incident_alerts_filtered), methods=["GET"]),
    Route("/incidents/{id}/alerts", api_route(update_alerts), methods=["PUT"]),
    Route("/incidents/{id}/alerts/{alert_id}", api_route(get_alert), methods=["GET"]),
    Route("/incidents/{id}/alerts/{alert_id}", api_route(update_alert), methods=["PUT"]),
    Route("/incidents/{id}/past_incidents", api_route(past_incidents), methods=["GET"]),
    Route("/incidents/{id}/related_incidents", api_route(related_incidents), methods=["GET"]),
    Route("/incidents/{id}/outlier_incident", api_route(outlier_incident), methods=["GET"]),
]
