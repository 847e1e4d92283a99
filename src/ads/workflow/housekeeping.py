"""Housekeeping on the way in: what a crashed ADS left is reclaimed before new work starts.

``reclaim_leftovers`` runs before and after every remediation; ``housekeeping`` is what the
``ads serve`` worker runs when it starts and after every job: the same reclaim, plus handing
jobs held by a dead ADS process back to the queue at once instead of after their lease.
"""

from __future__ import annotations

import json
import logging
from pathlib import Path

from ..actions.leftovers import Reclaimed, reclaim
from .context import Context

__all__ = ["housekeeping", "reclaim_leftovers", "reclaim_own_leftovers"]

log = logging.getLogger("ads.housekeeping")


def _local_repositories(ctx: Context) -> list[Path]:
    """The services' repositories that are local directories (a URL's clone is found through
    the temporary directories' owner files instead: reclaiming never fetches anything)."""
    paths = []
    for service in ctx.settings.services.values():
        path = Path(service.repo).expanduser()
        path = path if path.is_absolute() else ctx.settings.base_dir / path
        if path.is_dir():
            paths.append(path)
    return paths


def reclaim_leftovers(ctx: Context) -> Reclaimed:
    """Reclaim dead ADS processes' worktrees, scratch directories, cgroups and processes."""
    result = reclaim(_local_repositories(ctx))
    if result or result.problems:
        event = {
            "event": "leftovers.reclaimed",
            "reclaimed": result.summary(),
            "worktrees": result.worktrees,
            "cgroups": result.cgroups,
            "processes": result.processes,
            "problems": result.problems,
        }
        log.info(json.dumps(event))
    return result


def housekeeping(ctx: Context) -> None:
    """The worker's start and after-job pass: release abandoned jobs, reclaim leftovers."""
    for incident in ctx.store.release_abandoned_jobs():
        log.info(json.dumps({"event": "job.released", "incident": incident,
                             "reason": "the ADS process that held it is gone"}))  # fmt: skip
    reclaim_leftovers(ctx)


def reclaim_own_leftovers() -> Reclaimed:
    """Everything this very process left (its services killed, its worktrees and cgroups
    removed): for an exit whose normal cleanup a second Ctrl-C/SIGTERM cut short."""
    return reclaim(include_own=True)
