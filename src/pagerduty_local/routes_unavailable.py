"""PagerDuty's families outside incident response, answered as PagerDuty answers an account that
lacks the feature: ``402 Payment Required`` in its error shape (the OpenAPI description's
``PaymentRequired``: "Account does not have the abilities to perform the action"), after the
token check, for every method and sub-path. A client learns the feature is not on this account,
never that the route is missing; ``GET /abilities`` lists what the account has.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from .http import ApiError, Server, api_route, ok

__all__ = ["ABILITIES", "FAMILIES", "routes"]

# path prefix → the ability (PagerDuty's name) an account needs for it
FAMILIES = {
    "/event_orchestrations": "event_orchestration",
    "/status_pages": "status_pages",
    "/analytics": "analytics",
    "/v3/schedules": "shift_based_schedules",
    "/alert_grouping_settings": "content_based_alert_grouping",
    "/incident_workflows": "incident_workflows",
    "/business_services": "business_services",
    "/service_dependencies/business_services": "business_services",
    "/extension_schemas": "extensions",
    "/extensions": "extensions",
    "/automation_actions": "automation_actions",
    "/rulesets": "event_rules",
    "/response_plays": "response_plays",
    "/status_dashboards": "status_dashboards",
    "/workflows": "incident_workflows",
}
# What this account can do: incident response.
ABILITIES = [
    "teams",
    "read_only_users",
    "urgencies",
    "coordinated_responding",
    "manage_schedules",
    "manage_api_keys",
    "webhooks_v3",
    "change_events",
    "incident_priorities",
]
_METHODS = ["GET", "POST", "PUT", "PATCH", "DELETE"]


def payment_required(ability: str) -> ApiError:
    return ApiError(
        402,
        "Payment Required",
        2012,
        [
            "Account does not have the abilities to perform the action. Please review the "
            f"response for the required abilities. Required ability: {ability}"
        ],
    )


def _unavailable(ability: str) -> Callable[[Request], Awaitable[Response]]:
    async def handler(request: Request, server: Server) -> Response:
        raise payment_required(ability)

    handler.__name__ = f"unavailable_{ability}"
    return api_route(handler)


async def list_abilities(request: Request, server: Server) -> Response:
    return ok({"abilities": ABILITIES}, server)


async def test_ability(request: Request, server: Server) -> Response:
    ability = request.path_params["id"]
    if ability in ABILITIES:
        return Response(status_code=204)
    raise payment_required(ability)


routes = [
    Route("/abilities", api_route(list_abilities), methods=["GET"]),
    Route("/abilities/{id}", api_route(test_ability), methods=["GET"]),
    *(
        route
        for prefix, ability in FAMILIES.items()
        for route in (
            Route(prefix, _unavailable(ability), methods=_METHODS),
            Route(prefix + "/{rest:path}", _unavailable(ability), methods=_METHODS),
        )
    ),
]
