"""Resources: each service's runbook, the list of services, and the latest diagnosis.

A resource is context an assistant (or its user) attaches to a conversation without calling a
tool. The runbook is what ADS knows of a service from ads.yaml — repository, build and run,
memory limit, Kubernetes target, alert and escalation rules — followed by the repository's own
README, read only from inside the repository.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from mcp.server.mcpserver import MCPServer
from mcp.server.mcpserver.exceptions import ResourceError, ResourceNotFoundError

from ...config import ServiceConfig
from ...errors import AdsError
from ...workflow.report import diagnosis_markdown
from .guards import redact
from .state import ServerState

__all__ = ["register", "runbook_markdown"]

README_NAMES = ("README.md", "README.rst", "README.txt", "README")
MAX_README_BYTES = 64 * 1024


def _service_lines(service: ServiceConfig, repo: str) -> list[str]:
    k8s = service.kubernetes
    lines = [
        f"# Runbook: {service.name}",
        "",
        f"- PagerDuty service: `{service.pagerduty_name}`",
        f"- Repository: `{repo}` (sources: {', '.join(service.sources)}; "
        f"manifests: `{service.manifests}`)",
        f"- Build: `{service.build or 'not configured'}` · "
        f"run: `{service.run or 'not configured'}`",
        f"- Memory limit: {service.memory_limit}",
        f"- Kubernetes: deployment `{k8s.namespace}/{k8s.deployment or service.name}`"
        + (f", container `{k8s.container}`" if k8s.container else ""),
        f"- Alert rules: OOMKilled {'pages' if service.alert_rules.oomkilled else 'does not page'}"
        f" at severity {service.alert_rules.severity}",
        f"- Lookback for code changes: {service.lookback_days:g} days",
    ]
    for rule in service.escalation:
        lines.append(
            f"- Escalation: a {rule.severity} incident unacknowledged {rule.after_minutes:g} min "
            f"after ADS's note goes to level {rule.to_level}"
        )
    if service.github_handles:
        handles = ", ".join(f"{e} → @{h}" for e, h in sorted(service.github_handles.items()))
        lines.append(f"- GitHub handles: {handles}")
    deployment = k8s.deployment or service.name
    lines += [
        "",
        "## On an OOMKilled incident",
        "",
        "1. `get_incident` and `get_oncall`: what fired and who is paged.",
        "2. `analyze_incident` / `get_root_cause`: file, function, line, issue, impact, "
        "confidence.",
        "3. `suggest_remediation`: fix diff, rollback, mitigation; `create_remediation_pr` "
        "(write tools) verifies the fix and opens the PR.",
        f"4. Fast rollback: `kubectl rollout undo deployment/{deployment} -n {k8s.namespace}`.",
    ]
    return lines


def _readme(root: Path) -> list[str]:
    resolved_root = root.resolve()
    for name in README_NAMES:
        path = (root / name).resolve()
        if not path.is_relative_to(resolved_root) or not path.is_file():
            continue  # a README symlinked out of the repository is not read
        data = path.read_bytes()[:MAX_README_BYTES]
        return ["", f"## {name} (from the repository)", "", data.decode("utf-8", "replace")]
    return ["", "_The repository has no README._"]


def runbook_markdown(state: ServerState, service: ServiceConfig) -> str:
    """The runbook of one service, as Markdown."""
    repo = state.context.repository(service)
    return "\n".join([*_service_lines(service, str(repo.path)), *_readme(repo.path)]) + "\n"


def register(server: MCPServer[Any], state: ServerState) -> None:
    """Add the runbook template, the services list and the latest diagnosis."""

    @server.resource(
        "ads://services/{name}/runbook",
        title="Service runbook",
        description="What ADS knows of a service from ads.yaml, and its repository's README.",
        mime_type="text/markdown",
    )
    def service_runbook(name: str) -> str:
        try:
            service = state.settings.service(name)
        except AdsError as exc:
            raise ResourceNotFoundError(str(exc)) from None
        try:
            return runbook_markdown(state, service)
        except AdsError as exc:
            raise ResourceError(redact(str(exc), state.secrets())) from None

    @server.resource(
        "ads://services",
        title="Services",
        description="The services in ads.yaml, with the URI of each one's runbook.",
        mime_type="text/markdown",
    )
    def services() -> str:
        lines = ["# Services ADS manages", ""]
        for name, service in sorted(state.settings.services.items()):
            lines.append(
                f"- `{name}` (PagerDuty `{service.pagerduty_name}`, limit "
                f"{service.memory_limit}): ads://services/{name}/runbook"
            )
        return "\n".join(lines) + "\n"

    @server.resource(
        "ads://diagnoses/latest",
        title="Latest diagnosis",
        description="The most recent diagnosis ADS made or stored, as Markdown.",
        mime_type="text/markdown",
    )
    def latest_diagnosis() -> str:
        diagnosis = state.context.store.latest_diagnosis()
        if diagnosis is None:
            return "No diagnosis yet: call analyze_incident with an incident id.\n"
        return diagnosis_markdown(diagnosis)
