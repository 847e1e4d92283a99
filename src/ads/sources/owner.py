"""Which ADS process made a leftover, and whether that process still runs.

Everything ADS makes that can outlive a crash (temporary worktrees and scratch directories,
memory cgroups) carries its maker's *owner tag* in its name: ``o<pid>x<start>``, the pid and the
kernel's start time of the process (clock ticks since boot, field 22 of ``/proc/<pid>/stat``).
A pid alone is not enough, since pids are reused; the pair names one process for the life of
the machine. Reclaiming (``ads.actions.leftovers``) removes only what carries a tag whose
process is gone, so the resources of a live concurrent ADS are never touched, and nothing
without a tag (not made by ADS, or made before tags existed) is touched either.
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass

__all__ = ["OWNER_TAG", "Owner", "current_owner"]

OWNER_TAG = re.compile(r"o(?P<pid>[0-9]{1,10})x(?P<start>[0-9]{1,20})")


def _start_time(pid: int) -> int | None:
    """The start time of ``pid`` in clock ticks since boot; ``None`` when it does not run."""
    try:
        with open(f"/proc/{pid}/stat", "rb") as stat:
            text = stat.read().decode("ascii", "replace")
    except OSError:
        return None
    # comm (field 2) may hold spaces and parentheses: the fields after it start after the last ')'
    fields = text.rpartition(")")[2].split()
    try:
        return int(fields[19])  # field 22 overall; fields[0] is field 3 (state)
    except (IndexError, ValueError):
        return None


@dataclass(frozen=True)
class Owner:
    """One process, as named in what it makes."""

    pid: int
    start: int

    @property
    def tag(self) -> str:
        return f"o{self.pid}x{self.start}"

    def alive(self) -> bool:
        """Whether this very process still runs (a zombie counts as gone)."""
        if _start_time(self.pid) != self.start:
            return False
        try:
            with open(f"/proc/{self.pid}/stat", "rb") as stat:
                state = stat.read().decode("ascii", "replace").rpartition(")")[2].split()[0]
        except (OSError, IndexError):
            return False
        return state not in ("Z", "X")

    @classmethod
    def parse(cls, tag: str) -> Owner | None:
        """The owner a tag names (``o<pid>x<start>``); ``None`` for anything else."""
        match = OWNER_TAG.fullmatch(tag)
        if match is None:
            return None
        return cls(int(match.group("pid")), int(match.group("start")))


_current: Owner | None = None


def current_owner() -> Owner:
    """This process (recomputed after a fork, so a child never wears its parent's tag)."""
    global _current
    pid = os.getpid()
    if _current is None or _current.pid != pid:
        _current = Owner(pid, _start_time(pid) or 0)
    return _current
