"""PagerDuty JSON → ADS models. Pure functions over the documents the REST API returns."""

from __future__ import annotations

import re
from datetime import datetime
from typing import Any

from ...errors import ConfigError
from ...models import Alert, Incident, LogEntry, Note, OnCall

__all__ = [
    "github_handle",
    "incident_from_api",
    "to_alert",
    "to_incident",
    "to_log_entry",
    "to_note",
    "to_oncall",
]

Doc = dict[str, Any]
_GITHUB = re.compile(r"github:\s*@?([A-Za-z0-9](?:[A-Za-z0-9-]{0,38}))", re.IGNORECASE)


def github_handle(user: Doc) -> str | None:
    """The GitHub handle a user carries in their description as ``GitHub: @handle``."""
    found = _GITHUB.search(str(user.get("description") or ""))
    return found.group(1) if found else None


def _time(value: Any) -> datetime | None:
    if not value:
        return None
    return datetime.fromisoformat(str(value).replace("Z", "+00:00"))


def to_alert(doc: Doc) -> Alert:
    body = doc.get("body") or {}
    details = body.get("details")
    if not isinstance(details, dict):
        cef = body.get("cef_details") or {}
        details = cef.get("details") if isinstance(cef.get("details"), dict) else {}
    return Alert(
        id=doc["id"],
        summary=doc.get("summary") or "",
        severity=doc.get("severity"),
        created_at=_time(doc.get("created_at")),
        dedup_key=doc.get("alert_key"),
        custom_details=dict(details or {}),
    )


def to_log_entry(doc: Doc) -> LogEntry:
    return LogEntry(
        id=doc["id"],
        type=doc["type"],
        summary=doc.get("summary") or "",
        created_at=_time(doc.get("created_at")),
    )


def to_incident(
    doc: Doc, alerts: list[Alert] | None = None, log_entries: list[LogEntry] | None = None
) -> Incident:
    service = doc.get("service") or {}
    policy = doc.get("escalation_policy") or {}
    priority = doc.get("priority") or {}
    severities = [a.severity for a in alerts or [] if a.severity]
    created = _time(doc.get("created_at"))
    if created is None:
        raise ValueError(f"incident {doc.get('id')} has no created_at")
    return Incident(
        id=doc["id"],
        number=doc.get("incident_number"),
        title=doc.get("title") or doc.get("summary") or "",
        status=doc.get("status") or "",
        urgency=doc.get("urgency"),
        priority=priority.get("summary") if isinstance(priority, dict) else None,
        severity=severities[0] if severities else None,
        service_id=service.get("id"),
        service_name=service.get("summary"),
        escalation_policy_id=policy.get("id"),
        html_url=doc.get("html_url"),
        created_at=created,
        alerts=alerts or [],
        log_entries=log_entries or [],
        assignees=[a["assignee"]["id"] for a in doc.get("assignments") or []],
        assigned_to=[
            str(a["assignee"].get("summary") or a["assignee"]["id"])
            for a in doc.get("assignments") or []
        ],
    )


def to_oncall(doc: Doc, user: Doc | None) -> OnCall:
    ref = doc["user"]
    full = user or ref
    schedule = doc.get("schedule") or {}
    return OnCall(
        level=int(doc.get("escalation_level") or 0),
        user_id=ref["id"],
        name=full.get("name") or ref.get("summary") or "",
        email=full.get("email"),
        github=github_handle(full),
        schedule=schedule.get("summary") if schedule else None,
    )


def to_note(doc: Doc) -> Note:
    user = doc.get("user") or {}
    return Note(
        id=str(doc["id"]),
        content=str(doc.get("content") or ""),
        created_at=_time(doc.get("created_at")),
        user=user.get("summary") if isinstance(user, dict) else None,
    )


def incident_from_api(document: Any) -> Incident:
    """An incident from a saved ``GET /incidents/{id}`` body (``{"incident": {...}}`` or the
    bare incident); ``ConfigError`` says what is missing."""
    doc = document.get("incident", document) if isinstance(document, dict) else None
    if not isinstance(doc, dict):
        raise ConfigError("not a PagerDuty incident: expected a JSON object (GET /incidents/{id})")
    missing = [k for k in ("id", "created_at") if not doc.get(k)]
    if missing:
        raise ConfigError(f"not a PagerDuty incident: missing {', '.join(missing)}")
    try:
        return to_incident(doc)
    except (KeyError, TypeError, ValueError) as exc:
        raise ConfigError(f"not a PagerDuty incident: {exc}") from None
