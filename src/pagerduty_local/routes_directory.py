"""REST v2 directory routes: services, escalation policies, on-calls, schedules, users, teams,
and change events."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Any, TypeVar

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from .http import ApiError, Server, api_route, list_param, ok, page_params, time_param
from .oncall import MAX_WINDOW, TooManyTurns, format_time, turns
from .present import in_time_zone, time_zone

__all__ = ["routes"]

Doc = dict[str, Any]
T = TypeVar("T")


def _filter(request: Request, items: list[Doc], *, name_key: str = "name") -> list[Doc]:
    """PagerDuty's ``query`` (case-insensitive name prefix/substring) and ``team_ids[]``."""
    query = request.query_params.get("query")
    if query:
        items = [
            i
            for i in items
            if query.lower() in str(i.get(name_key, "")).lower()
            or query.lower() in str(i.get("email", "")).lower()
        ]
    team_ids = list_param(request, "team_ids")
    if team_ids:
        items = [i for i in items if any(t["id"] in team_ids for t in i.get("teams", []))]
    return items


def _check_window(since: datetime, until: datetime) -> None:
    """400 unless ``since <= until`` and the window is at most ``MAX_WINDOW`` long."""
    if since > until:
        raise ApiError.invalid("since must be before until")
    if until - since > MAX_WINDOW:
        raise ApiError.invalid(f"The date range may not exceed {MAX_WINDOW.days} days")


def _rendered(render: Callable[[], T]) -> T:
    """On-call turns rendered, or a 400 when the window is too fine-grained or out of range."""
    try:
        return render()
    except TooManyTurns as exc:
        raise ApiError.invalid(str(exc)) from None
    except OverflowError:
        raise ApiError.invalid("since/until is too far from the schedule's start") from None


def _get(server: Server, kind: str, object_id: str) -> Doc:
    found = server.account.store.get_object(kind, object_id)
    if found is None:
        raise ApiError.not_found()
    return found


async def list_services(request: Request, server: Server) -> Response:
    page = page_params(request)
    items = _filter(request, server.account.store.list_objects("service"))
    return ok(page.slice("services", items), server)


async def get_service(request: Request, server: Server) -> Response:
    return ok({"service": _get(server, "service", request.path_params["id"])}, server)


async def list_policies(request: Request, server: Server) -> Response:
    page = page_params(request)
    items = _filter(request, server.account.store.list_objects("escalation_policy"))
    user_ids = list_param(request, "user_ids")
    if user_ids:
        on_call = {
            o["escalation_policy"]["id"]
            for o in server.account.oncalls()
            if o["user"]["id"] in user_ids
        }
        items = [p for p in items if p["id"] in on_call]
    return ok(page.slice("escalation_policies", items), server)


async def get_policy(request: Request, server: Server) -> Response:
    return ok(
        {"escalation_policy": _get(server, "escalation_policy", request.path_params["id"])},
        server,
    )


async def list_oncalls(request: Request, server: Server) -> Response:
    page = page_params(request)
    now = server.account.now()
    since = time_param(request, "since") or now
    until = time_param(request, "until") or max(since, now)
    if until > now + MAX_WINDOW:
        raise ApiError.invalid(
            f"until may be at most {MAX_WINDOW.days} days in the future (on-call shifts are "
            f"limited to {MAX_WINDOW.days} days)"
        )
    _check_window(since, until)
    items = _rendered(lambda: server.account.oncalls(since, until))
    for name, key in (
        ("escalation_policy_ids", "escalation_policy"),
        ("schedule_ids", "schedule"),
        ("user_ids", "user"),
    ):
        wanted = list_param(request, name)
        if wanted:
            items = [o for o in items if o[key] is not None and o[key]["id"] in wanted]
    if request.query_params.get("earliest", "false").lower() == "true":
        seen: set[tuple[str, str, int]] = set()
        earliest = []
        for o in sorted(items, key=lambda o: o["start"] or ""):
            key3 = (o["user"]["id"], o["escalation_policy"]["id"], o["escalation_level"])
            if key3 not in seen:
                seen.add(key3)
                earliest.append(o)
        items = earliest
    items.sort(
        key=lambda o: (o["escalation_policy"]["id"], o["escalation_level"], o["start"] or "")
    )
    return ok(in_time_zone(page.slice("oncalls", items), time_zone(request)), server)


async def list_schedules(request: Request, server: Server) -> Response:
    page = page_params(request)
    items = _filter(request, server.account.store.list_objects("schedule"))
    return ok(page.slice("schedules", items), server)


async def get_schedule(request: Request, server: Server) -> Response:
    schedule = _get(server, "schedule", request.path_params["id"])
    since = time_param(request, "since") or server.account.now()
    until = time_param(request, "until") or _rendered(lambda: since + timedelta(days=7))
    _check_window(since, until)
    entries = [
        {"start": format_time(t.start), "end": format_time(t.end), "user": t.user}
        for t in _rendered(lambda: turns(schedule, since, until))
    ]
    schedule["final_schedule"] = {
        "name": "Final Schedule",
        "rendered_schedule_entries": entries,
        "rendered_coverage_percentage": 100.0,
    }
    return ok({"schedule": schedule}, server)


async def list_users(request: Request, server: Server) -> Response:
    page = page_params(request)
    items = _filter(request, server.account.store.list_objects("user"))
    return ok(page.slice("users", [_expand(request, u) for u in items]), server)


def _expand(request: Request, user: Doc) -> Doc:
    """Users carry contact method references (PagerDuty's description of ``GET /users/{id}``
    allows only references there); the methods are at ``/users/{id}/contact_methods``."""
    return user


def _email_method(user: Doc) -> Doc:
    return {
        "id": f"{user['id']}E",
        "type": "email_contact_method",
        "summary": "Default",
        "self": f"/users/{user['id']}/contact_methods/{user['id']}E",
        "html_url": None,
        "label": "Default",
        "address": user["email"],
        "send_short_email": False,
    }


async def get_user(request: Request, server: Server) -> Response:
    user = _get(server, "user", request.path_params["id"])
    return ok({"user": _expand(request, user)}, server)


async def get_me(request: Request, server: Server) -> Response:
    return ok({"user": _expand(request, server.me())}, server)


async def user_contact_methods(request: Request, server: Server) -> Response:
    user = _get(server, "user", request.path_params["id"])
    return ok({"contact_methods": [_email_method(user)]}, server)


async def list_teams(request: Request, server: Server) -> Response:
    page = page_params(request)
    items = _filter(request, server.account.store.list_objects("team"))
    return ok(page.slice("teams", items), server)


async def get_team(request: Request, server: Server) -> Response:
    return ok({"team": _get(server, "team", request.path_params["id"])}, server)


async def list_change_events(request: Request, server: Server) -> Response:
    return _change_events(request, server, None)


async def service_change_events(request: Request, server: Server) -> Response:
    service = _get(server, "service", request.path_params["id"])
    return _change_events(request, server, service["id"])


def _change_events(request: Request, server: Server, service_id: str | None) -> Response:
    page = page_params(request)
    since, until = time_param(request, "since"), time_param(request, "until")
    items = server.account.store.list_change_events(
        service_id,
        since=format_time(since) if since else None,
        until=format_time(until) if until else None,
    )
    return ok(page.slice("change_events", items), server)


routes = [
    Route("/services", api_route(list_services), methods=["GET"]),
    Route("/services/{id}", api_route(get_service), methods=["GET"]),
    Route("/services/{id}/change_events", api_route(service_change_events), methods=["GET"]),
    Route("/escalation_policies", api_route(list_policies), methods=["GET"]),
    Route("/escalation_policies/{id}", api_route(get_policy), methods=["GET"]),
    Route("/oncalls", api_route(list_oncalls), methods=["GET"]),
    Route("/schedules", api_route(list_schedules), methods=["GET"]),
    Route("/schedules/{id}", api_route(get_schedule), methods=["GET"]),
    Route("/users", api_route(list_users), methods=["GET"]),
    Route("/users/me", api_route(get_me), methods=["GET"]),
    Route("/users/{id}", api_route(get_user), methods=["GET"]),
    Route("/users/{id}/contact_methods", api_route(user_contact_methods), methods=["GET"]),
    Route("/teams", api_route(list_teams), methods=["GET"]),
    Route("/teams/{id}", api_route(get_team), methods=["GET"]),
    Route("/change_events", api_route(list_change_events), methods=["GET"]),
]
