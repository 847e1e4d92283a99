"""Git repositories on disk, read through git's machine-readable output."""

from __future__ import annotations

import subprocess
from pathlib import Path

__all__ = ["head_sha"]


def head_sha(repo: Path) -> str | None:
    """The commit checked out in ``repo``, or ``None`` when it is not a git work tree."""
    try:
        proc = subprocess.run(
            ["git", "rev-parse", "--verify", "-q", "HEAD"],
            cwd=repo,
            capture_output=True,
            text=True,
            timeout=30,
        )
    except (OSError, subprocess.TimeoutExpired):
        return None
    return proc.stdout.strip() or None if proc.returncode == 0 else None
