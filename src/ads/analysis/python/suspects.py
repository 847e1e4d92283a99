"""Change-first suspects for Python: the evictions and cache bounds commits took away.

Each commit in the window is read by ``edits`` (removed ``pop``/``popitem``/``del``, a cache
bound or a container bound gone, a new ``append`` or key insert). An eviction removed — and not
put back by a later commit — is a suspect for the container it evicted from; the growth analysis
of the *current* code judges it: a growth finding on that container (or on that cached
function) is confirmed and carries the commit (two independent kinds of support: the change and
the path). A removed eviction whose container the current code still bounds is no suspect.
"""

from __future__ import annotations

from collections.abc import Sequence

from ...models import Change, CodeEdit, CodeEditKind, Finding, Support
from ..languages import BULK_FILES

__all__ = ["change_suspects"]


def _same_file(a: str, b: str) -> bool:
    a, b = a.strip("/"), b.strip("/")
    return a == b or a.endswith("/" + b) or b.endswith("/" + a)


def _bare(name: str | None) -> str:
    return (name or "").removeprefix("self.").removeprefix("cls.")


def _hours(change: Change) -> float:
    return (change.before_incident_seconds or 0.0) / 3600


def _open_edits(changes: Sequence[Change]) -> list[tuple[Change, CodeEdit]]:
    """Removed evictions still missing at the window's end, and added growth (oldest first)."""
    removed: dict[tuple[str, str], tuple[Change, CodeEdit]] = {}
    added: list[tuple[Change, CodeEdit]] = []
    for change in sorted(changes, key=lambda c: c.authored_at):
        if len(change.files) >= BULK_FILES:
            continue
        for edit in change.edits:
            if not edit.file.endswith(".py"):
                continue
            key = (edit.file, _bare(edit.variable))
            if edit.kind in (CodeEditKind.REMOVED_FREE, CodeEditKind.MOVED_FREE):
                removed[key] = (change, edit)
            elif edit.kind is CodeEditKind.ADDED_FREE:
                removed.pop(key, None)
            elif edit.kind is CodeEditKind.ADDED_ALLOCATION:
                added.append((change, edit))
    return [*removed.values(), *added]


def _explains(edit: CodeEdit, finding: Finding) -> bool:
    if not _same_file(edit.file, finding.file):
        return False
    same_container = _bare(edit.variable) == _bare(finding.variable)
    if edit.kind is CodeEditKind.ADDED_ALLOCATION:
        return same_container and edit.function == finding.function
    return same_container


def change_suspects(changes: Sequence[Change], findings: Sequence[Finding]) -> list[Finding]:
    """Findings the window's commits explain, each with its commit (the latest removal wins,
    then the latest added growth)."""
    suspects: list[Finding] = []
    edits = _open_edits(changes)
    for finding in findings:
        removals = [(c, e) for c, e in edits if e.kind is not CodeEditKind.ADDED_ALLOCATION]
        additions = [(c, e) for c, e in edits if e.kind is CodeEditKind.ADDED_ALLOCATION]
        chosen = next((p for p in reversed(removals) if _explains(p[1], finding)), None)
        chosen = chosen or next((p for p in reversed(additions) if _explains(p[1], finding)), None)
        if chosen is None:
            continue
        change, edit = chosen
        verb = "added" if edit.kind is CodeEditKind.ADDED_ALLOCATION else "removed"
        line = (
            f"change: {change.sha[:7]} {verb} {edit.call} in {edit.function}() "
            f"{_hours(change):.1f} h before the incident ({change.author}: {change.subject})"
        )
        suspects.append(
            finding.model_copy(
                update={
                    "introduced_by": change,
                    "support": list(dict.fromkeys([*finding.support, Support.CHANGE])),
                    "evidence": [*finding.evidence, line],
                }
            )
        )
    return suspects
