"""Detection wiring: which monitors page, through which PagerDuty, with which routing key.

``ads run`` and ``ads demo`` attach a ``RuntimeAlerter`` to the local runtime; ``ads watch``
gets an ``on_oom`` handler (with a ``tick`` that flushes the outbox) for the Kubernetes watcher.
Both deliver through the same SQLite outbox in the state directory.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from ..config import ServiceConfig, Settings
from ..errors import ConfigError
from ..models import OomEvent
from ..sources.monitors.alerting import PagerDutySender, RuntimeAlerter, oom_alert_handler
from ..sources.outbox import Outbox
from .context import Context

__all__ = ["AlertHandler", "make_alert_handler", "runtime_alerter", "send_change_event"]


def _routing_key(settings: Settings) -> str:
    key = settings.secrets.routing_key
    if not key:
        raise ConfigError(
            "PAGERDUTY_ROUTING_KEY is not set",
            hint="the Events API v2 integration key of the service in PagerDuty",
        )
    return key


def runtime_alerter(
    ctx: Context,
    service: ServiceConfig,
    repo: Path,
    *,
    routing_key: str | None = None,
    notify: Callable[[str], None] | None = None,
) -> RuntimeAlerter:
    """The local runtime's observer that pages PagerDuty for each OOM kill."""
    state = ctx.settings.state_dir
    sender = PagerDutySender(ctx.pagerduty, routing_key or _routing_key(ctx.settings))
    outbox = Outbox(state / "outbox.db", notify=notify)
    return RuntimeAlerter(
        service, repo, sender, outbox, state / f"runtime-{service.name}.json", notify=notify
    )


class AlertHandler:
    """``on_oom`` for ``ads watch``: alert rules, then the outbox; ``tick`` flushes it."""

    def __init__(self, ctx: Context, notify: Callable[[str], None] | None = None) -> None:
        self.settings = ctx.settings
        self.sender = PagerDutySender(ctx.pagerduty, _routing_key(ctx.settings))
        self.outbox = Outbox(ctx.settings.state_dir / "outbox.db", notify=notify)
        self._handle = oom_alert_handler(self._service_for, self.outbox, self.sender)

    def _service_for(self, event: OomEvent) -> ServiceConfig | None:
        return self.settings.services.get(event.service)

    def __call__(self, event: OomEvent) -> None:
        self._handle(event)

    def tick(self) -> None:
        self.outbox.flush_if_due(self.sender)


def make_alert_handler(settings: Settings) -> AlertHandler:
    """What ``ads watch`` calls for every new OOM kill."""
    return AlertHandler(Context.from_settings(settings))


def send_change_event(ctx: Context, service: ServiceConfig, summary: str | None = None) -> str:
    """Tell PagerDuty a deploy of ``service`` happened (its repo's HEAD); the sha sent."""
    repo = ctx.repository(service)
    sha = repo.head_sha()
    text = summary or f"Deploy {service.name} at {sha[:12]}"
    ctx.pagerduty.change_event(
        _routing_key(ctx.settings),
        f"{text} ({sha[:12]})" if sha[:12] not in text else text,
        source=service.kubernetes.deployment or service.name,
        custom_details={"git_sha": sha, "service": service.name,
                        "namespace": service.kubernetes.namespace},
    )  # fmt: skip
    return sha
