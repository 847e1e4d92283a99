"""Events API v2: ``POST /v2/enqueue`` (trigger / acknowledge / resolve) and
``POST /v2/change/enqueue``, with PagerDuty's 202 and ``{"status", "message", "errors"}`` 400s.

Every check runs before anything is written, so a rejected event changes nothing. A body is
read with its limit (``MAX_EVENT_BYTES``, PagerDuty's 512 KB: a larger declared length is refused
before reading) and parsed with the nesting bound of ``_json``.
"""

from __future__ import annotations

from typing import Any

from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from ._json import JsonInputError, JsonTooDeep, parse_json
from .account import new_id, reference
from .http import Server
from .limits import BodyTooLarge, read_body
from .oncall import format_time, parse_time

__all__ = ["MAX_EVENT_BYTES", "routes"]

Doc = dict[str, Any]
MAX_EVENT_BYTES = 512 * 1024
_SEVERITIES = ("critical", "error", "warning", "info")
_ACTIONS = ("trigger", "acknowledge", "resolve")


class InvalidEvent(Exception):
    def __init__(
        self, *errors: str, status: str = "invalid event", message: str = "Event object is invalid"
    ) -> None:
        super().__init__(message)
        self.errors = list(errors)
        self.status = status
        self.message = message


def _invalid(error: InvalidEvent) -> JSONResponse:
    return JSONResponse(
        {"status": error.status, "message": error.message, "errors": error.errors},
        status_code=400,
    )


async def _event(request: Request) -> Doc:
    try:
        raw = await read_body(request, MAX_EVENT_BYTES)
    except BodyTooLarge:
        raise InvalidEvent(
            f"Event payload exceeds the {MAX_EVENT_BYTES // 1024} KB limit"
        ) from None
    try:
        event = parse_json(raw)
    except JsonTooDeep as exc:
        raise InvalidEvent(str(exc)) from None
    except JsonInputError:
        raise InvalidEvent(
            "JSON parse error",
            status="Unrecognized object",
            message="Event object format is unrecognized",
        ) from None
    if not isinstance(event, dict):
        raise InvalidEvent(
            "JSON parse error",
            status="Unrecognized object",
            message="Event object format is unrecognized",
        )
    return event


def _routing(server: Server, event: Doc) -> tuple[Doc, Doc]:
    key = event.get("routing_key")
    if not isinstance(key, str) or len(key) != 32:
        raise InvalidEvent("Length of 'routing_key' is incorrect (should be 32 characters)")
    integration = server.account.store.get_object("routing_key", key)
    service = (
        server.account.store.get_object("service", integration["service_id"])
        if integration
        else None
    )
    if integration is None or service is None:
        raise InvalidEvent("'routing_key' does not match any Events API v2 integration")
    return service, integration


def _timestamp(payload: Doc, errors: list[str]) -> None:
    stamp = payload.get("timestamp")
    if stamp is None:
        return
    try:
        parse_time(str(stamp))
    except ValueError:
        errors.append("'payload.timestamp' is not a valid ISO 8601 timestamp")


def _check_trigger(event: Doc) -> None:
    payload = event.get("payload")
    if not isinstance(payload, dict):
        raise InvalidEvent("'payload' is missing or not an object")
    errors: list[str] = []
    for field in ("summary", "source"):
        value = payload.get(field)
        if not isinstance(value, str) or not value.strip():
            errors.append(f"'payload.{field}' is missing or blank")
    if isinstance(payload.get("summary"), str) and len(payload["summary"]) > 1024:
        errors.append("'payload.summary' is longer than 1024 characters")
    if payload.get("severity") not in _SEVERITIES:
        errors.append("'payload.severity' must be one of " + ", ".join(_SEVERITIES))
    details = payload.get("custom_details")
    if details is not None and not isinstance(details, dict | str | list | int | float):
        errors.append("'payload.custom_details' must be an object")
    _timestamp(payload, errors)
    key = event.get("dedup_key")
    if key is not None and (not isinstance(key, str) or len(key) > 255):
        errors.append("'dedup_key' must be a string of at most 255 characters")
    if errors:
        raise InvalidEvent(*errors)


async def enqueue(request: Request) -> Response:
    server: Server = request.app.state.pd
    try:
        event = await _event(request)
        service, integration = _routing(server, event)
        action = event.get("event_action")
        if action not in _ACTIONS:
            raise InvalidEvent("'event_action' must be one of trigger, acknowledge, resolve")
        if action == "trigger":
            _check_trigger(event)
            dedup_key = server.book.trigger(service, integration, event)
        else:
            given = event.get("dedup_key")
            if not isinstance(given, str) or not given:
                raise InvalidEvent(f"'dedup_key' is required to {action}")
            server.book.act_on_dedup(service, given, action)
            dedup_key = given
    except InvalidEvent as error:
        return _invalid(error)
    return JSONResponse(
        {"status": "success", "message": "Event processed", "dedup_key": dedup_key},
        status_code=202,
    )


async def change_enqueue(request: Request) -> Response:
    server: Server = request.app.state.pd
    try:
        event = await _event(request)
        service, integration = _routing(server, event)
        payload = event.get("payload")
        if not isinstance(payload, dict):
            raise InvalidEvent("'payload' is missing or not an object")
        errors: list[str] = []
        if not isinstance(payload.get("summary"), str) or not payload["summary"].strip():
            errors.append("'payload.summary' is missing or blank")
        _timestamp(payload, errors)
        if errors:
            raise InvalidEvent(*errors)
    except InvalidEvent as error:
        return _invalid(error)
    now = server.account.now()
    stamp = (
        format_time(parse_time(str(payload["timestamp"])))
        if payload.get("timestamp")
        else format_time(now)
    )
    change_id = new_id("Q", 14)
    server.account.store.add_change_event(
        service["id"],
        {
            "id": change_id,
            "type": "change_event",
            "summary": payload["summary"],
            "self": f"/change_events/{change_id}",
            "html_url": None,
            "timestamp": stamp,
            "source": payload.get("source"),
            "services": [reference("service", service["id"], service["name"])],
            "integration": {
                "id": integration["integration_id"],
                "type": "inbound_integration_reference",
                "summary": integration["integration_name"],
                "self": f"/services/{service['id']}/integrations/{integration['integration_id']}",
                "html_url": None,
            },
            "routing_key": integration["id"],
            "links": event.get("links") or [],
            "custom_details": payload.get("custom_details") or {},
        },
    )
    return JSONResponse(
        {"status": "success", "message": "Change event processed"},
        status_code=202,
    )


routes = [
    Route("/v2/enqueue", enqueue, methods=["POST"]),
    Route("/v2/change/enqueue", change_enqueue, methods=["POST"]),
]
