"""The one orchestrator: diagnose, remediate, respond.

The CLI, the MCP server and the webhook worker all call these functions and nothing below them,
so an incident is handled the same way whoever asked.
"""

from .context import Context
from .diagnose import analyse, diagnose, diagnose_offline
from .remediate import remediate, suggest_remediation
from .respond import evaluate_escalations, respond

__all__ = [
    "Context",
    "analyse",
    "diagnose",
    "diagnose_offline",
    "evaluate_escalations",
    "remediate",
    "respond",
    "suggest_remediation",
]
