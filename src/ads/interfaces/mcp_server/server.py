"""The ADS MCP server: one ``MCPServer`` with a tools module per resource, like PagerDuty's own.

Read tools are always there; write tools (verify a fix, open the PR, note, acknowledge,
escalate, resolve) are registered only when asked for, so a client that was not given them
cannot call them, whatever the model decides. The workflow context is made once, in the
lifespan, and every tool calls the workflow through it: the server adds no diagnosis logic.
"""

from __future__ import annotations

from importlib.metadata import PackageNotFoundError, version

from mcp.server.mcpserver import MCPServer

from ...config import Settings
from . import (
    changes,
    diagnosis,
    hypotheses,
    incidents,
    oncall,
    prompts,
    remediation,
    resources,
)
from .state import ContextFactory, ServerState, default_context

__all__ = ["INSTRUCTIONS", "READ_TOOLS", "WRITE_TOOLS", "build_server"]

READ_TOOLS = (
    "list_incidents",
    "get_incident",
    "get_oncall",
    "list_recent_changes",
    "analyze_incident",
    "get_root_cause",
    "suggest_remediation",
    "get_report",
    "list_hypotheses",
)
WRITE_TOOLS = (
    "verify_fix",
    "create_remediation_pr",
    "add_incident_note",
    "acknowledge_incident",
    "escalate_incident",
    "resolve_incident",
    "bisect",
)

INSTRUCTIONS = (
    "ADS diagnoses OOMKilled incidents: from a PagerDuty incident to the root cause in the "
    "service's code (file, function, line), with the commit that introduced it, a fix verified "
    "by re-running the service under its memory limit, and a pull request. Start with "
    "list_incidents or get_incident, then analyze_incident / get_root_cause and "
    "suggest_remediation. Service names are those in ads.yaml (see ads://services)."
)


def _version() -> str:
    try:
        return version("ads")
    except PackageNotFoundError:  # running from a source tree without installing
        return "0"


def build_server(
    settings: Settings,
    *,
    enable_write_tools: bool = False,
    context_factory: ContextFactory = default_context,
) -> MCPServer[ServerState]:
    """The MCP server for ``settings``; write tools only with ``enable_write_tools``."""
    state = ServerState(settings, write_tools=enable_write_tools, context_factory=context_factory)
    server: MCPServer[ServerState] = MCPServer(
        "ads",
        title="ADS — Automated Diagnostic System",
        instructions=INSTRUCTIONS,
        version=_version(),
        lifespan=state.lifespan,
    )
    for module in (
        incidents,
        oncall,
        changes,
        diagnosis,
        hypotheses,
        remediation,
        prompts,
        resources,
    ):
        module.register(server, state)
    return server
