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

from ...analysis.history import describe_commit
from ...config import ServiceConfig
from ...models import Change
from ...sources.repository import GitRepository
from .guards import add_tool, confine_path, service_config
from .results import RecentChanges
from .state import ServerState

__all__ = ["recent_changes", "register"]


def recent_changes(
    repo: GitRepository,
    service: ServiceConfig,
    since: datetime,
    until: datetime,
    paths: list[str],
) -> list[Change]:
    """Commits in [since, until] touching ``paths``, described against ``until``.

    Small on purpose: the workflow's own window reading is tied to an incident; this one is for
    "now", until the workflow offers a window helper both can share.
    """
    commits = repo.commits(since, until, paths)
    return [
        describe_commit(commit, until, source_paths=service.sources, manifest_dir=service.manifests)
        for commit in commits
    ]


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
            target = confine_path(path, [repo.root], base=repo.root)
            paths = [target.relative_to(repo.root.resolve()).as_posix() or "."]
        else:
            paths = [p for p in (*config.sources, config.manifests) if p and p != "."]
        until = datetime.now(UTC)
        since = until - timedelta(days=days)
        changes = recent_changes(repo, config, since, until, paths)
        return RecentChanges(
            service=config.name,
            repository=str(repo.root),
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
