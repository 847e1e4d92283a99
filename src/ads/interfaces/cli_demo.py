"""``ads demo``: the whole loop on this machine (the work is in ``ads.interfaces.demo``)."""

from __future__ import annotations

from pathlib import Path

import click

from .cli_common import reports_errors

__all__ = ["demo"]


@click.command()
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
    from .demo import run_demo

    run_demo(workdir, kills=kills, timeout=timeout)
