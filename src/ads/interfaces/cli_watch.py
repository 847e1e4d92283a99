"""``ads watch``: the Kubernetes watcher from the terminal or a Deployment in the cluster.

It watches the pods of every service in ``ads.yaml`` that says where it runs in Kubernetes
(``kubernetes.label_selector`` or ``kubernetes.deployment``) and hands each new OOM kill to the
alert handler that ``ads.workflow.make_alert_handler(settings)`` builds (PagerDuty events
through the outbox), printing each. Its ``tick()`` is called every few seconds, so that alerts
queued while PagerDuty was unreachable go out when it is back even if no new kill comes.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from datetime import timedelta
from pathlib import Path
from typing import TYPE_CHECKING

import click

from ..units import format_quantity
from .cli_common import config_option, reports_errors

if TYPE_CHECKING:
    from ..config import Settings
    from ..models import OomEvent

__all__ = ["alert_handler", "describe_kill", "watch"]


def describe_kill(event: OomEvent) -> str:
    """One line for a kill: where, which restart, under which limit, when."""
    where = f"{event.namespace or '?'}/{event.pod or '?'}/{event.container or '?'}"
    limit = format_quantity(event.memory_limit) if event.memory_limit else "no limit"
    workload = event.workload or "unknown workload"
    return (
        f"[bold red]{event.reason}[/] {where} ({workload}, {limit}, "
        f"restart {event.restart_count}, exit {event.exit_code}) at {event.killed_at.isoformat()}"
    )


def _print_kill(event: OomEvent) -> None:
    from .console import console

    console.print(describe_kill(event), highlight=False)


def alert_handler(settings: Settings) -> Callable[[OomEvent], None]:
    """Print each kill and page PagerDuty for it (``ads.workflow.make_alert_handler``)."""
    from ..workflow import make_alert_handler

    handler = make_alert_handler(settings)

    def print_and_alert(event: OomEvent) -> None:
        _print_kill(event)
        handler(event)

    print_and_alert.tick = getattr(handler, "tick", None)  # type: ignore[attr-defined]
    return print_and_alert


@click.command()
@config_option
@click.option(
    "--kubeconfig",
    type=click.Path(dir_okay=False, path_type=Path),
    default=None,
    help="kubeconfig to use (default: in-cluster config inside a pod, else ~/.kube/config).",
)
@click.option(
    "--state",
    "state_path",
    type=click.Path(dir_okay=False, path_type=Path),
    default=None,
    help="SQLite file remembering the kills already alerted (default: <state_dir>/watch.db).",
)
@click.option(
    "--max-kill-age",
    type=click.FloatRange(min=0),
    default=60.0,
    show_default=True,
    help="Minutes: kills older than this when first seen are remembered, not alerted"
    " (0: alert every kill found).",
)
@reports_errors
def watch(
    config_path: Path | None,
    kubeconfig: Path | None,
    state_path: Path | None,
    max_kill_age: float,
) -> None:
    """Watch Kubernetes for OOMKilled containers and alert once per kill.

    An API server that cannot be reached is an error at start; one lost later is retried,
    and said again while it lasts.

    \b
    Examples:
      ads watch --kubeconfig ~/.kube/config
      ads watch --config ads.yaml --max-kill-age 0
    """
    from ..config import load_settings
    from ..workflow import open_watch
    from .console import console, err_console

    settings = load_settings(config_path)
    watcher = open_watch(
        settings,
        kubeconfig,
        state_path,
        _print_kill,
        notice=lambda message: err_console.print(f"[yellow]{message}[/]", highlight=False),
        max_kill_age=timedelta(minutes=max_kill_age) if max_kill_age > 0 else None,
    )
    try:
        # Built once the cluster side is known good, so its errors (e.g. no routing key) come
        # after, not instead of, a wrong kubeconfig.
        watcher.on_oom = handler = alert_handler(settings)
        names = ", ".join(f"{t.namespace}/{t.label_selector}" for t in watcher.targets)
        console.print(f"watching pods {names} for OOM kills (Ctrl-C to stop)", highlight=False)
        watcher.run(threading.Event(), tick=getattr(handler, "tick", None))
    finally:
        watcher.close()
