"""REST v2 ``/webhook_subscriptions``: list and create v3 subscriptions (secret shown once)."""

from __future__ import annotations

import secrets

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from .account import new_id
from .http import ApiError, Server, api_route, ok, page_params, read_json

__all__ = ["routes"]

_EVENTS = {
    "incident.triggered",
    "incident.acknowledged",
    "incident.resolved",
    "incident.annotated",
    "incident.escalated",
    "incident.reassigned",
}


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
    target = sub.get("filter") or {"type": "account_reference"}
    if not isinstance(target, dict) or target.get("type") not in (
        "account_reference",
        "service_reference",
    ):
        raise ApiError.invalid("filter.type must be account_reference or service_reference")
    if target["type"] == "service_reference" and not server.account.store.get_object(
        "service", str(target.get("id"))
    ):
        raise ApiError.invalid("filter.id is not a service")
    created = {
        "id": new_id(),
        "type": "webhook_subscription",
        "active": True,
        "description": str(sub.get("description", "")),
        "events": events,
        "filter": {"type": target["type"], **({"id": target["id"]} if "id" in target else {})},
        "delivery_method": {
            "type": "http_delivery_method",
            "url": url,
            "secret": secrets.token_urlsafe(32),
            "custom_headers": [],
        },
    }
    server.account.store.put_object("webhook_subscription", created, position=1000)
    return ok({"webhook_subscription": created}, server)


routes = [
    Route("/webhook_subscriptions", api_route(list_subscriptions), methods=["GET"]),
    Route("/webhook_subscriptions", api_route(create_subscription), methods=["POST"]),
]
