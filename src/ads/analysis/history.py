"""What each commit before an incident did that matters for a memory leak, and which one caused it.

The input is ``ads.models.Commit`` objects as ``sources.repository`` reads them (diff per file,
plus the whole file before and after); the output is ``ads.models.Change``: prose notes for the
report ("removed free(buffer) in controller() (worker.c)", "memory limit of worker 128Mi → 64Mi")
and structured ``CodeEdit``s so attribution never has to parse prose.

C files are read by ``c_edits`` (tree-sitter-c); manifests by ``manifests``.

Attribution then follows the issue: the introducing commit is the last one in the window that
removed a free of the leaked variable in the leaking function (or that added the allocation
without a free, when blame points at it); none in the window means the bug predates it.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import datetime

from ..errors import ConfigError
from ..models import (
    Change,
    ChangeKind,
    ChangeRole,
    CodeEdit,
    CodeEditKind,
    Commit,
    FileChange,
    SettingEdit,
)
from ..units import parse_quantity
from .languages import BULK_FILES, EditReader, FileEdits, WorkingSet, front_end_for
from .manifests import LimitChange, diff_manifests
from .settings import manifest_setting_edits

__all__ = [
    "MANIFEST_SUFFIXES",
    "describe_commit",
    "find_introducing_commit",
    "lowered_memory_limit",
    "rank_changes",
]

MANIFEST_SUFFIXES = (".yaml", ".yml", ".json")


# --- describing one commit ---------------------------------------------------------------------


def _normalise(path: str) -> str:
    return path.strip().removeprefix("./").strip("/")


def _under(path: str, prefixes: Iterable[str]) -> bool:
    path = _normalise(path)
    for prefix in map(_normalise, prefixes):
        if prefix in ("", ".") or path == prefix or path.startswith(prefix + "/"):
            return True
    return False


def _limit_note(what: str, change: LimitChange, path: str) -> str:
    where = f"({change.workload}, {path})"
    if change.from_ is None:
        return f"memory {what} of {change.container} set to {change.to} {where}"
    if change.to is None:
        return f"memory {what} of {change.container} removed (was {change.from_}) {where}"
    return f"memory {what} of {change.container} {change.from_} → {change.to} {where}"


def _setting_note(edit: SettingEdit) -> str:
    """``CACHE_MB 16 → 96 (worker.c:5)``, ``env JAVA_OPTS -Xmx64m → -Xmx512m (…)``."""
    where = f"{edit.file}:{edit.line}" if edit.line else edit.file
    what = {"env": "env ", "arg": "flag "}.get(edit.kind, "")
    return f"{what}{edit.name} {edit.from_ or 'unset'} → {edit.to or 'unset'} ({where})"


def _manifest_notes(change: FileChange) -> tuple[list[str], list[LimitChange]]:
    diff = diff_manifests(change.old_text, change.new_text, source=change.path)
    notes = [_limit_note("limit", c, change.path) for c in diff.limits]
    notes += [_limit_note("request", c, change.path) for c in diff.requests]
    return notes + diff.problems, diff.limits


def describe_commit(
    commit: Commit,
    incident_at: datetime,
    *,
    source_paths: Sequence[str] = (".",),
    manifest_dir: str = "infra/kubernetes",
    readers: dict[str, EditReader] | None = None,
) -> Change:
    """``commit`` as a ``Change``: what it did to the service's code and memory limits.

    Each source file is read by its language's front end; ``readers`` (front end name →
    reader) binds them to the analysed program, so the repository's own allocators and
    releasers (``zmalloc``/``zfree``, ``sdsnew``/``sdsfree``) count as well as the library's.
    Files outside ``source_paths`` and ``manifest_dir`` are listed but not described.
    """
    notes: list[str] = []
    edits: list[CodeEdit] = []
    functions: list[str] = []
    limits: list[LimitChange] = []
    settings: list[SettingEdit] = []
    touched_code = touched_manifest = False
    bulk = len(commit.files) >= BULK_FILES
    if bulk:
        notes.append(f"{len(commit.files)} files at once: an import, not read at the C level")
    for change in commit.files:
        if _under(change.path, [manifest_dir]) and change.path.endswith(MANIFEST_SUFFIXES):
            touched_manifest = True
            file_notes, file_limits = _manifest_notes(change)
            edited = manifest_setting_edits(change)
            settings += edited
            file_notes += [_setting_note(e) for e in edited if e.kind in ("env", "arg")]
        elif _under(change.path, source_paths):
            touched_code = True
            front_end = front_end_for(change.path)
            if front_end is None or bulk:
                continue
            read = (readers or {}).get(front_end.name) or front_end.edit_reader(None)
            found = FileEdits(change.path) if change.skipped else read(change)
            file_notes, file_limits = list(found.notes), []
            if isinstance(front_end, WorkingSet) and not change.skipped:
                constants = front_end.setting_edits(change)
                settings += constants
                file_notes += [_setting_note(e) for e in constants]
            edits += found.edits
            functions += found.functions
        else:
            continue
        notes += [f"{change.path} skipped: {change.skipped}"] if change.skipped else file_notes
        limits += file_limits
    chosen = next((c for c in limits if c.lowered()), limits[0] if limits else None)
    return Change(
        kind=ChangeKind.MANIFEST if touched_manifest and not touched_code else ChangeKind.COMMIT,
        sha=commit.sha,
        author=commit.author,
        authored_at=commit.authored_at,
        subject=commit.subject,
        files=[change.path for change in commit.files],
        before_incident_seconds=(incident_at - commit.authored_at).total_seconds(),
        notes=notes,
        memory_limit_from=chosen.from_ if chosen else None,
        memory_limit_to=chosen.to if chosen else None,
        edits=edits,
        functions=functions,
        settings=settings,
    )


# --- attribution and ranking -------------------------------------------------------------------


def _same_file(a: str, b: str) -> bool:
    """Paths may be relative to the repository or to the service's directory inside it."""
    a, b = _normalise(a), _normalise(b)
    return a == b or a.endswith("/" + b) or b.endswith("/" + a)


def _same_function(a: str | None, b: str | None) -> bool:
    return a is not None and b is not None and a.removesuffix("()") == b.removesuffix("()")


def _edits_in(change: Change, file: str, function: str) -> list[CodeEdit]:
    return [
        e for e in change.edits if _same_file(e.file, file) and _same_function(e.function, function)
    ]


def _oldest_first(changes: Iterable[Change]) -> list[Change]:
    return sorted(changes, key=lambda change: change.authored_at)


def find_introducing_commit(
    changes: Sequence[Change],
    finding_file: str,
    finding_function: str,
    variable: str | None,
    allocation_line_sha_from_blame: str | None,
) -> Change | None:
    """The change in the window that introduced a leak of ``variable`` in that function, or None.

    First choice: the last change that removed a ``free`` of the variable there, unless a later
    change added one back. Otherwise: the change that added the allocation without a free in the
    same commit (the one blame names, when blame is given). ``None`` means the leak predates the
    window: a pre-existing bug with no rollback target.
    """

    def matches(edit: CodeEdit) -> bool:
        return variable is None or edit.variable is None or edit.variable == variable

    removed_by: Change | None = None
    for change in _oldest_first(changes):
        for edit in _edits_in(change, finding_file, finding_function):
            if edit.kind is CodeEditKind.REMOVED_FREE and matches(edit):
                removed_by = change
            elif edit.kind is CodeEditKind.ADDED_FREE and matches(edit):
                removed_by = None
    if removed_by is not None:
        return removed_by
    for change in reversed(_oldest_first(changes)):
        blamed = allocation_line_sha_from_blame
        if blamed and not (change.sha.startswith(blamed) or blamed.startswith(change.sha)):
            continue
        edits = [e for e in _edits_in(change, finding_file, finding_function) if matches(e)]
        kinds = {e.kind for e in edits}
        if CodeEditKind.ADDED_ALLOCATION in kinds and CodeEditKind.ADDED_FREE not in kinds:
            return change
    return None


def lowered_memory_limit(change: Change) -> bool:
    """Whether ``change`` made a container's memory limit smaller (or set one where none was)."""
    if change.memory_limit_to is None:
        return False
    if change.memory_limit_from is None:
        return True
    try:
        return parse_quantity(change.memory_limit_to) < parse_quantity(change.memory_limit_from)
    except ConfigError:
        return False


def rank_changes(
    changes: Sequence[Change],
    *,
    finding_file: str | None = None,
    finding_function: str | None = None,
    introducing_sha: str | None = None,
) -> list[Change]:
    """Copies of ``changes`` ordered by how much they explain the leak, each with its ``role``.

    Order: the introducing commit; commits that edited the leaking function, then ones that only
    touched its file; commits that lowered a memory limit (contributing: the leak reaches the
    limit sooner); everything else. Within a group, the most recent first.
    """

    def place(change: Change) -> tuple[int, int, ChangeRole]:
        if introducing_sha and change.sha == introducing_sha:
            return 0, 0, ChangeRole.INTRODUCED
        if finding_file and any(_same_file(f, finding_file) for f in change.files):
            in_function = any(
                _same_file(path, finding_file) and _same_function(name, finding_function)
                for path, _, name in (f.rpartition(":") for f in change.functions)
            )
            return 1, 0 if in_function else 1, ChangeRole.TOUCHES_FINDING
        if lowered_memory_limit(change):
            return 2, 0, ChangeRole.CONTRIBUTING
        return 3, 0, ChangeRole.OTHER

    placed = [(place(change), change) for change in changes]
    placed.sort(key=lambda item: (item[0][0], item[0][1], -item[1].authored_at.timestamp()))
    return [change.model_copy(update={"role": where[2]}) for where, change in placed]
