"""The ``ads`` command: a thin click layer over the library.

Every command turns an ``AdsError`` into one line on stderr and a non-zero exit (2 for
configuration problems, 1 otherwise); a traceback means a bug in ADS, never bad input.
"""

from __future__ import annotations

from pathlib import Path

import click

from ..config import load_settings
from ..errors import ConfigError
from ..sources.monitors import LocalRuntime, RunObserver
from ..workflow import Context, runtime_alerter, send_change_event
from .cli_common import config_option, reports_errors
from .cli_doctor import doctor
from .cli_incidents import analyze, remediate_command, report
from .cli_mcp import mcp
from .cli_pagerduty import pagerduty
from .cli_serve import serve
from .cli_watch import watch
from .console import LiveRunStatus, console, oom_table
from .demo import run_demo

__all__ = ["main"]


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(package_name="ads")
def main() -> None:
    """ADS, the Automated Diagnostic System: OOMKilled incident to verified fix in seconds."""


@main.command()
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
    Runs until --kills or --duration is reached, or Ctrl-C.
    """
    settings = load_settings(config_path)
    service_config = settings.service(service)
    repo = settings.repo_path(service_config)
    if not repo.is_dir():
        raise ConfigError(f"services.{service}.repo: {repo} does not exist")
    if page is None:
        page = bool(settings.secrets.routing_key and settings.secrets.pagerduty_token)
    with LiveRunStatus(service) as status:
        observers: list[RunObserver] = [status]
        if page:
            ctx = Context.from_settings(settings)
            observers.append(runtime_alerter(ctx, service_config, repo, notify=status.notice))
        runtime = LocalRuntime(service_config, repo, observers=observers)
        result = runtime.run(max_kills=kills, duration=duration, build=not no_build)
    console.print(oom_table(result.events))


@main.command()
@click.option(
    "--workdir",
    type=click.Path(file_okay=False, path_type=Path),
    default=Path(".ads/demo"),
    show_default=True,
    help="Where the demo's private copy of the service and its state go.",
)
@click.option("--kills", type=click.IntRange(min=1), default=3, show_default=True)
@click.option("--timeout", type=float, default=60.0, show_default=True, help="Seconds at most.")
@reports_errors
def demo(workdir: Path, kills: int, timeout: float) -> None:
    """Run the whole ADS loop on the demo service, on this machine, with nothing to configure."""
    run_demo(workdir, kills=kills, timeout=timeout)


@main.command()
@click.argument("service")
@config_option
@click.option("--summary", default=None, help="What changed (default: 'Deploy SERVICE at SHA').")
@reports_errors
def change(service: str, config_path: Path | None, summary: str | None) -> None:
    """Send a PagerDuty Change Event for a deploy of SERVICE (its repository's HEAD sha).

    `make deploy` in the demo service calls it, so the incident's related changes show deploys.
    """
    settings = load_settings(config_path)
    ctx = Context.from_settings(settings)
    sha = send_change_event(ctx, settings.service(service), summary)
    console.print(f"change event sent for {service} at {sha[:12]}")


for command in (analyze, remediate_command, report, pagerduty, watch, serve, mcp, doctor):
    main.add_command(command)

if __name__ == "__main__":  # pragma: no cover
    main()
