"""Differential diagnosis tools: every cause weighed for an incident, and bisection.

``list_hypotheses`` reads the stored diagnosis (or diagnoses first) and returns each cause ADS
weighed — code leak, memory limit lowered, size or configuration raised, runtime heap setting,
load — with its verdict and reasons, the winner first. ``bisect`` builds and runs commits of a
service's repository under its memory limit (the workflow's ``bisect``, as ``ads bisect``
does), so it acts on the machine and exists only with ``--enable-write-tools``.
"""

from __future__ import annotations

from typing import Any

from mcp.server.mcpserver import MCPServer
from mcp.server.mcpserver.exceptions import ToolError

from ...models import BisectResult
from ...workflow import diagnose
from ...workflow.bisect import DEFAULT_SECONDS, bisect
from .guards import add_tool, check_incident_id, echo, service_config
from .results import HypothesisList
from .state import ServerState

__all__ = ["register"]

MAX_SECONDS = 120.0  # per run: a bisection is log2(n) of them


def register(server: MCPServer[Any], state: ServerState) -> None:
    """Add ``list_hypotheses``, and ``bisect`` when the server allows writes."""

    def list_hypotheses(incident_id: str) -> HypothesisList:
        """Every cause ADS weighed for an incident's OOM kill — code leak, memory limit lowered,
        size or configuration raised, runtime heap setting larger than the limit, load — each
        with its verdict (supported, undecided, rejected), reasons, and for a non-code cause the
        manifest file, changed line and commit. The winning cause first. Uses the stored
        diagnosis, else diagnoses without storing anything."""
        ctx, wanted = state.context, check_incident_id(incident_id)
        diagnosis = ctx.store.diagnosis(wanted) or diagnose(ctx, wanted, store=False)
        return HypothesisList(
            incident_id=diagnosis.incident.id,
            cause=diagnosis.cause,
            hypotheses=list(diagnosis.hypotheses),
        )

    add_tool(
        server, state, list_hypotheses, title="List hypotheses", read_only=True,
    )  # fmt: skip
    if not state.write_tools:
        return

    def bisect_tool(
        service: str, good: str, bad: str, seconds: float = DEFAULT_SECONDS
    ) -> BisectResult:
        """Find the first commit between good (exclusive) and bad (inclusive) whose build is
        OOM-killed under the service's memory limit: each candidate is built and run in the
        sandbox for at most `seconds`, about log2(n) runs; commits that do not build are
        skipped. Returns every run with its memory curve. Fails with one line when good is
        not good or bad is not bad. Takes seconds to minutes."""
        if not 0.1 <= seconds <= MAX_SECONDS:
            raise ToolError(f"seconds={echo(seconds)} must be between 0.1 and {MAX_SECONDS:g}")
        config = service_config(state, service)
        repo = state.settings.repo_path(config)
        return bisect(repo, config, good.strip(), bad.strip(), seconds=seconds)

    add_tool(
        server, state, bisect_tool, name="bisect", title="Bisect by reproduction",
        read_only=False, open_world=False,
    )  # fmt: skip
