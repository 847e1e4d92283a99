"""How an answer is shown, as the request asks: ``include[]`` (references expanded into the
objects they name) and ``time_zone`` (times in that zone instead of UTC).

PagerDuty answers references unless ``include[]`` names the kind; an unknown include, or a time
zone that is not an IANA name, is a 400 in its error shape.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from starlette.requests import Request

from .http import ApiError, Server, list_param

__all__ = ["INCIDENT_INCLUDES", "in_time_zone", "includes", "time_zone", "with_included"]

Doc = dict[str, Any]
INCIDENT_INCLUDES = {
    "acknowledgers", "agents", "assignees", "conference_bridge", "escalation_policies",
    "first_trigger_log_entries", "priorities", "services", "teams", "users",
}  # fmt: skip
_TIME_KEYS = ("created_at", "updated_at", "resolved_at", "last_status_change_at", "at",
              "start", "end", "timestamp", "requested_at")  # fmt: skip


def includes(request: Request, allowed: set[str]) -> set[str]:
    wanted = set(list_param(request, "include") or [])
    unknown = sorted(wanted - allowed)
    if unknown:
        raise ApiError.invalid(f"Invalid include[]: {', '.join(unknown)}")
    return wanted


def _full(server: Server, kind: str, ref: Any) -> Any:
    if not isinstance(ref, dict) or "id" not in ref:
        return ref
    if kind == "priority":
        found = next((p for p in server.account.priorities() if p["id"] == ref["id"]), None)
    else:
        found = server.account.store.get_object(kind, ref["id"])
    return found if found is not None else ref


def with_included(server: Server, incident: Doc, wanted: set[str]) -> Doc:
    """The incident with the references ``wanted`` names replaced by the objects."""
    if not wanted:
        return incident
    doc = dict(incident)
    if "services" in wanted:
        doc["service"] = _full(server, "service", doc.get("service"))
    if "escalation_policies" in wanted:
        doc["escalation_policy"] = _full(server, "escalation_policy", doc.get("escalation_policy"))
    if "teams" in wanted:
        doc["teams"] = [_full(server, "team", t) for t in doc.get("teams", [])]
    if "priorities" in wanted and doc.get("priority"):
        doc["priority"] = _full(server, "priority", doc["priority"])
    if wanted & {"assignees", "users"}:
        doc["assignments"] = [
            {**a, "assignee": _full(server, "user", a["assignee"])}
            for a in doc.get("assignments", [])
        ]
    if wanted & {"acknowledgers", "users"}:
        doc["acknowledgements"] = [
            {**a, "acknowledger": _full(server, "user", a["acknowledger"])}
            if a.get("acknowledger", {}).get("type") == "user_reference"
            else a
            for a in doc.get("acknowledgements", [])
        ]
    if "first_trigger_log_entries" in wanted and doc.get("first_trigger_log_entry"):
        entry = server.account.store.get_log_entry(doc["first_trigger_log_entry"]["id"])
        doc["first_trigger_log_entry"] = entry or doc["first_trigger_log_entry"]
    return doc


def time_zone(request: Request) -> ZoneInfo | None:
    name = request.query_params.get("time_zone")
    if not name:
        return None
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        raise ApiError.invalid(f"Invalid time_zone {name!r}: give an IANA name") from None


def in_time_zone(value: Any, zone: ZoneInfo | None) -> Any:
    """``value`` with every UTC time string under a time key shown in ``zone``."""
    if zone is None:
        return value
    if isinstance(value, dict):
        return {
            key: _shifted(item, zone) if key in _TIME_KEYS else in_time_zone(item, zone)
            for key, item in value.items()
        }
    if isinstance(value, list):
        return [in_time_zone(item, zone) for item in value]
    return value


def _shifted(item: Any, zone: ZoneInfo) -> Any:
    if not isinstance(item, str) or not item.endswith("Z"):
        return item
    try:
        moment = datetime.fromisoformat(item.replace("Z", "+00:00"))
    except ValueError:
        return item
    return moment.astimezone(zone).isoformat()
