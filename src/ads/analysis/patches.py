"""What every front end's fix is made of: a proposal, and the unified diff it carries.

Each language finds its own fix (``ads.analysis.c.fixes``, ``ads.analysis.python.fixes``); the
shape of the answer and the diff format ``git apply`` reads are the same for all of them.
"""

from __future__ import annotations

import difflib
from dataclasses import dataclass, field

__all__ = ["FixProposal", "unified_diff"]


@dataclass(frozen=True)
class FixProposal:
    """A proposed change for one finding: a diff when ADS can place it, else a suggestion."""

    path: str
    summary: str
    diff: str | None = None
    suggestion: str | None = None
    patched_source: str | None = None
    inserted_lines: tuple[int, ...] = field(default=())

    @property
    def has_patch(self) -> bool:
        return self.diff is not None


def unified_diff(path: str, before: str, after: str) -> str:
    """A ``git apply``-able unified diff of one file, ``a/<path>`` → ``b/<path>``."""
    lines = difflib.unified_diff(
        before.splitlines(keepends=True),
        after.splitlines(keepends=True),
        fromfile=f"a/{path}",
        tofile=f"b/{path}",
        n=3,
    )
    out: list[str] = []
    for line in lines:
        out.append(line)
        if not line.endswith("\n"):
            out.append("\n\\ No newline at end of file\n")
    return "".join(out)
