"""Change tool: the commits and manifest changes of a service in the last days.

The same reading the diagnosis does for an incident's window (git history of the service's
sources and ``infra/kubernetes``, each commit described by what matters for memory: a removed
``free``, an added allocation, a memory limit changed from → to), but for a window ending now,
so an assistant can ask "what changed in ads-demo-service this week?" before any incident.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Annotated, Any

from mcp.server.mcpserver import MCPServer
from pydantic import Field

from ...workflow import changes_in_window
from .guards import add_tool, confine_path, service_config
from .results import RecentChanges
from .state import ServerState

__all__ = ["register"]


def register(server: MCPServer[Any], state: ServerState) -> None:
    """Add ``list_recent_changes``."""

    def list_recent_changes(
        service: str,
        days: Annotated[float, Field(gt=0, le=365)] = 7,
        path: str | None = None,
    ) -> RecentChanges:
        """Commits and manifest changes of a service (ads.yaml name) in the last `days` days.

        By default the service's sources and manifests from ads.yaml; `path` narrows to one file
        or directory inside the service's repository (e.g. worker.c or infra/kubernetes).
        """
        config = service_config(state, service)
        repo = state.context.repository(config)
        if path:
            target = confine_path(path, [repo.path], base=repo.path)  # the service's directory
            paths = [target.relative_to(repo.path.resolve()).as_posix() or "."]
        else:
            paths = [p for p in (*config.sources, config.manifests) if p and p != "."]
        until = datetime.now(UTC)
        since = until - timedelta(days=days)
        changes = changes_in_window(repo, config, since, until, paths=paths)
        return RecentChanges(
            service=config.name,
            repository=str(repo.path),
            since=since,
            until=until,
            paths=paths,
            count=len(changes),
            changes=changes,
        )

    add_tool(
        server, state, list_recent_changes, title="List recent changes", read_only=True,
        open_world=False,
    )  # fmt: skip
