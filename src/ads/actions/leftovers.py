"""Reclaiming what a crashed ADS left behind: worktrees, scratch directories, cgroups, processes.

ADS is crash-only: ``kill -9`` (or the OOM killer, or a power cut) skips every ``finally``, so
instead of trusting its own shutdown, ADS cleans up on the way *in*. ``reclaim`` runs when the
``ads serve`` worker starts, and at the start and end of every remediation (``ads remediate``,
``ads demo``, each webhook job). It removes:

* memory cgroups under ADS's cgroup root named ``<service>-o<pid>x<start>-<random>`` whose
  owner is gone, after killing every process still in them — kill, wait for the cgroup to
  drain, ``rmdir``. (The sandbox's ``--die-with-parent`` usually ends a run with ADS; under the
  ``unshare`` fallback, or for anything that got out of it, the service outlives ADS in its own
  session, and this is what ends it);
* temporary directories ``ads-{worktree,lsan,gcc,sandbox,run}-o<pid>x<start>-…`` in the temp
  dir whose owner is gone; a worktree's registration in its repository (named by the
  ``ads-repository`` file in the directory) is removed with ``git worktree remove`` first, so
  the branch it had checked out is free again;
* in each configured repository: ``git worktree prune``, then any registered worktree that lives
  in such a directory of a dead owner (wherever the temp dir was at the time).

The owner tag (``ads.sources.owner``) is the only thing trusted: a cgroup, directory or worktree
without one was not made by this ADS and is never touched, and one whose owner process still
runs (a concurrent ``ads serve`` or ``ads remediate``) is left alone. ``include_own`` also takes
this process's own leftovers: for a second Ctrl-C that cut the normal cleanup short.
"""

from __future__ import annotations

import contextlib
import os
import re
import shutil
import signal
import tempfile
import time
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path

from ..errors import RuntimeUnavailableError
from ..sources.monitors.cgroups import MemoryLimiter, detect_limiter
from ..sources.owner import Owner, current_owner
from .worktrees import OWNER_FILE, git

__all__ = ["Reclaimed", "reclaim", "reclaim_worktree"]

TEMP_ENTRY = re.compile(r"ads-(?P<kind>worktree|lsan|gcc|sandbox|run)-(?P<tag>o[0-9]+x[0-9]+)-.+")
CGROUP_ENTRY = re.compile(r".+-(?P<tag>o[0-9]+x[0-9]+)-[0-9a-f]{8}")
DRAIN_SECONDS = 5.0


@dataclass
class Reclaimed:
    """What one ``reclaim`` removed, and what it could not."""

    worktrees: list[str] = field(default_factory=list)
    directories: list[str] = field(default_factory=list)
    cgroups: list[str] = field(default_factory=list)
    processes: list[int] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)

    def __bool__(self) -> bool:
        return bool(self.worktrees or self.directories or self.cgroups or self.processes)

    def summary(self) -> str:
        parts = [
            f"{len(items)} {what}"
            for items, what in (
                (self.worktrees, "worktree(s)"),
                (self.directories, "temporary director(y/ies)"),
                (self.cgroups, "cgroup(s)"),
                (self.processes, "process(es)"),
            )
            if items
        ]
        return ", ".join(parts) or "nothing"


def _gone(tag: str, include_own: bool) -> bool:
    """Whether the process a tag names is gone (or is this one, when ``include_own``)."""
    owner = Owner.parse(tag)
    if owner is None:
        return False
    if owner == current_owner():
        return include_own
    return not owner.alive()


def reclaim(
    repos: Iterable[Path] = (),
    *,
    limiter: MemoryLimiter | None = None,
    include_own: bool = False,
    temp_dir: Path | None = None,
) -> Reclaimed:
    """Remove the leftovers of dead ADS processes (see the module docstring); never raises."""
    result = Reclaimed()
    _reclaim_cgroups(limiter, result, include_own)  # first: their processes may use the worktrees
    _reclaim_temp(temp_dir or Path(tempfile.gettempdir()), result, include_own)
    for repo in repos:
        _reclaim_repo(Path(repo), result, include_own)
    return result


def reclaim_worktree(repo: Path, path: Path) -> bool:
    """Remove the worktree at ``path`` of ``repo`` if a dead ADS made it; whether it did.

    For a branch that ``git worktree add`` says is "already checked out" there: re-running a job
    whose fix branch a crashed ADS had checked out then just works.
    """
    match = TEMP_ENTRY.fullmatch(path.parent.name)
    if match is None or match.group("kind") != "worktree" or not _gone(match.group("tag"), False):
        return False
    result = Reclaimed()
    _remove_worktree_dir(path.parent, repo, result)
    return bool(result.worktrees)


# -- cgroups and their processes ------------------------------------------------------------------


def _reclaim_cgroups(limiter: MemoryLimiter | None, result: Reclaimed, include_own: bool) -> None:
    if limiter is None:
        try:
            limiter = detect_limiter()
        except RuntimeUnavailableError:
            return
    if limiter.parent is None:  # RLIMIT_AS: no cgroups were made
        return
    try:
        children = sorted(p for p in limiter.parent.iterdir() if p.is_dir())
    except OSError:
        return
    for cgroup in children:
        match = CGROUP_ENTRY.fullmatch(cgroup.name)
        if match is None or not _gone(match.group("tag"), include_own):
            continue
        _remove_cgroup(cgroup, result)


def _cgroup_pids(cgroup: Path) -> list[int]:
    try:
        return [int(p) for p in (cgroup / "cgroup.procs").read_text().split()]
    except (OSError, ValueError):
        return []


def _remove_cgroup(cgroup: Path, result: Reclaimed) -> None:
    """Kill everything in the cgroup until it drains, then delete it."""
    deadline = time.monotonic() + DRAIN_SECONDS
    while True:
        for pid in _cgroup_pids(cgroup):
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.kill(pid, signal.SIGKILL)
                if pid not in result.processes:
                    result.processes.append(pid)
        try:
            cgroup.rmdir()
        except FileNotFoundError:
            return
        except OSError as exc:
            if time.monotonic() > deadline:
                result.problems.append(f"cgroup {cgroup} not removed: {exc.strerror}")
                return
            time.sleep(0.02)
            continue
        result.cgroups.append(str(cgroup))
        return


# -- worktrees and temporary directories ----------------------------------------------------------


def _reclaim_temp(temp_dir: Path, result: Reclaimed, include_own: bool) -> None:
    try:
        entries = sorted(temp_dir.iterdir())
    except OSError:
        return
    for entry in entries:
        match = TEMP_ENTRY.fullmatch(entry.name)
        if match is None or not entry.is_dir() or entry.is_symlink():
            continue
        if not _gone(match.group("tag"), include_own):
            continue
        if match.group("kind") == "worktree":
            _remove_worktree_dir(entry, _repository_of(entry), result)
        else:
            shutil.rmtree(entry, ignore_errors=True)
            result.directories.append(str(entry))


def _repository_of(directory: Path) -> Path | None:
    try:
        text = (directory / OWNER_FILE).read_text().strip()
    except OSError:
        return None
    return Path(text) if text else None


def _remove_worktree_dir(directory: Path, repo: Path | None, result: Reclaimed) -> None:
    """Unregister the worktrees inside ``directory`` from ``repo``, then delete ``directory``."""
    registered = repo is not None and (repo / ".git").exists()
    for tree in sorted(p for p in directory.iterdir() if p.is_dir()) if directory.is_dir() else []:
        if registered and repo is not None:
            git(repo, "worktree", "remove", "--force", "--force", str(tree), check=False)
        result.worktrees.append(str(tree))
    shutil.rmtree(directory, ignore_errors=True)
    if registered and repo is not None:
        git(repo, "worktree", "prune", check=False)


def _reclaim_repo(repo: Path, result: Reclaimed, include_own: bool) -> None:
    """``git worktree prune``, then the registered worktrees that dead ADS processes made."""
    if not repo.is_dir():
        return
    top = git(repo, "rev-parse", "--show-toplevel", check=False)
    if top.returncode != 0:
        return
    root = Path(top.stdout.strip())
    git(root, "worktree", "prune", check=False)
    listing = git(root, "worktree", "list", "--porcelain", check=False).stdout
    paths = [Path(line[len("worktree ") :]) for line in listing.splitlines()[1:]
             if line.startswith("worktree ")]  # fmt: skip
    for path in paths:
        match = TEMP_ENTRY.fullmatch(path.parent.name)
        if match is None or match.group("kind") != "worktree":
            continue
        if _gone(match.group("tag"), include_own) and str(path) not in result.worktrees:
            git(root, "worktree", "remove", "--force", "--force", str(path), check=False)
            shutil.rmtree(path.parent, ignore_errors=True)
            result.worktrees.append(str(path))
    git(root, "worktree", "prune", check=False)
