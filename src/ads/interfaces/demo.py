"""``ads demo``: the ADS loop on the demo service, on this machine, nothing to configure.

Today it reproduces the incident: the demo worker is built and run under its 64Mi limit in a
real memory cgroup until the kernel OOM-kills it (at least twice, with restarts), and the kills
are printed as a table. Later stages (incident, diagnosis, fix, PR) are added here as they land.
"""

from __future__ import annotations

from pathlib import Path

from ..config import load_settings
from ..errors import RuntimeUnavailableError
from ..sources.monitors import LocalRuntime
from .console import LiveRunStatus, console, oom_table
from .demo_workspace import create_demo_workspace

__all__ = ["run_demo"]

SERVICE = "ads-demo-service"


def run_demo(workdir: Path, *, kills: int = 2, timeout: float = 20.0) -> None:
    """Reproduce the demo incident under 64Mi and print what the kernel did."""
    console.rule("[bold]ADS demo: ads-demo-service under a 64Mi memory limit")
    repo = create_demo_workspace(workdir.resolve() / SERVICE)
    settings = load_settings(repo / "ads.yaml")
    service = settings.service(SERVICE)
    console.print(f"workspace: {repo} (a private git copy of examples/{SERVICE})")
    with LiveRunStatus(SERVICE) as status:
        runtime = LocalRuntime(service, repo, observers=[status])
        result = runtime.run(max_kills=kills, duration=timeout)
    console.print(oom_table(result.events))
    if len(result.events) < kills:
        raise RuntimeUnavailableError(
            f"expected {kills} OOM kills within {timeout:.0f} s, saw {len(result.events)}"
        )
    console.print(
        f"[green]reproduced:[/] {len(result.events)} OOM kills of {SERVICE} under "
        f"{service.memory_limit} ({result.mode.value}) in {result.duration:.1f} s"
    )
