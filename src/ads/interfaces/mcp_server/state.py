"""The server's one workflow ``Context``, made in the lifespan and shared by every tool call.

The PagerDuty client, the SQLite store and the repository handles are made once when the server
starts, not per call, so a conversation of twenty tool calls reuses one HTTP session. Tools
and resources are closures over a ``ServerState`` rather than readers of the SDK's request
context, because static resources (``ads://diagnoses/latest``) get no request context at all.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from typing import Any

from mcp.server.mcpserver import MCPServer

from ...config import Settings
from ...workflow import Context

__all__ = ["ContextFactory", "ServerState"]

ContextFactory = Callable[[Settings], Context]


def default_context(settings: Settings) -> Context:
    """The workflow context the CLI uses too: PagerDuty from the environment, ADS's store."""
    return Context.from_settings(settings)


@dataclass
class ServerState:
    """Settings, the write-tools switch, and the workflow context while the server runs."""

    settings: Settings
    write_tools: bool = False
    context_factory: ContextFactory = default_context
    _context: Context | None = field(default=None, repr=False)

    @property
    def context(self) -> Context:
        """The workflow context (made on first use, normally by the lifespan)."""
        if self._context is None:
            self._context = self.context_factory(self.settings)
        return self._context

    def secrets(self) -> list[str]:
        """Every secret value configured, so error text can be scrubbed of them."""
        s = self.settings.secrets
        values = [s.pagerduty_token, s.routing_key, s.github_token, *s.webhook_secrets]
        return [v for v in values if v]

    @asynccontextmanager
    async def lifespan(self, server: MCPServer[Any]) -> AsyncIterator[ServerState]:
        """Make the workflow context when the server starts, once for the whole process.

        Over streamable HTTP the SDK enters the lifespan once per session, so the context is
        kept, not dropped, when a session ends: concurrent sessions share it.
        """
        _ = self.context
        yield self
