"""REST v2 ``/webhook_subscriptions``: v3 subscriptions, created (the secret shown once), read,
updated, deleted, enabled again after PagerDuty would have disabled them, and tested (a
``pagey.ping`` delivery)."""

from __future__ import annotations

import secrets
from typing import Any

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from .account import new_id
from .http import ApiError, Server, api_route, ok, page_params, read_json

__all__ = ["routes"]

# Every event type PagerDuty's webhooks v3 offer (../shared/reference/pagerduty-docs); the local
# server sends the incident lifecycle's (triggered, acknowledged, resolved, annotated, escalated,
# reassigned) and accepts subscriptions to all.
_EVENTS = {
    "incident.acknowledged", "incident.annotated", "incident.conference_bridge.updated",
    "incident.custom_field_values.updated", "incident.delegated", "incident.escalated",
    "incident.incident_type.changed", "incident.priority_updated", "incident.reassigned",
    "incident.reopened", "incident.resolved", "incident.responder.added",
    "incident.responder.replied", "incident.role.assigned", "incident.service_updated",
    "incident.status_update_published", "incident.triggered", "incident.unacknowledged",
    "incident.workflow.completed", "incident.workflow.started",
    "incident.action_invocation.created",
    "incident.action_invocation.terminated", "incident.action_invocation.updated",
    "incident.task.completed", "incident.task.created", "incident.task.updated",
    "service.created", "service.deleted", "service.updated", "service.custom_field_values.updated",
}  # fmt: skip


def _public(sub: dict[str, object]) -> dict[str, object]:
    method = dict(sub["delivery_method"])  # type: ignore[call-overload]
    method["secret"] = None
    return {**sub, "delivery_method": method}


async def list_subscriptions(request: Request, server: Server) -> Response:
    page = page_params(request)
    subs = [_public(s) for s in server.account.store.list_objects("webhook_subscription")]
    return ok(page.slice("webhook_subscriptions", subs), server)


async def create_subscription(request: Request, server: Server) -> Response:
    body = await read_json(request)
    sub = body.get("webhook_subscription")
    if not isinstance(sub, dict):
        raise ApiError.invalid("webhook_subscription is required")
    method = sub.get("delivery_method")
    url = method.get("url") if isinstance(method, dict) else None
    if not isinstance(url, str) or not url.startswith(("http://", "https://")):
        raise ApiError.invalid("delivery_method.url must be an http(s) URL")
    events = sub.get("events")
    if not isinstance(events, list) or not events or not set(events) <= _EVENTS:
        raise ApiError.invalid("events must list some of " + ", ".join(sorted(_EVENTS)))
    target = _filter(server, sub.get("filter") or {"type": "account_reference"})
    created = {
        "id": new_id(),
        "type": "webhook_subscription",
        "active": True,
        "description": str(sub.get("description", "")),
        "events": events,
        "filter": target,
        "delivery_method": {
            "type": "http_delivery_method",
            "url": url,
            "secret": secrets.token_urlsafe(32),
            "custom_headers": [],
        },
    }
    server.account.store.put_object("webhook_subscription", created, position=1000)
    return ok({"webhook_subscription": created}, server)


def _filter(server: Server, target: object) -> dict[str, str]:
    if not isinstance(target, dict) or target.get("type") not in (
        "account_reference",
        "service_reference",
        "team_reference",
    ):
        raise ApiError.invalid(
            "filter.type must be account_reference, service_reference or team_reference"
        )
    kind = str(target["type"]).removesuffix("_reference")
    if kind != "account" and not server.account.store.get_object(kind, str(target.get("id"))):
        raise ApiError.invalid(f"filter.id is not a {kind}")
    return {"type": target["type"], **({"id": str(target["id"])} if kind != "account" else {})}


def _subscription(server: Server, request: Request) -> dict[str, Any]:
    found = server.account.store.get_object("webhook_subscription", request.path_params["id"])
    if found is None:
        raise ApiError.not_found()
    return found


async def get_subscription(request: Request, server: Server) -> Response:
    return ok({"webhook_subscription": _public(_subscription(server, request))}, server)


async def update_subscription(request: Request, server: Server) -> Response:
    sub = _subscription(server, request)
    body = await read_json(request)
    change = body.get("webhook_subscription")
    if not isinstance(change, dict):
        raise ApiError.invalid("webhook_subscription is required")
    if change.get("active") is not None:
        if not isinstance(change["active"], bool):
            raise ApiError.invalid("active must be true or false")
        sub["active"] = change["active"]
    if change.get("description") is not None:
        sub["description"] = str(change["description"])
    if change.get("events") is not None:
        events = change["events"]
        if not isinstance(events, list) or not events or not set(events) <= _EVENTS:
            raise ApiError.invalid("events must list PagerDuty webhook event types")
        sub["events"] = events
    if change.get("filter") is not None:
        sub["filter"] = _filter(server, change["filter"])
    method = change.get("delivery_method")
    if isinstance(method, dict) and method.get("url") is not None:
        url = method["url"]
        if not isinstance(url, str) or not url.startswith(("http://", "https://")):
            raise ApiError.invalid("delivery_method.url must be an http(s) URL")
        sub["delivery_method"]["url"] = url
    server.account.store.put_object("webhook_subscription", sub, position=1000)
    return ok({"webhook_subscription": _public(sub)}, server)


async def delete_subscription(request: Request, server: Server) -> Response:
    sub = _subscription(server, request)
    server.account.store.delete_object("webhook_subscription", sub["id"])
    return Response(status_code=204)


async def enable_subscription(request: Request, server: Server) -> Response:
    sub = _subscription(server, request)
    sub["active"] = True
    server.account.store.put_object("webhook_subscription", sub, position=1000)
    return ok({"webhook_subscription": _public(sub)}, server)


async def ping_subscription(request: Request, server: Server) -> Response:
    sub = _subscription(server, request)
    request.app.state.sender.ping(sub)
    return Response(status_code=202)


routes = [
    Route("/webhook_subscriptions", api_route(list_subscriptions), methods=["GET"]),
    Route("/webhook_subscriptions", api_route(create_subscription), methods=["POST"]),
    Route("/webhook_subscriptions/{id}", api_route(get_subscription), methods=["GET"]),
    Route("/webhook_subscriptions/{id}", api_route(update_subscription), methods=["PUT"]),
    Route("/webhook_subscriptions/{id}", api_route(delete_subscription), methods=["DELETE"]),
    Route("/webhook_subscriptions/{id}/enable", api_route(enable_subscription), methods=["POST"]),
    Route("/webhook_subscriptions/{id}/ping", api_route(ping_subscription), methods=["POST"]),
]
