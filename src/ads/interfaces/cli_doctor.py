"""``ads doctor``: the brief's verification checklist, checked live, with how to fix each item.

One line per item: ✓ passed, ✗ failed (followed by how to fix it), – not applicable. Exit code 1
when any item failed, so it can gate a deployment or a CI job.
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import TYPE_CHECKING

import click

from .cli_common import config_option, reports_errors

if TYPE_CHECKING:
    from rich.text import Text

    from ..workflow.doctor import Check

__all__ = ["doctor", "render_check"]

_MARKS = {True: ("✓", "green"), False: ("✗", "bold red"), None: ("–", "dim")}


def render_check(check: Check, *, with_service: bool = False) -> Text:
    """The lines for one item: mark, name, what was found; the fix under a failed item."""
    from rich.text import Text

    mark, style = _MARKS[check.ok]
    line = Text()
    line.append(f"{mark} ", style=style)
    line.append(check.name, style="bold")
    if with_service and check.service:
        line.append(f" [{check.service}]", style="cyan")
    line.append(f": {check.detail}")
    if check.ok is False and check.fix:
        line.append("\n    fix: ", style="yellow")
        line.append(check.fix)
    return line


@click.command()
@config_option
@click.option(
    "--kubeconfig",
    type=click.Path(dir_okay=False, path_type=Path),
    default=None,
    help="Check the Kubernetes watcher with this kubeconfig (default: check that the local"
    " runtime can create memory cgroups; inside a pod, the in-cluster config).",
)
@click.option(
    "--service", "service_name", default=None, help="Service in ads.yaml (default: every one)."
)
@reports_errors
def doctor(config_path: Path | None, kubeconfig: Path | None, service_name: str | None) -> None:
    """Check the verification checklist live: PagerDuty integration, monitoring, OOMKilled
    alert rule, repository access, on-call schedule, escalation policy.

    PagerDuty comes from PAGERDUTY_API_TOKEN / PAGERDUTY_API_HOST (ADS_PAGERDUTY_CA or
    SSL_CERT_FILE for a server with its own CA); PAGERDUTY_ROUTING_KEY, when set, must be the
    key of the service's Events API v2 integration. Exits 1 if any item fails.

    \b
    Examples:
      ads doctor
      ads doctor --service ads-demo-service --kubeconfig ~/.kube/config
    """
    from rich.text import Text

    from ..config import load_settings
    from ..workflow.context import Context
    from ..workflow.doctor import run_checks
    from .console import console

    ctx = Context.from_settings(load_settings(config_path))
    with console.status("checking…"):
        checks = run_checks(ctx, kubeconfig=kubeconfig, service=service_name)
    several = len({c.service for c in checks}) > 1
    for check in checks:
        console.print(render_check(check, with_service=several), highlight=False, soft_wrap=True)
    failed = [c for c in checks if c.failed]
    passed = sum(1 for c in checks if c.ok)
    if failed:
        console.print(
            Text(f"{len(failed)} of {len(checks)} checks failed", style="bold red"),
            highlight=False,
        )
        sys.exit(1)
    console.print(Text(f"all {passed} checks passed", style="bold green"), highlight=False)
