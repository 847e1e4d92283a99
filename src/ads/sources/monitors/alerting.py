"""OOM kills → PagerDuty: the sender both monitors use, and the local runtime's observer.

Every kill becomes an Events v2 trigger with the stable ``oomkilled/...`` dedup_key, sent
through the SQLite outbox so nothing is lost while PagerDuty is unreachable (the operator is
told once) and an invalid routing key is reported once instead of retried forever. The local
runtime also sends a Change Event whenever it builds a git sha different from the last one it
saw (so the incident's related changes show the deploy), and resolves the incident by dedup_key
once the service has run healthy for ``alert_rules.resolve_after_healthy_seconds`` after a kill;
change events and resolves go through the same outbox as the triggers.
"""

from __future__ import annotations

import json
import socket
import time
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path

from ...analysis.alert_rules import (
    AlertEvent,
    build_alert_event,
    change_event,
    resolve_event,
    should_alert,
)
from ...config import ServiceConfig
from ...errors import AdsError, PagerDutyError, TemporaryError
from ...models import Incident, MemorySample, OomEvent
from ..outbox import DeliveryStatus, Outbox
from ..pagerduty import PagerDuty
from ..repository import GitRepository
from .local_runtime import RunObserver

#: waits before each look-up of the incident an accepted event opened or joined (6.5 s in all)
_LOOKUP_PAUSES = (0.0, 0.5, 1.0, 2.0, 3.0)

__all__ = ["PagerDutySender", "RuntimeAlerter", "oom_alert_handler"]


class PagerDutySender:
    """The outbox's ``AlertSender`` over the PagerDuty facade and one routing key."""

    def __init__(self, pagerduty: PagerDuty, routing_key: str) -> None:
        self.pagerduty = pagerduty
        self.routing_key = routing_key

    def send(self, alert: AlertEvent) -> None:
        if alert.action == "resolve":
            self.pagerduty.resolve_event(self.routing_key, alert.dedup_key)
            return
        if alert.action == "change":
            self.pagerduty.change_event(
                self.routing_key,
                alert.summary,
                source=alert.source,
                custom_details=alert.custom_details,
            )
            return
        self.pagerduty.trigger(
            self.routing_key,
            alert.summary,
            alert.source,
            severity=alert.severity,
            dedup_key=alert.dedup_key,
            custom_details=alert.custom_details,
            component=alert.component,
            group=alert.group,
            class_=alert.class_,
        )


def oom_alert_handler(
    service_for: Callable[[OomEvent], ServiceConfig | None],
    outbox: Outbox,
    sender: PagerDutySender,
) -> Callable[[OomEvent], None]:
    """An ``on_oom`` for the Kubernetes watcher: apply the service's rules, deliver via outbox."""

    def handle(event: OomEvent) -> None:
        service = service_for(event)
        if service is None or not should_alert(event, service.alert_rules):
            return
        outbox.deliver(build_alert_event(event, service.alert_rules), sender)

    return handle


class RuntimeAlerter(RunObserver):
    """Pages for the local runtime: triggers, change events for new builds, resolve when healthy."""

    def __init__(
        self,
        service: ServiceConfig,
        repo: Path,
        sender: PagerDutySender,
        outbox: Outbox,
        state_file: Path,
        *,
        notify: Callable[[str], None] | None = None,
    ) -> None:
        self.service = service
        self.repo = repo
        self.sender = sender
        self.outbox = outbox
        self.state_file = state_file
        self.notify = notify or (lambda message: None)
        self.state = self._load()
        self.run_started_at: float | None = None
        self.delivered: list[AlertEvent] = []
        self.created_at = datetime.now(UTC)
        self.incidents: dict[str, Incident] = {}  # id → the incident a kill went to

    def _load(self) -> dict[str, str | None]:
        try:
            data = json.loads(self.state_file.read_text())
        except (OSError, ValueError):
            return {"last_sha": None, "open_dedup_key": None}
        return {"last_sha": data.get("last_sha"), "open_dedup_key": data.get("open_dedup_key")}

    def _save(self) -> None:
        self.state_file.parent.mkdir(parents=True, exist_ok=True)
        self.state_file.write_text(json.dumps(self.state))

    def built(self, git_sha: str | None) -> None:
        if not git_sha or git_sha == self.state["last_sha"]:
            return
        subject = GitRepository(self.repo).subject(git_sha)
        summary = f"Built {self.service.name} at {git_sha[:12]}: {subject}".rstrip(": ")
        details: dict[str, object] = {
            "git_sha": git_sha, "subject": subject, "service": self.service.name,
        }  # fmt: skip
        event = change_event(
            summary, source=socket.gethostname(), at=datetime.now(UTC), details=details
        )
        self._refused(self.outbox.deliver(event, self.sender), "the change event")
        self.state["last_sha"] = git_sha
        self._save()

    def started(self, restart: int, pid: int) -> None:
        self.run_started_at = None

    def oom_killed(self, event: OomEvent) -> None:
        self.outbox.flush_if_due(self.sender)
        rules = self.service.alert_rules
        if not should_alert(event, rules):
            return
        alert = build_alert_event(event, rules)
        already_open = self._open_incidents(alert.dedup_key)
        status = self.outbox.deliver(alert, self.sender)
        self._refused(status, "the OOM alert")
        self.delivered.append(alert)
        self.state["open_dedup_key"] = alert.dedup_key
        self._save()
        if status is DeliveryStatus.SENT:
            self._say_which_incident(alert.dedup_key, already_open)

    def _refused(self, status: DeliveryStatus, what: str) -> None:
        """A rejected event (a wrong routing key, say) stops the run: paging was asked for and
        cannot happen, so carrying on would only look as if it did."""
        if status is DeliveryStatus.REJECTED:
            raise PagerDutyError(
                f"PagerDuty refused {what} for {self.service.name}",
                hint="check PAGERDUTY_ROUTING_KEY: the Events API v2 integration key of the "
                "service; the outbox keeps the event",
            )

    def _open_incidents(self, dedup_key: str) -> set[str] | None:
        """Ids of the open incidents this dedup_key already has, before the kill is sent: the
        kill joins one of them rather than opening a new one. None when they cannot be listed."""
        try:
            return {incident.id for incident in self._open_with(dedup_key)}
        except AdsError:
            return None

    def _open_with(self, dedup_key: str) -> list[Incident]:
        return self.sender.pagerduty.list_incidents(
            statuses=["triggered", "acknowledged"], incident_key=dedup_key
        )

    def _say_which_incident(self, dedup_key: str, already_open: set[str] | None = None) -> None:
        """Name the incident the kill opened or joined: PagerDuty adds a kill whose dedup_key
        matches an open incident to it, as an alert, instead of opening a new one."""
        found = []
        for pause in _LOOKUP_PAUSES:
            # PagerDuty turns an accepted event into an incident asynchronously: ask a few
            # times before giving up (it was paged either way; naming it is a courtesy)
            time.sleep(pause)
            try:
                found = self._open_with(dedup_key)
            except TemporaryError:
                continue  # a slow or busy PagerDuty: ask again
            except AdsError:
                return  # no token to list incidents with, say: nothing to name
            if found:
                break
        if not found:
            return
        incident = max(found, key=lambda i: i.created_at)
        number = incident.number if incident.number is not None else incident.id
        url = f" {incident.html_url}" if incident.html_url else ""
        if incident.id in self.incidents:
            return  # said once per incident
        self.incidents[incident.id] = incident
        opened = (
            incident.id not in already_open
            if already_open is not None
            else incident.created_at >= self.created_at.replace(microsecond=0)
        )
        if opened:
            self.notify(f"opened PagerDuty incident #{number}: {incident.title}{url}")
            return
        self.notify(
            f"this kill joined the open PagerDuty incident #{number} (opened "
            f"{incident.created_at:%Y-%m-%d %H:%M} UTC) instead of opening a new one; "
            f"`ads resolve {number}` once it is fixed, so the next kill opens a new incident{url}"
        )

    def sample(self, sample: MemorySample, limit: int) -> None:
        if self.run_started_at is None:
            self.run_started_at = sample.t
        key = self.state["open_dedup_key"]
        healthy_for = sample.t - self.run_started_at
        if not key or healthy_for < self.service.alert_rules.resolve_after_healthy_seconds:
            return
        event = resolve_event(key, source=socket.gethostname(), at=datetime.now(UTC))
        status = self.outbox.deliver(event, self.sender)  # queued on disk if PagerDuty is down
        self.notify(f"{self.service.name} healthy for {healthy_for:.0f} s: resolve {key} {status}")
        self.state["open_dedup_key"] = None
        self._save()
