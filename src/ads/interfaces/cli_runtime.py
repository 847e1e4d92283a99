"""``ads run`` and ``ads change``: the local runtime, and deploys announced to PagerDuty."""

from __future__ import annotations

from pathlib import Path

import click

from .cli_common import config_option, reports_errors

__all__ = ["change", "run"]


@click.command()
@click.argument("service")
@config_option
@click.option("--kills", type=click.IntRange(min=1), default=None, help="Stop after N OOM kills.")
@click.option(
    "--duration", type=click.FloatRange(min=0.1), default=None, help="Stop after SECONDS."
)
@click.option("--no-build", is_flag=True, help="Run the last build instead of building first.")
@click.option(
    "--page/--no-page",
    default=None,
    help="Send each OOM kill to PagerDuty (default: when PAGERDUTY_ROUTING_KEY is set).",
)
@reports_errors
def run(
    service: str,
    config_path: Path | None,
    kills: int | None,
    duration: float | None,
    no_build: bool,
    page: bool | None,
) -> None:
    """Run SERVICE under its memory limit in a local cgroup, restarting it like a kubelet.

    Every OOM kill by the kernel is recorded (exit code, peak usage, restart count, git sha).
    Runs until --kills or --duration is reached, or Ctrl-C. With --page each kill goes to
    PagerDuty and the incident it opened or joined is printed; a refused event (a wrong
    routing key) stops the run with a non-zero exit.

    \b
    Examples:
      ads run ads-demo-service --kills 3
      ads run ads-demo-service --kills 1 --page      # needs PAGERDUTY_ROUTING_KEY
    """
    from ..config import load_settings
    from ..errors import ConfigError
    from ..workflow import Context, RunObserver, run_locally, runtime_alerter
    from .console import LiveRunStatus, console, oom_table

    settings = load_settings(config_path)
    service_config = settings.service(service)
    repo = settings.repo_path(service_config)
    if not repo.is_dir():
        raise ConfigError(f"services.{service}.repo: {repo} does not exist")
    if page is None:
        page = bool(settings.secrets.routing_key and settings.secrets.pagerduty_token)
    status = LiveRunStatus(service)
    observers: list[RunObserver] = [status]
    if page:  # before the live bar is drawn: a missing key or token is the only output
        ctx = Context.from_settings(settings)
        ctx.pagerduty  # noqa: B018 - fails here, in one line, without PAGERDUTY_API_TOKEN
        observers.append(runtime_alerter(ctx, service_config, repo, notify=status.notice))
    with status:
        result = run_locally(
            service_config, repo, observers, max_kills=kills, duration=duration, build=not no_build
        )
    console.print(oom_table(result.events))


@click.command()
@click.argument("service")
@config_option
@click.option("--summary", default=None, help="What changed (default: 'Deploy SERVICE at SHA').")
@reports_errors
def change(service: str, config_path: Path | None, summary: str | None) -> None:
    """Send a PagerDuty Change Event for a deploy of SERVICE (its repository's HEAD sha).

    `make deploy` in the demo service calls it, so the incident's related changes show deploys.

    \b
    Examples:
      ads change ads-demo-service --summary "Deploy 1.4.2"
    """
    from ..config import load_settings
    from ..workflow import Context, send_change_event
    from .console import console

    settings = load_settings(config_path)
    ctx = Context.from_settings(settings)
    sha = send_change_event(ctx, settings.service(service), summary)
    console.print(f"change event sent for {service} at {sha[:12]}")
