"""PagerDuty for ADS: ``PagerDuty`` (REST v2 + Events v2 over PagerDuty's own client) and the
helpers that turn its JSON into ADS models."""

from __future__ import annotations

from .client import DEFAULT_API_URL, DEFAULT_EVENTS_URL, PagerDuty
from .convert import (
    github_handle,
    incident_from_api,
    to_alert,
    to_incident,
    to_log_entry,
    to_note,
    to_oncall,
)

__all__ = [
    "DEFAULT_API_URL",
    "DEFAULT_EVENTS_URL",
    "PagerDuty",
    "github_handle",
    "incident_from_api",
    "to_alert",
    "to_incident",
    "to_log_entry",
    "to_note",
    "to_oncall",
]
