"""Detection wiring: the monitors, and which of them page, through which PagerDuty, with
which routing key.

``ads run`` and ``ads demo`` run the service with ``run_locally`` and attach a
``RuntimeAlerter`` to the local runtime; ``ads watch`` opens the Kubernetes watcher with
``open_watch`` and gives it an ``on_oom`` handler (with a ``tick`` that flushes the outbox).
Both deliver through the same SQLite outbox in the state directory. The interfaces start the
monitors only through here.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from datetime import timedelta
from pathlib import Path
from typing import TYPE_CHECKING

from ..config import ServiceConfig, Settings
from ..errors import ConfigError
from ..models import OomEvent, RunResult
from ..sources.monitors.alerting import PagerDutySender, RuntimeAlerter, oom_alert_handler
from ..sources.monitors.local_runtime import LocalRuntime, RunObserver
from ..sources.outbox import Outbox
from .context import Context

if TYPE_CHECKING:
    from ..sources.monitors.kubernetes import KubernetesWatcher

__all__ = [
    "AlertHandler",
    "RunObserver",
    "make_alert_handler",
    "open_watch",
    "run_locally",
    "runtime_alerter",
    "send_change_event",
]


def _routing_key(settings: Settings) -> str:
    key = settings.secrets.routing_key
    if not key:
        raise ConfigError(
            "PAGERDUTY_ROUTING_KEY is not set",
            hint="the Events API v2 integration key of the service in PagerDuty",
        )
    return key


def run_locally(
    service: ServiceConfig,
    repo: Path,
    observers: Sequence[RunObserver] = (),
    *,
    max_kills: int | None = None,
    duration: float | None = None,
    build: bool = True,
) -> RunResult:
    """Run ``service`` from ``repo`` on this machine under its memory limit (a memory cgroup),
    restarted like a kubelet, until ``max_kills`` OOM kills or ``duration`` seconds.

    ``observers`` see every step: the terminal's live status, ``runtime_alerter``'s pager.
    """
    runtime = LocalRuntime(service, repo, observers=observers)
    return runtime.run(max_kills=max_kills, duration=duration, build=build)


def open_watch(
    settings: Settings,
    kubeconfig: str | Path | None,
    state_path: Path | None,
    on_oom: Callable[[OomEvent], None],
    *,
    notice: Callable[[str], None] | None = None,
    max_kill_age: timedelta | None = timedelta(hours=1),
) -> KubernetesWatcher:
    """The Kubernetes watcher of ``ads watch``, for every service in ``settings`` that says
    where it runs; kubeconfig, state file and targets are checked before anything is watched.

    The ``kubernetes`` client is imported here, when a watch is opened, not with the workflow.
    """
    from ..sources.monitors import kubernetes

    return kubernetes.open_watch(
        settings, kubeconfig, state_path, on_oom, notice=notice, max_kill_age=max_kill_age
    )


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
