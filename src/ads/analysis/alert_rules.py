"""Alert rules: which terminations page, and the PagerDuty event an ``OomEvent`` becomes.

Pure functions, shared by the local runtime and the Kubernetes watcher, so both page the same
way. The ``dedup_key`` is stable per container (``oomkilled/<namespace>/<workload>/<container>``)
so a crash loop is one incident with one alert per kill, not fifty incidents. ``custom_details``
carries everything the diagnosis needs later; what a monitor could not know is ``"unknown"``.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

from ..config import AlertRules
from ..models import OomEvent
from ..units import format_quantity

__all__ = [
    "AlertEvent",
    "build_alert_event",
    "change_event",
    "dedup_key",
    "resolve_event",
    "should_alert",
]

UNKNOWN = "unknown"


@dataclass(frozen=True)
class AlertEvent:
    """An Events API v2 event, ready for the PagerDuty facade: a ``trigger`` (the default), a
    ``resolve`` of ``dedup_key``, or a ``change`` event (a deploy); one type so that all three
    go through the same on-disk outbox and none is lost while PagerDuty is unreachable."""

    summary: str
    source: str
    severity: str
    dedup_key: str
    component: str
    group: str
    class_: str
    timestamp: datetime
    custom_details: dict[str, object] = field(default_factory=dict)
    action: str = "trigger"


def dedup_key(namespace: str | None, workload: str | None, container: str | None) -> str:
    """``oomkilled/<namespace>/<workload>/<container>``, with ``unknown`` for what is missing."""
    parts = (namespace or UNKNOWN, workload or UNKNOWN, container or UNKNOWN)
    return "oomkilled/" + "/".join(parts)


def should_alert(event: OomEvent, rules: AlertRules) -> bool:
    """OOMKilled pages when enabled; CrashLoopBackOff after N restarts; listed exit codes."""
    if event.reason == "OOMKilled":
        return rules.oomkilled
    if rules.crashloop_after_restarts is not None and (
        event.restart_count >= rules.crashloop_after_restarts
    ):
        return True
    return event.exit_code in rules.exit_codes


def build_alert_event(event: OomEvent, rules: AlertRules) -> AlertEvent:
    """The trigger for one kill: summary, source, severity, dedup_key and all the details."""
    limit = format_quantity(event.memory_limit) if event.memory_limit else "no"
    workload = event.workload or event.service
    # The first kill's summary becomes the incident's title and later kills join that incident,
    # so the title says nothing that goes stale (a restart count): the details carry it.
    summary = f"{workload} {event.reason} ({limit} limit)"
    details: dict[str, object] = {
        "service": event.service,
        "namespace": event.namespace or UNKNOWN,
        "workload": workload,
        "pod": event.pod or UNKNOWN,
        "container": event.container or UNKNOWN,
        "node": event.node or UNKNOWN,
        "image": event.image or UNKNOWN,
        "git_sha": event.git_sha or UNKNOWN,
        "exit_code": event.exit_code,
        "reason": event.reason,
        "restart_count": event.restart_count,
        "memory_limit": format_quantity(event.memory_limit) if event.memory_limit else UNKNOWN,
        "memory_limit_bytes": event.memory_limit if event.memory_limit else UNKNOWN,
        "peak_usage_bytes": event.peak_usage if event.peak_usage is not None else UNKNOWN,
        "killed_at": event.killed_at.isoformat(),
        "started_at": event.started_at.isoformat() if event.started_at else UNKNOWN,
        "seconds_to_kill": (
            round(event.seconds_to_kill, 3) if event.seconds_to_kill is not None else UNKNOWN
        ),
        "reproduction": event.mode.value,
    }
    return AlertEvent(
        summary=summary,
        source=event.pod or event.node or event.service,
        severity=rules.severity,
        dedup_key=dedup_key(event.namespace, workload, event.container),
        component=event.container or event.service,
        group=event.namespace or UNKNOWN,
        class_=event.reason,
        timestamp=event.killed_at,
        custom_details=details,
    )


def resolve_event(key: str, *, source: str, at: datetime) -> AlertEvent:
    """Resolve the incident of ``key`` (the service has been healthy long enough)."""
    return AlertEvent(
        summary=f"resolve {key}", source=source, severity="info", dedup_key=key,
        component="", group="", class_="", timestamp=at, action="resolve",
    )  # fmt: skip


def change_event(
    summary: str, *, source: str, at: datetime, details: dict[str, object]
) -> AlertEvent:
    """A Change Event (a build or deploy), so the incident's related changes show it."""
    key = f"change/{details.get('git_sha', summary)}"
    return AlertEvent(
        summary=summary, source=source, severity="info", dedup_key=key, component="",
        group="", class_="", timestamp=at, custom_details=details, action="change",
    )  # fmt: skip
