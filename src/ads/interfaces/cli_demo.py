"""``ads demo``: the whole loop on this machine (the work is in ``ads.interfaces.demo``)."""

from __future__ import annotations

from pathlib import Path

import click

from .cli_common import reports_errors

__all__ = ["DEMO_SERVICES", "demo"]

#: ``ads.interfaces.demo.DEMOS`` by name (listed here so ``--help`` needs no import of it)
DEMO_SERVICES = ("ads-demo-service", "py-pages-service")


@click.command()
@click.option(
    "--workdir",
    type=click.Path(file_okay=False, path_type=Path),
    default=Path(".ads/demo"),
    show_default=True,
    help="Where the demo's private copy of the service and its state go.",
)
@click.option(
    "--kills",
    type=click.IntRange(min=1),
    default=3,
    show_default=True,
    help="OOM kills to see before ADS takes over (each is an alert on the one incident).",
)
@click.option(
    "--timeout",
    type=click.FloatRange(min=0, min_open=True),
    default=60.0,
    show_default=True,
    help="Seconds for the whole demo; past it, the step under way stops and nothing more is "
    "posted or pushed.",
)
@click.option(
    "--service",
    type=click.Choice(DEMO_SERVICES),
    default=DEMO_SERVICES[0],
    show_default=True,
    help="Which demo service: the C worker, or the Python page service (py-pages-service).",
)
@click.option(
    "--verbose",
    is_flag=True,
    help="Also print the timeline, the kill table, the whole analysis, the diff and the PR text "
    "(the report has them all).",
)
@reports_errors
def demo(workdir: Path, kills: int, timeout: float, service: str, verbose: bool) -> None:
    """Run the whole ADS loop on the demo service, on this machine, with nothing to configure.

    Ctrl-C stops the step under way at once; nothing is posted or pushed after it (exit 130).

    \b
    Examples:
      ads demo
      ads demo --workdir /tmp/ads-demo --kills 2 --timeout 120
      ads demo --service py-pages-service
      ads demo --verbose
    """
    from .demo import run_demo

    run_demo(workdir, kills=kills, timeout=timeout, service=service, verbose=verbose)
