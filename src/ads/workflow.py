"""The one orchestrator: diagnose, remediate, respond.

The CLI, the MCP server and the webhook worker all call these functions and nothing below them,
so an incident is handled the same way whoever asked.
"""

from __future__ import annotations
